// `northgate/testing`: a gateway in the test's process without sockets, for plugin authors
// and for Northgate's own tests.
export { createTestGateway } from './harness.js';
export type { TestConfig, TestGateway, TestGatewayOptions, TestRequest, TestResponse, TestUpstream, UpstreamHandler, UpstreamReply, UpstreamRequest } from './harness.js';
export { echoUpstream, runPlugin } from './run-plugin.js';
export type { RunPluginOptions, RunPluginResult } from './run-plugin.js';
