// The Gateway API translation suite on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/kubernetes-translate.test.js');
