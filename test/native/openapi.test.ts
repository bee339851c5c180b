// The OpenAPI suite on the native HTTP/1.1 engine (engine: native).
process.env['NORTHGATE_TEST_ENGINE'] = 'native';
await import('../e2e/openapi.test.js');
