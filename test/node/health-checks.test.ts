// The health-checks suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/health-checks.test.js');
