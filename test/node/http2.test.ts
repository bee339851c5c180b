// The http2 suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/http2.test.js');
