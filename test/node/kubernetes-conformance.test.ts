// The Gateway API conformance cases on the node:http engine (engine: node).
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/kubernetes-conformance.test.js');
