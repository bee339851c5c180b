// The request-mirror and fault-injection suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/traffic-mirror-faults.test.js');
