// The retry conditions and attempts suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/retry-conditions.test.js');
