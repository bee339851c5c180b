// Traces across a retry, received and decoded by a real local OTLP/HTTP receiver: one server
// span, one client span per upstream attempt (the first on a dead target, the second on a
// live one), parent ids right, the upstream's traceparent naming the second client span,
// HTTP semantic-convention attributes plus route, service and the authenticated consumer.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, test } from 'node:test';
import { startSpanCollector, type OtlpSpan } from '../helpers/otlp.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';


const SERVER = 2;
const CLIENT = 3;
const spans: OtlpSpan[] = [];
const arrivals = new EventEmitter();
let receiver: Upstream;
let echo: Upstream;
let deadPort: number;
let gw: CliGateway;

const attrs = (s: OtlpSpan): Record<string, unknown> =>
  Object.fromEntries(s.attributes.map((a) => [a.key, a.value['stringValue'] ?? (a.value['intValue'] === undefined ? a.value['doubleValue'] ?? a.value['boolValue'] : Number(a.value['intValue']))]));

before(async () => {
  receiver = await startSpanCollector(spans, arrivals);
  echo = await startEchoUpstream();
  const dead = await startUpstream(() => undefined);
  await dead.close();
  deadPort = dead.port;
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { fields: [request_id, trace_id, attempts, status] }
tracing: { endpoint: "${receiver.url}/v1/traces", sampling: { ratio: 1 }, flush_interval: 100ms }
consumers:
  - { username: alice, credentials: { key-auth: [{ key: "alice-key-0123456789" }] } }
upstreams:
  - name: pool
    healthcheck: { passive: { consecutive_failures: 0 } }
    targets: [{ url: "http://127.0.0.1:${deadPort}" }, { url: "${echo.url}" }]
services:
  - name: orders
    upstream: pool
    retries: { attempts: 2, on: [connect-failure] }
    plugins: { key-auth: {} }
    routes: [{ name: order, paths: ["/orders/:id"] }]
  - name: direct
    url: "${echo.url}"
    plugins: { key-auth: {} }
    routes: [{ name: direct, paths: ["/direct"] }]
`)]);
});
after(async () => {
  await gw?.stop();
  await echo.close();
  await receiver.close();
});

/** The trace's spans once its server span arrived (client spans end first, so they were exported no later). */
async function traceOf(traceId: string): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    if (spans.some((s) => s.traceId === traceId && s.kind === SERVER)) return spans.filter((s) => s.traceId === traceId);
    await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
  }
  throw new Error(`the server span of ${traceId} did not arrive`);
}

test('a retried request: one server span, a client span per attempt, parents and traceparent right', async () => {
  const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
  const incomingSpan = '00f067aa0ba902b7';
  const res = await http(`${gw.url}/orders/42?x=1`, { headers: { traceparent: `00-${traceId}-${incomingSpan}-01`, 'x-api-key': 'alice-key-0123456789' } });
  assert.equal(res.status, 200);
  const access = await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === res.headers['x-request-id']);
  assert.equal(access['attempts'], 2, 'the first attempt went to the dead target');
  assert.equal(access['trace_id'], traceId);

  const found = await traceOf(traceId);
  const servers = found.filter((s) => s.kind === SERVER);
  const clients = found.filter((s) => s.kind === CLIENT);
  assert.equal(servers.length, 1, JSON.stringify(found));
  assert.equal(clients.length, 2, JSON.stringify(found));
  const server = servers[0]!;
  assert.equal(server.parentSpanId, incomingSpan, 'the server span continues the client\'s trace');
  for (const c of clients) assert.equal(c.parentSpanId, server.spanId, 'each client span is a child of the server span');
  const failed = clients.find((c) => attrs(c)['server.port'] === deadPort);
  const ok = clients.find((c) => attrs(c)['server.port'] === echo.port);
  assert.ok(failed && ok, JSON.stringify(clients));

  const upstreamSaw = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['traceparent'];
  assert.equal(upstreamSaw, `00-${traceId}-${ok!.spanId}-01`, 'the upstream\'s parent is the client span of the attempt that reached it');

  assert.equal(server.name, 'GET /orders/:id');
  assert.deepEqual(
    Object.fromEntries(['http.request.method', 'url.path', 'url.scheme', 'server.address', 'client.address', 'http.route', 'http.response.status_code', 'northgate.route', 'northgate.service', 'northgate.consumer'].map((k) => [k, attrs(server)[k]])),
    {
      'http.request.method': 'GET',
      'url.path': '/orders/42',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'client.address': '127.0.0.1',
      'http.route': '/orders/:id',
      'http.response.status_code': 200,
      'northgate.route': 'order',
      'northgate.service': 'orders',
      'northgate.consumer': 'alice',
    },
  );
  assert.notEqual(server.status?.code, 2, 'the request succeeded');

  assert.equal(attrs(failed!)['server.port'], deadPort);
  assert.equal(attrs(failed!)['error.type'], 'ECONNREFUSED');
  assert.equal(failed!.status?.code, 2);
  assert.equal(attrs(failed!)['http.request.resend_count'], undefined, 'the first attempt is not a resend');
  assert.deepEqual(
    Object.fromEntries(['http.request.method', 'server.address', 'server.port', 'url.full', 'http.response.status_code', 'http.request.resend_count', 'northgate.upstream'].map((k) => [k, attrs(ok!)[k]])),
    {
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': echo.port,
      'url.full': `${echo.url}/orders/42?x=1`,
      'http.response.status_code': 200,
      'http.request.resend_count': 1,
      'northgate.upstream': 'pool',
    },
  );
});

test('root requests (no traceparent from the client): the upstream\'s traceparent names the client span of the attempt that reached it, first attempt or retry', async () => {
  // /direct reaches the echo upstream on its first attempt (the span id drawn with the trace's
  // ids); /orders goes to the dead target first and reaches echo on its retry (an id drawn then).
  const attempts: number[] = [];
  for (const path of ['/direct/0', '/orders/1']) {
    const res = await http(`${gw.url}${path}`, { headers: { 'x-api-key': 'alice-key-0123456789' } });
    assert.equal(res.status, 200);
    const access = await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === res.headers['x-request-id']);
    const traceId = access['trace_id'] as string;
    assert.match(traceId, /^[0-9a-f]{32}$/);
    attempts.push(access['attempts'] as number);
    const found = await traceOf(traceId);
    const server = found.find((s) => s.kind === SERVER)!;
    const clients = found.filter((s) => s.kind === CLIENT);
    assert.equal(server.parentSpanId, undefined, 'a root span has no parent');
    assert.equal(clients.length, access['attempts']);
    for (const c of clients) assert.equal(c.parentSpanId, server.spanId);
    assert.equal(new Set([server.spanId, ...clients.map((c) => c.spanId)]).size, clients.length + 1, 'span ids are distinct');
    const ok = clients.find((c) => attrs(c)['server.port'] === echo.port)!;
    const upstreamSaw = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['traceparent'];
    assert.equal(upstreamSaw, `00-${traceId}-${ok.spanId}-01`);
  }
  assert.deepEqual(attempts, [1, 2], 'one request on its first attempt, one on a retry');
});
