// The access-log suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/access-log.test.js');
