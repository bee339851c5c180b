// The two OTLP/HTTP encodings (tracing.protocol) against a real local receiver: two gateways,
// one exporting http/json and one http/protobuf (the default), get the same requests and
// their exports decode (test/helpers/otlp.ts: JSON.parse, protobufjs) to the same spans;
// text from the wire with bytes above 0x7f (a user agent) arrives as the same valid UTF-8 the
// access log has.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { exportedSpans, type OtlpSpan } from '../helpers/otlp.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream, DEAD_PORT } from '../helpers/servers.js';

const SERVER = 2;
const CLIENT = 3;
const PROTOCOLS = ['http/json', 'http/protobuf'] as const;
type Protocol = (typeof PROTOCOLS)[number];

/** Spans received per protocol (by the export path), and the content types seen. */
const received: Record<Protocol, OtlpSpan[]> = { 'http/json': [], 'http/protobuf': [] };
const contentTypes: Record<Protocol, Set<string>> = { 'http/json': new Set(), 'http/protobuf': new Set() };
const arrivals = new EventEmitter();
let receiver: Upstream;
let echo: Upstream;
let deadPort: number;
const gateways = new Map<Protocol, CliGateway>();

before(async () => {
  receiver = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const protocol: Protocol = req.url === '/json/v1/traces' ? 'http/json' : 'http/protobuf';
      contentTypes[protocol].add(String(req.headers['content-type']));
      received[protocol].push(...exportedSpans(req.headers['content-type'], Buffer.concat(chunks)));
      res.writeHead(200).end();
      arrivals.emit('spans');
    });
  });
  echo = await startEchoUpstream();
  deadPort = DEAD_PORT;
  for (const protocol of PROTOCOLS) {
    const path = protocol === 'http/json' ? '/json/v1/traces' : '/proto/v1/traces';
    // http/protobuf is the default: that gateway's config does not name it.
    const setting = protocol === 'http/json' ? 'protocol: http/json, ' : '';
    const gw = await startCli([
      '--config',
      writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { fields: [request_id, trace_id, path, user_agent, attempts] }
tracing: { endpoint: "${receiver.url}${path}", ${setting}sampling: { ratio: 1 }, flush_interval: 50ms }
upstreams:
  - name: pool
    healthcheck: { passive: { consecutive_failures: 0 } }
    targets: [{ url: "http://127.0.0.1:${deadPort}" }, { url: "${echo.url}" }]
services:
  - name: orders
    upstream: pool
    retries: { attempts: 2, on: [connect-failure] }
    routes: [{ name: order, paths: ["/orders/:id"] }, { name: any, paths: ["/"] }]
`),
    ]);
    gateways.set(protocol, gw);
  }
});
after(async () => {
  for (const gw of gateways.values()) await gw.stop();
  await echo?.close();
  await receiver?.close();
});

/** A trace's spans once its server span arrived (client spans end first). */
async function traceOf(protocol: Protocol, traceId: string): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    const mine = received[protocol].filter((s) => s.traceId === traceId);
    if (mine.some((s) => s.kind === SERVER)) return mine;
    await Promise.race([once(arrivals, 'spans'), new Promise((r) => setTimeout(r, 200))]);
  }
  throw new Error(`the server span of ${traceId} (${protocol}) did not arrive`);
}

const attrs = (s: OtlpSpan): Record<string, unknown> => Object.fromEntries(s.attributes.map((a) => [a.key, a.value['stringValue'] ?? a.value['intValue']]));
const resends = (s: OtlpSpan): number => Number(attrs(s)['http.request.resend_count'] ?? 0);

test('http/json and http/protobuf exports decode to the same spans: parents across a retry, names, kinds, attributes, status', async () => {
  const incoming = '00f067aa0ba902b7';
  const shapes: unknown[] = [];
  for (const [i, protocol] of PROTOCOLS.entries()) {
    const traceId = `${i}bf92f3577b34da6a3ce929d0e0e4736`;
    const gw = gateways.get(protocol)!;
    const res = await http(`${gw.url}/orders/42?x=1`, { headers: { traceparent: `00-${traceId}-${incoming}-01`, tracestate: 'vendor=x', 'user-agent': 'probe/1.0' } });
    assert.equal(res.status, 200);
    const found = await traceOf(protocol, traceId);
    const server = found.find((s) => s.kind === SERVER)!;
    const clients = found.filter((s) => s.kind === CLIENT).sort((a, b) => resends(a) - resends(b));
    assert.equal(found.length, 3, JSON.stringify(found));
    assert.equal(clients.length, 2, 'a client span per attempt');
    assert.equal(server.parentSpanId, incoming);
    for (const c of clients) assert.equal(c.parentSpanId, server.spanId, `${protocol}: each attempt is a child of the server span`);
    const upstreamSaw = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['traceparent'];
    assert.equal(upstreamSaw, `00-${traceId}-${clients[1]!.spanId}-01`);
    for (const s of found) {
      assert.match(s.spanId, /^[0-9a-f]{16}$/);
      assert.match(s.startTimeUnixNano, /^\d{19}$/);
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), 'ends after it starts');
      assert.ok(Math.abs(Number(BigInt(s.startTimeUnixNano) / 1_000_000n) - Date.now()) < 60_000, 'times are Unix nanoseconds of now');
      assert.equal(s.traceState, 'vendor=x');
    }
    // What must agree between the encodings: everything but the ids and times of this run.
    // Attributes are a map: each encoder may write them in its own order.
    const shape = (s: OtlpSpan) => ({ name: s.name, kind: s.kind, status: s.status?.code ?? 0, attributes: [...s.attributes].sort((a, b) => (a.key < b.key ? -1 : 1)) });
    shapes.push([server, ...clients].map(shape));
  }
  assert.deepEqual(shapes[1], shapes[0]);
  const [server, failed, ok] = shapes[1] as Array<{ name: string; status: number; attributes: Array<{ key: string }> }>;
  assert.equal(server!.name, 'GET /orders/:id');
  assert.equal(failed!.status, 2);
  assert.equal(ok!.status, 0);
  assert.ok(ok!.attributes.some((a) => a.key === 'http.request.resend_count'));
  assert.deepEqual([...contentTypes['http/json']], ['application/json']);
  assert.deepEqual([...contentTypes['http/protobuf']], ['application/x-protobuf']);
});

/** Sends raw request bytes and resolves with the raw response once the server closes. */
function rawBytes(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

test('a protobuf export carries a non-ASCII user agent as valid UTF-8, matching the access log', async () => {
  const gw = gateways.get('http/protobuf')!;
  const traceId = 'abf92f3577b34da6a3ce929d0e0e4736';
  const head = Buffer.concat([
    // Raw bytes above 0x7f in the request target are refused by the HTTP parser: the path is percent-encoded (and stays so); header values may carry them.
    Buffer.from(`GET /caf%C3%A9/%E2%9C%93 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: utf8-1\r\ntraceparent: 00-${traceId}-00f067aa0ba902b7-01\r\nConnection: close\r\nUser-Agent: b`, 'latin1'),
    // Valid UTF-8, then a byte that is not UTF-8 (U+FFFD in both the log and the span).
    Buffer.from('øt ✓ ', 'utf8'),
    Buffer.from([0xff]),
    Buffer.from('\r\n\r\n', 'latin1'),
  ]);
  const raw = await rawBytes(gw.port, head);
  assert.match(raw, /^HTTP\/1\.1 200 /);
  const line = await gw.waitFor((l) => l['request_id'] === 'utf8-1');
  assert.equal(line['path'], '/caf%C3%A9/%E2%9C%93');
  assert.equal(line['user_agent'], 'bøt ✓ \ufffd');
  const server = (await traceOf('http/protobuf', traceId)).find((s) => s.kind === SERVER)!;
  assert.equal(attrs(server)['url.path'], line['path']);
  assert.equal(attrs(server)['user_agent.original'], line['user_agent']);
  const client = received['http/protobuf'].find((s) => s.traceId === traceId && s.kind === CLIENT && attrs(s)['http.response.status_code'] === 200)!;
  assert.equal(attrs(client)['url.full'], `${echo.url}/caf%C3%A9/%E2%9C%93`);
});
