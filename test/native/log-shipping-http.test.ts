// The http log sink suite on the native HTTP/1.1 engine (engine: native).
process.env['NORTHGATE_TEST_ENGINE'] = 'native';
await import('../e2e/log-shipping-http.test.js');
