// The http log sink against real local receivers: every request's record (consumer,
// credential, route, service, status, sizes, latencies, trace id) reaches the global sink,
// gzip'd JSON lines with the configured headers; a sink named by a service or a route gets
// only their requests, as JSON arrays; credentials are redacted as in the access log; the
// sink's secret header never reaches the gateway's own log; HTTP/2 requests ship the same;
// on SIGTERM what is queued is sent before the process exits.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { after, before, test } from 'node:test';
import { eventually, sinkCounts, startLogReceiver, type LogReceiver } from '../helpers/log-receiver.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const TOKEN = 'sink-token-3b1f9e0c7d2a';
const KEY = 'alice-secret-key-0123456789';
let echo: Upstream;
let analytics: LogReceiver;
let audit: LogReceiver;
let gw: CliGateway;

before(async () => {
  echo = await startEchoUpstream();
  analytics = await startLogReceiver();
  audit = await startLogReceiver();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: "127.0.0.1:0" }
access_log: { enabled: false }
consumers:
  - { username: alice, credentials: { key-auth: [{ id: alice-key-1, key: "${KEY}" }] } }
log_sinks:
  - name: analytics
    type: http
    url: "${analytics.url}/ingest?source=northgate"
    headers: { authorization: "Bearer \${SINK_TOKEN}" }
    gzip: true
    fields: [request_id, trace_id, http_version, method, path, query, status, route, service, consumer, credential, bytes_in, bytes_out, duration_ms, upstream_ms, req.h.apikey]
    batch: { max_events: 5, interval: 100ms }
  - name: audit
    type: http
    global: false
    format: json_array
    url: "${audit.url}/"
    fields: [path, route, service, status]
    batch: { max_events: 3, interval: 100ms }
services:
  - name: orders
    url: "${echo.url}"
    plugins: { key-auth: {} }
    routes:
      - { name: order, paths: ["/orders"] }
      - { name: order-audited, paths: ["/orders/audited"], log_sinks: [audit] }
  - name: public
    url: "${echo.url}"
    log_sinks: [audit]
    routes: [{ name: public, paths: ["/public"] }]
`)], { SINK_TOKEN: TOKEN });
});
after(async () => {
  await gw?.stop();
  await echo.close();
  await analytics.close();
  await audit.close();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

test('records reach the global sink and the sinks services and routes name; fields, redaction, headers, gzip, HTTP/2', async () => {
  for (let i = 0; i < 6; i++) {
    const headers: Record<string, string> = { apikey: KEY };
    if (i === 0) headers['traceparent'] = `00-${TRACE}-00f067aa0ba902b7-01`;
    assert.equal((await http(`${gw.url}/orders?access_token=t0ken&x=${i}`, { method: 'POST', headers, body: 'abcd' })).status, 200);
  }
  for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.url}/orders/audited`, { headers: { apikey: KEY } })).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.url}/public`)).status, 200);
  assert.equal((await http(`${gw.url}/nowhere`)).status, 404);
  assert.equal((await http(`${gw.url}/orders`)).status, 401);
  // One request over h2c (prior knowledge) to a route both sinks get.
  const session = connect(gw.url);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/public', ':method': 'GET' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    assert.equal(status, 200);
  } finally {
    session.close();
  }

  const shipped = await analytics.records(13);
  assert.equal(shipped.length, 13, 'every request, matched or not, reaches the global sink once');
  const orders = shipped.filter((r) => r['route'] === 'order');
  assert.equal(orders.length, 7);
  const ok = orders.filter((r) => r['status'] === 200);
  assert.equal(ok.length, 6);
  for (const r of ok) {
    assert.equal(r['consumer'], 'alice');
    assert.equal(r['credential'], 'alice-key-1');
    assert.equal(r['service'], 'orders');
    assert.equal(r['method'], 'POST');
    assert.equal(r['bytes_in'], 4);
    assert.ok((r['bytes_out'] as number) > 0);
    assert.equal(typeof r['duration_ms'], 'number');
    assert.equal(typeof r['upstream_ms'], 'number');
    assert.equal(r['req.h.apikey'], '[redacted]');
    assert.match(String(r['query']), /^access_token=\[redacted\]&x=\d$/);
    assert.equal(typeof r['request_id'], 'string');
  }
  assert.equal(ok.filter((r) => r['trace_id'] === TRACE).length, 1, 'the incoming traceparent names the trace');
  const refused = orders.find((r) => r['status'] === 401)!;
  assert.equal(refused['consumer'], null);
  assert.equal(refused['credential'], null);
  assert.ok(!JSON.stringify(shipped).includes(KEY) && !JSON.stringify(shipped).includes('t0ken'), 'no credential is shipped');
  const unmatched = shipped.find((r) => r['status'] === 404)!;
  assert.equal(unmatched['route'], null);
  assert.equal(shipped.filter((r) => r['http_version'] === '2.0').length, 1);

  for (const post of analytics.accepted) {
    assert.equal(post.headers['authorization'], `Bearer ${TOKEN}`);
    assert.equal(post.headers['content-encoding'], 'gzip');
    assert.equal(post.headers['content-type'], 'application/x-ndjson');
    assert.ok(post.records.length <= 5, 'batches of at most max_events');
  }

  const audited = await audit.records(5);
  assert.deepEqual(audited.map((r) => r['route']).sort(), ['order-audited', 'order-audited', 'public', 'public', 'public']);
  for (const post of audit.accepted) {
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers['authorization'], undefined);
  }
  const counts = await eventually(() => sinkCounts(gw.statusPort!, 'analytics'), (c) => c.sent === 13);
  assert.deepEqual(counts, { sent: 13, queueFull: 0, rejected: 0, shutdown: 0, failed: 0, retried: 0, queued: 0 });
  assert.equal((await sinkCounts(gw.statusPort!, 'audit')).sent, 5);
  assert.ok(!gw.lines.some((l) => JSON.stringify(l).includes(TOKEN)), 'the sink token is never logged');
});

test('SIGTERM sends what is queued before the process exits', async () => {
  const receiver = await startLogReceiver();
  const g = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
shutdown: { drain_timeout: 5s }
log_sinks:
  - { name: late, type: http, url: "${receiver.url}/", batch: { max_events: 100, interval: 1h } }
services:
  - { name: s, url: "${echo.url}", routes: [{ name: r, paths: ["/"] }] }
`)]);
  try {
    for (let i = 0; i < 7; i++) assert.equal((await http(`${g.url}/x${i}`)).status, 200);
    assert.equal(receiver.posts, 0, 'nothing sent before the batch is full or the interval passed');
    assert.equal(await g.stop('SIGTERM'), 0);
    const records = receiver.accepted.flatMap((p) => p.records);
    assert.deepEqual(records.map((r) => r['path']), ['/x0', '/x1', '/x2', '/x3', '/x4', '/x5', '/x6']);
  } finally {
    await g.stop('SIGKILL');
    await receiver.close();
  }
});

test('--workers 2: each worker ships its own requests; the master sums the counts', async () => {
  const receiver = await startLogReceiver();
  const g = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
log_sinks:
  - { name: all, type: http, url: "${receiver.url}/", fields: [pid, path], batch: { max_events: 5, interval: 100ms } }
services:
  - { name: s, url: "${echo.url}", routes: [{ name: r, paths: ["/"] }] }
`), '--workers', '2']);
  try {
    // New connections each time, so that both workers get some.
    for (let i = 0; i < 30; i++) assert.equal((await http(`${g.url}/w${i}`, { headers: { connection: 'close' } })).status, 200);
    const records = await receiver.records(30);
    assert.equal(records.length, 30);
    assert.equal(new Set(records.map((r) => r['path'])).size, 30, 'each request once');
    const c = await eventually(() => sinkCounts(g.statusPort!, 'all'), (c) => c.sent === 30);
    assert.equal(c.sent, 30);
    assert.equal(c.queued, 0);
  } finally {
    await g.stop();
    await receiver.close();
  }
});
