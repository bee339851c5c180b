// OpenTelemetry traces exported over OTLP/HTTP to a real local receiver: the server span
// continues the client's trace, the client span is its child, and the upstream receives
// the client span as its parent in `traceparent`.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, test } from 'node:test';
import { exportedSpans, type OtlpSpan } from '../helpers/otlp.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';


const spans: OtlpSpan[] = [];
const arrivals = new EventEmitter();
let receiver: Upstream;
let echo: Upstream;
let gw: CliGateway;

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : (v['stringValue'] ?? v['intValue'] ?? v['doubleValue'] ?? v['boolValue']);
};

async function spansOf(traceId: string, count: number): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    const found = spans.filter((s) => s.traceId === traceId);
    if (found.length >= count) return found;
    await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
  }
  throw new Error(`spans of ${traceId} did not arrive: ${JSON.stringify(spans.map((s) => s.traceId))}`);
}

before(async () => {
  receiver = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      spans.push(...exportedSpans(req.headers['content-type'], Buffer.concat(chunks)));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      arrivals.emit('spans');
    });
  });
  echo = await startEchoUpstream();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
tracing: { endpoint: "${receiver.url}/v1/traces", service_name: gw-test, sampling: { ratio: 1 }, flush_interval: 100ms }
services:
  - name: echo
    url: "${echo.url}"
    routes: [{ name: orders, paths: ["/orders/:id"] }]
  - name: down
    url: "http://127.0.0.1:9"
    routes: [{ name: down, paths: ["/down"] }]
`)]);
});
after(async () => {
  await gw.stop();
  await echo.close();
  await receiver.close();
});

test('the client\'s trace continues through the gateway to the upstream', async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const clientSpan = '00f067aa0ba902b7';
  const res = await http(`${gw.url}/orders/7`, { headers: { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'vendor=x' } });
  assert.equal(res.status, 200);
  const upstreamSaw = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(upstreamSaw['traceparent'] ?? '');
  assert.ok(m, `traceparent sent upstream: ${upstreamSaw['traceparent']}`);
  assert.equal(m[1], traceId);
  assert.equal(upstreamSaw['tracestate'], 'vendor=x');

  const found = await spansOf(traceId, 2);
  const server = found.find((s) => s.kind === 2)!;
  const client = found.find((s) => s.kind === 3)!;
  assert.ok(server && client, JSON.stringify(found));
  assert.equal(server.parentSpanId, clientSpan);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(m[2], client.spanId, 'the upstream\'s parent is the client span');
  assert.equal(server.name, 'GET /orders/:id');
  assert.equal(attr(server, 'http.route'), '/orders/:id');
  assert.equal(attr(server, 'northgate.service'), 'echo');
  assert.equal(String(attr(server, 'http.response.status_code')), '200');
  assert.equal(String(attr(client, 'http.response.status_code')), '200');
  assert.equal(attr(client, 'url.full'), `${echo.url}/orders/7`);
});

test('a request without trace context starts a new trace; a failed upstream attempt is an error span', async () => {
  const res = await http(`${gw.url}/down`);
  assert.equal(res.status, 502);
  for (let i = 0; i < 50 && spans.filter((s) => attr(s, 'northgate.route') === 'down').length === 0; i++) await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
  const server = spans.find((s) => attr(s, 'northgate.route') === 'down')!;
  assert.ok(server, 'server span exported');
  assert.equal(server.parentSpanId ?? '', '');
  const client = (await spansOf(server.traceId, 2)).find((s) => s.kind === 3)!;
  assert.equal(client.status?.code, 2, 'status ERROR');
  assert.equal(attr(client, 'error.type'), 'ECONNREFUSED');
  assert.equal(server.status?.code, 2);
});
