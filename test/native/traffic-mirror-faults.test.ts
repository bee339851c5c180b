// The request-mirror and fault-injection suite on the native HTTP/1.1 engine (engine: native).
process.env['NORTHGATE_TEST_ENGINE'] = 'native';
await import('../e2e/traffic-mirror-faults.test.js');
