// The request-mirror upstream and copy-client suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/traffic-mirror-upstream.test.js');
