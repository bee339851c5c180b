// Sampled-out requests (ratio 0): the gateway only propagates trace context — the upstream
// gets the client's trace id with a new parent id and flag 00 (or a new trace, flag 00, for a
// request without one), and nothing is exported; a client's sampled parent is still followed
// (parent-based), so its spans are exported.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { after, before, test } from 'node:test';
import { startSpanCollector, type OtlpSpan } from '../helpers/otlp.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const spans: OtlpSpan[] = [];
const arrivals = new EventEmitter();
let collector: Upstream;
let echo: Upstream;
let gw: CliGateway;

before(async () => {
  collector = await startSpanCollector(spans, arrivals);
  echo = await startEchoUpstream();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { fields: [request_id, trace_id] }
tracing: { endpoint: "${collector.url}/v1/traces", sampling: { ratio: 0 }, flush_interval: 50ms }
services:
  - { name: echo, url: "${echo.url}", routes: [{ name: any, paths: ["/"] }] }
`)]);
});
after(async () => {
  await gw?.stop();
  await echo.close();
  await collector.close();
});

const upstreamTraceparent = (body: string): string => (JSON.parse(body) as { headers: Record<string, string> }).headers['traceparent'] ?? '';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

test('sampled out: the upstream gets the trace id with a new parent id and flag 00; the access log has the trace id', async () => {
  const res = await http(`${gw.url}/x`, { headers: { traceparent: `00-${TRACE}-${PARENT}-00`, 'x-request-id': 'out-1' } });
  assert.equal(res.status, 200);
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(upstreamTraceparent(res.body));
  assert.ok(m, upstreamTraceparent(res.body));
  assert.equal(m[1], TRACE);
  assert.notEqual(m[2], PARENT, 'a new parent id for the hop');
  assert.notEqual(m[2], '0000000000000000');
  const line = await gw.waitFor((l) => l['request_id'] === 'out-1');
  assert.equal(line['trace_id'], TRACE);
});

test('sampled out without trace context: a new trace is propagated with flag 00, ids differ per request', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const res = await http(`${gw.url}/y`, { headers: { 'x-request-id': `root-${i}` } });
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(upstreamTraceparent(res.body));
    assert.ok(m, upstreamTraceparent(res.body));
    seen.add(m[1]!);
    const line = await gw.waitFor((l) => l['request_id'] === `root-${i}`);
    assert.equal(line['trace_id'], m[1]);
  }
  assert.equal(seen.size, 3);
});

test('a sampled parent is followed at ratio 0 (parent-based); sampled-out requests export nothing', async () => {
  const sampledTrace = '5bf92f3577b34da6a3ce929d0e0e4736';
  const res = await http(`${gw.url}/z`, { headers: { traceparent: `00-${sampledTrace}-${PARENT}-01` } });
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(upstreamTraceparent(res.body));
  assert.ok(m, upstreamTraceparent(res.body));
  for (let i = 0; i < 50 && spans.filter((s) => s.traceId === sampledTrace).length < 2; i++) await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
  const mine = spans.filter((s) => s.traceId === sampledTrace);
  assert.equal(mine.length, 2);
  const server = mine.find((s) => s.kind === 2)!;
  const client = mine.find((s) => s.kind === 3)!;
  assert.equal(server.parentSpanId, PARENT);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.spanId, m[2]);
  // The earlier sampled-out requests were exported before or with this one, if at all.
  assert.deepEqual(spans.filter((s) => s.traceId !== sampledTrace), []);
});
