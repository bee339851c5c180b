// The Kubernetes run modes' Gateway listeners on the node:http engine (engine: node); what
// involves no HTTP/1.1 engine in that file runs once, in test/e2e/.
process.env['NORTHGATE_TEST_ENGINE'] = 'node';
await import('../e2e/kubernetes-run.test.js');
