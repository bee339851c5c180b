// Records copied from the access line, on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/log-shipping-access-line.test.js');
