// The exporter's bounded queue (spans beyond it dropped and counted, the rest exported once
// the collector answers) against a real local HTTP collector; the OTLP/JSON byte writer
// (escaping, UTF-8, text from the wire, integers); the same span records exported as JSON
// and as protobuf decoding to the same spans; the protobuf writer's varints, times and
// lengths; the `tracing.protocol` setting.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { buildSnapshot, loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import type { RouteEntry } from '../../src/proxy/route.js';
import type { Target } from '../../src/upstream/target.js';
import { JsonBytes } from '../../src/observability/otlp-json.js';
import { ProtoBytes, varintSize } from '../../src/observability/otlp-proto.js';
import { SpanExporter, type OtlpProtocol } from '../../src/observability/span-export.js';
import { ClientSpan, ServerSpan, type SpanRecord } from '../../src/observability/span-record.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';
import { decodeExport, exportedSpans, type OtlpSpan } from '../helpers/otlp.js';

/** A stand-in span record: writes {"spanId":"N"} (JSON) or a Span with just its name "N" (protobuf). */
const record = (n: number): SpanRecord => ({
  write(w) {
    w.ascii(`{"spanId":"${n}"}`);
  },
  encode(w) {
    w.asciiField(0x2a, String(n));
  },
});

test('the queue holds 4096 spans: more are dropped and counted; the held ones are exported once the collector answers', async () => {
  const held: Array<{ req: IncomingMessage; res: ServerResponse; body: string }> = [];
  let release = false;
  let received = 0;
  const answer = (h: { res: ServerResponse; body: string }) => {
    received += (JSON.parse(h.body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: unknown[] }> }> }).resourceSpans[0]!.scopeSpans[0]!.spans.length;
    h.res.writeHead(200).end('{}');
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = { req, res, body: Buffer.concat(chunks).toString() };
      if (release) answer(h);
      else {
        held.push(h);
        server.emit('held');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const exporter = new SpanExporter({ endpoint: `http://127.0.0.1:${port}/v1/traces`, protocol: 'http/json', serviceName: 't', headers: {}, flushIntervalMs: 60_000 }, null);
  try {
    for (let i = 0; i < 5000; i++) exporter.add(record(i));
    assert.equal(exporter.dropped, 5000 - 4096);
    assert.equal(exporter.queued, 4096);
    // Two exports go out (the in-flight limit) and the collector holds them.
    for (let i = 0; i < 10 && held.length < 2; i++) await once(server, 'held');
    assert.equal(exporter.queued, 4096 - 2 * 512);
    exporter.add(record(5000));
    assert.equal(exporter.queued, 4096 - 2 * 512 + 1, 'room again once batches left the queue');
    release = true;
    for (const h of held.splice(0)) answer(h);
    await exporter.shutdown();
    assert.equal(exporter.exported, 4097);
    assert.equal(received, 4097);
    assert.equal(exporter.dropped, 904);
  } finally {
    server.close();
  }
});

const written = (fn: (w: JsonBytes) => void, size?: number): string => {
  const w = new JsonBytes(size);
  fn(w);
  return w.bytes.toString('utf8');
};

test('text is written as JSON strings: escapes, UTF-8, surrogate pairs, lone surrogates as U+FFFD', () => {
  for (const s of ['plain', 'quote " and \\ backslash', 'ctl \n\r\t\u0001\u001f\u007f', 'é ünïcode – ✓', 'emoji 😀 pair', '']) {
    assert.equal(JSON.parse(written((w) => w.text(s), 4)), s, s);
  }
  assert.equal(JSON.parse(written((w) => w.text('lone \ud800 surrogate'))), 'lone \ufffd surrogate');
  // Growing the buffer in the middle of escapes keeps what was written.
  const long = '"\n'.repeat(5000);
  assert.equal(JSON.parse(written((w) => w.text(long), 16)), long);
});

test('text from the wire (latin1-read bytes) is read back as UTF-8 and escaped like the access log', () => {
  const wireUtf8 = Buffer.from('/caf\u00e9/\u2713', 'utf8').toString('latin1');
  assert.equal(JSON.parse(written((w) => w.wire(wireUtf8))), '/caf\u00e9/\u2713');
  assert.equal(JSON.parse(written((w) => w.wire('/a"b\\c'))), '/a"b\\c');
  assert.equal(JSON.parse(written((w) => w.wire('/plain?x=1'), 2)), '/plain?x=1');
  assert.equal((JSON.parse(written((w) => w.wire('x'.repeat(5000)))) as string).length, 2049, 'cut at 2048 chars plus an ellipsis');
});

test('integers are written in decimal', () => {
  for (const n of [0, 7, 10, 99, 200, 65535, 99_999_999, 100_000_000, 100_000_001, 123_456_789, 1_764_217_234_000_056, 2 ** 53 - 1]) assert.equal(written((w) => w.uint(n), 2), String(n));
});

/** Exports `records` with `protocol` to a local collector; resolves with the decoded spans and the content type. */
async function exportVia(protocol: OtlpProtocol, records: SpanRecord[]): Promise<{ spans: OtlpSpan[]; contentType: string; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  let contentType = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentType = String(req.headers['content-type']);
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const exporter = new SpanExporter({ endpoint: `http://127.0.0.1:${port}/v1/traces`, protocol, serviceName: 'svc-é', headers: {}, flushIntervalMs: 60_000 }, null);
  try {
    for (const r of records) exporter.add(r);
    await exporter.shutdown();
    assert.equal(exporter.exported, records.length);
    return { spans: bodies.flatMap((b) => exportedSpans(contentType, b)), contentType, bodies };
  } finally {
    server.close();
  }
}

const entry = { pattern: { text: '/orders/:id/ü' }, route: { name: 'order', service: { name: 'orders' } } } as unknown as RouteEntry;
const target = { hostname: '127.0.0.1', port: 8080, origin: 'http://127.0.0.1:8080' } as unknown as Target;
/** Text as node:http hands it over: UTF-8 bytes read as latin1. */
const fromWire = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('latin1');

/** Two kept-alive client connections the requests below take turns on (HTTP/2 ones have none). */
const connections = [{}, {}];

/** A server span and its attempts, with every optional part set differently per request. */
function spans(i: number): SpanRecord[] {
  const server = ServerSpan.fromHex(
    `4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, '0')}`,
    i % 2 === 0 ? '00f067aa0ba902b7' : '',
    i % 3 === 0 ? 'vendor=x,other=ÿ' : undefined,
    `a1b2c3d4e5f6a7${String(i).padStart(2, '0')}`,
    `0102030405060a${String(i).padStart(2, '0')}`,
  );
  const start = performance.now() + i * 1.0005;
  const client = new ClientSpan(server, 'POST', target, 'pool', `/o/${i}?q=ä`, i % 2, i % 4 === 0 ? 0 : 503, i % 4 === 0 ? 'ECONNREFUSED' : '503', start + 0.25, start + 3.1234567);
  server.method = i % 5 === 0 ? 'OPTIONS' : 'GET';
  server.path = i === 1 ? fromWire(Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xc3, 0xa9, 0x2f, 0xff])) : `/orders/${i}/${fromWire('ü')}`;
  server.scheme = 'https';
  server.host = i === 2 ? fromWire('bücher.example') : 'api.example';
  server.clientIp = '10.0.0.1';
  server.peer = '::1';
  server.httpVersion = '1.1';
  server.userAgent = i === 3 ? 'u'.repeat(5000) : i % 2 === 0 ? fromWire('bøt ✓ "quoted" \\ \t') : undefined;
  server.entry = i % 7 === 6 ? null : entry;
  // Kept blocks are reused and replaced across the batch: they must write what the JSON writer writes.
  server.connection = i % 6 === 5 ? null : connections[i % 2]!;
  server.consumer = i === 4 ? 'ålice 😀 \ud800' : i === 5 ? 'c'.repeat(20_000) : null;
  server.status = [200, 502, 0, 404][i % 4]!;
  server.errorType = server.status === 0 ? 'client-closed' : server.status >= 500 ? String(server.status) : null;
  server.start = start;
  server.end = start + 5.000001 + i;
  return [client, server];
}

test('http/json and http/protobuf carry the same spans: ids, parents, names, kinds, attributes, status, times', async () => {
  const records = Array.from({ length: 600 }, (_, i) => spans(i % 12)).flat();
  const json = await exportVia('http/json', records);
  const proto = await exportVia('http/protobuf', records);
  assert.equal(json.contentType, 'application/json');
  assert.equal(proto.contentType, 'application/x-protobuf');
  assert.equal(proto.bodies.length, 3, '1200 spans in batches of 512');
  assert.equal(proto.spans.length, records.length);
  // proto3 leaves an empty string out: JSON's "" trace state is no field in protobuf.
  // Attributes are a map: each encoder may write them in its own order.
  const normal = (s: OtlpSpan) => ({ ...s, traceState: s.traceState === '' ? undefined : s.traceState, attributes: [...s.attributes].sort((a, b) => (a.key < b.key ? -1 : 1)) });
  // Batches are exported concurrently, so the collector may receive them in either order.
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v;
  const sorted = (list: OtlpSpan[]) => list.map((s) => JSON.stringify(canonical(normal(s)))).sort();
  assert.deepEqual(sorted(proto.spans), sorted(json.spans));
  const server = proto.spans.find((s) => s.traceId.endsWith('01') && s.kind === 2)!;
  assert.equal(attr(server, 'url.path'), '/café/\ufffd', 'wire bytes read back as UTF-8, invalid ones as U+FFFD');
  const long = proto.spans.find((s) => s.traceId.endsWith('05') && s.kind === 2)!;
  assert.equal((attr(long, 'northgate.consumer') as string).length, 20_000, 'a span over 16 KB (a 3-byte length)');
  const decode = (b: Buffer) => decodeExport('application/x-protobuf', b).resourceSpans[0]!;
  assert.deepEqual(decode(proto.bodies[0]!).resource!.attributes.slice(0, 1), [{ key: 'service.name', value: { stringValue: 'svc-é' } }]);
  assert.deepEqual(decode(proto.bodies[0]!).scopeSpans[0]!.scope, { name: 'northgate' });
  assert.deepEqual(decodeExport('application/x-protobuf', proto.bodies[0]!).resourceSpans[0]!.resource, JSON.parse(json.bodies[0]!.toString()).resourceSpans[0].resource);
});

const attr = (s: OtlpSpan, key: string): unknown => s.attributes.find((a) => a.key === key)?.value['stringValue'];

test("a connection's constant attributes are reused only while they are equal; a changed one is written anew", async () => {
  const connection = {};
  const other = {};
  const server = (i: number, conn: object | null, userAgent: string | undefined, clientIp: string, host: string, more: Partial<ServerSpan> = {}): ServerSpan => {
    const s = ServerSpan.fromHex(`4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, '0')}`, '', undefined, 'a1b2c3d4e5f6a701', '0102030405060a01');
    Object.assign(s, { method: 'GET', path: `/p/${i}`, scheme: 'http', host, clientIp, peer: '127.0.0.1', httpVersion: '1.1', userAgent, connection: conn, entry, status: 200, start: 1, end: 2 }, more);
    return s;
  };
  const records = [
    server(0, connection, 'curl/8', '10.0.0.1', 'api.example'),
    server(1, connection, 'curl/8', '10.0.0.1', 'api.example'),
    server(2, connection, 'other/1', '10.0.0.1', 'api.example'),
    server(3, connection, undefined, '10.0.0.1', 'api.example'),
    server(4, connection, undefined, '10.0.0.2', fromWire('bücher.example')),
    server(5, other, 'curl/8', '10.0.0.3', 'api.example'),
    server(6, connection, undefined, '10.0.0.2', fromWire('bücher.example')),
    server(7, connection, undefined, '10.0.0.2', fromWire('bücher.example'), { scheme: 'https' }),
    server(8, connection, undefined, '10.0.0.2', fromWire('bücher.example'), { scheme: 'https', peer: '::1' }),
    server(9, connection, undefined, '10.0.0.2', fromWire('bücher.example'), { scheme: 'https', peer: '::1', httpVersion: '1.0' }),
  ];
  const { spans } = await exportVia('http/protobuf', records);
  const byTrace = (i: number) => spans.find((s) => s.traceId.endsWith(String(i).padStart(2, '0')))!;
  const seen = [0, 1, 2, 3, 4, 5, 6].map((i) => [attr(byTrace(i), 'user_agent.original'), attr(byTrace(i), 'client.address'), attr(byTrace(i), 'server.address'), attr(byTrace(i), 'url.path')]);
  const more = [7, 8, 9].map((i) => ['url.scheme', 'network.peer.address', 'network.protocol.version'].map((k) => attr(byTrace(i), k)));
  assert.deepEqual(more, [
    ['https', '127.0.0.1', '1.1'],
    ['https', '::1', '1.1'],
    ['https', '::1', '1.0'],
  ]);
  assert.deepEqual(seen, [
    ['curl/8', '10.0.0.1', 'api.example', '/p/0'],
    ['curl/8', '10.0.0.1', 'api.example', '/p/1'],
    ['other/1', '10.0.0.1', 'api.example', '/p/2'],
    [undefined, '10.0.0.1', 'api.example', '/p/3'],
    [undefined, '10.0.0.2', 'bücher.example', '/p/4'],
    ['curl/8', '10.0.0.3', 'api.example', '/p/5'],
    [undefined, '10.0.0.2', 'bücher.example', '/p/6'],
  ]);
  // Every span has its attributes once each.
  for (const s of spans) assert.equal(new Set(s.attributes.map((a) => a.key)).size, s.attributes.length);
});

test("a connection's and a target's last attribute block is reused only for the same route, method and status", async () => {
  const connection = {};
  const other = { pattern: { text: '/other' }, route: { name: 'other', service: { name: 'others' } } } as unknown as RouteEntry;
  const second = { hostname: '10.1.1.1', port: 9090, origin: 'http://10.1.1.1:9090' } as unknown as Target;
  const request = (i: number, more: Partial<ServerSpan>, method: string, status: number, to: Target): SpanRecord[] => {
    const s = ServerSpan.fromHex(`4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, '0')}`, '', undefined, 'a1b2c3d4e5f6a701', '0102030405060a01');
    Object.assign(s, { method, path: `/p/${i}`, scheme: 'http', host: 'api.example', clientIp: '10.0.0.1', peer: '127.0.0.1', httpVersion: '1.1', userAgent: 'curl/8', connection, entry, status, start: 1, end: 2 }, more);
    return [new ClientSpan(s, method, to, 'pool', `/u/${i}`, 0, status, null, 1.1, 1.9), s];
  };
  const records = [
    request(0, {}, 'GET', 200, target),
    request(1, {}, 'GET', 200, target),
    request(2, { entry: other }, 'GET', 200, target),
    request(3, { entry: other }, 'POST', 200, target),
    request(4, { entry: other }, 'POST', 404, second),
    request(5, { entry: null }, 'POST', 404, second),
    request(6, { entry: null, status: 0, errorType: 'client-closed' }, 'POST', 0, second),
    request(7, {}, 'GET', 200, target),
  ].flat();
  const { spans } = await exportVia('http/protobuf', records);
  const of = (i: number, kind: number) => spans.find((s) => s.traceId.endsWith(String(i).padStart(2, '0')) && s.kind === kind)!;
  const intAttr = (s: OtlpSpan, key: string): unknown => s.attributes.find((a) => a.key === key)?.value['intValue'];
  const server = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
    const s = of(i, 2);
    return [s.name, attr(s, 'http.request.method'), attr(s, 'http.route') ?? null, intAttr(s, 'http.response.status_code') ?? null, attr(s, 'user_agent.original'), attr(s, 'url.path')];
  });
  assert.deepEqual(server, [
    ['GET /orders/:id/ü', 'GET', '/orders/:id/ü', 200, 'curl/8', '/p/0'],
    ['GET /orders/:id/ü', 'GET', '/orders/:id/ü', 200, 'curl/8', '/p/1'],
    ['GET /other', 'GET', '/other', 200, 'curl/8', '/p/2'],
    ['POST /other', 'POST', '/other', 200, 'curl/8', '/p/3'],
    ['POST /other', 'POST', '/other', 404, 'curl/8', '/p/4'],
    ['POST', 'POST', null, 404, 'curl/8', '/p/5'],
    ['POST', 'POST', null, null, 'curl/8', '/p/6'],
    ['GET /orders/:id/ü', 'GET', '/orders/:id/ü', 200, 'curl/8', '/p/7'],
  ]);
  const client = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
    const s = of(i, 3);
    return [s.name, attr(s, 'http.request.method'), attr(s, 'server.address'), intAttr(s, 'http.response.status_code') ?? null, attr(s, 'url.full')];
  });
  assert.deepEqual(client, [
    ['GET', 'GET', '127.0.0.1', 200, 'http://127.0.0.1:8080/u/0'],
    ['GET', 'GET', '127.0.0.1', 200, 'http://127.0.0.1:8080/u/1'],
    ['GET', 'GET', '127.0.0.1', 200, 'http://127.0.0.1:8080/u/2'],
    ['POST', 'POST', '127.0.0.1', 200, 'http://127.0.0.1:8080/u/3'],
    ['POST', 'POST', '10.1.1.1', 404, 'http://10.1.1.1:9090/u/4'],
    ['POST', 'POST', '10.1.1.1', 404, 'http://10.1.1.1:9090/u/5'],
    ['POST', 'POST', '10.1.1.1', null, 'http://10.1.1.1:9090/u/6'],
    ['GET', 'GET', '127.0.0.1', 200, 'http://127.0.0.1:8080/u/7'],
  ]);
  for (const s of spans) {
    assert.equal(new Set(s.attributes.map((a) => a.key)).size, s.attributes.length, 'each attribute once');
    assert.equal(s.startTimeUnixNano !== s.endTimeUnixNano, true, 'times written per span, not kept in a block');
  }
  assert.equal(of(6, 2).status?.code, 2, 'a request without a status is an error');
});

test('protobuf writer: varints, fixed64 nanoseconds from microseconds exactly, lengths fixed up in place', () => {
  const w = new ProtoBytes(4);
  for (const v of [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]) {
    w.pos = 0;
    w.room(10);
    w.varint(v);
    assert.equal(w.pos, varintSize(v), `size of ${v}`);
    assert.equal(protobuf.Reader.create(w.buf.subarray(0, w.pos)).uint64().toString(), String(v));
  }
  for (const us of [0, 1, 999, 2 ** 32 - 1, 2 ** 32, 1_764_217_234_000_056, 2 ** 53 - 1]) {
    w.pos = 0;
    w.fixed64Micros(0x39, us);
    assert.equal(w.buf.readBigUInt64LE(1), BigInt(us) * 1000n, `${us} µs`);
  }
  for (const n of [0, 5, 127, 128, 200, 16_383, 16_384, 70_000]) {
    w.pos = 0;
    w.buf[w.pos++] = 0x99;
    const at = w.open(0x12);
    w.room(n);
    w.buf.fill(7, w.pos, w.pos + n);
    w.pos += n;
    w.buf[w.pos] = 0;
    w.close(at);
    const r = protobuf.Reader.create(w.buf.subarray(1, w.pos));
    assert.equal(r.uint32(), 0x12);
    assert.equal(r.uint32(), n);
    assert.equal(w.pos, 2 + varintSize(n) + n, `a ${n}-byte field has a minimal length`);
    assert.ok(w.buf.subarray(2 + varintSize(n), w.pos).every((b) => b === 7));
  }
});

test('tracing.protocol: http/protobuf by default, http/json by name, anything else refused at its path', () => {
  const text = (protocol: string) => `_format_version: "1"\ntracing:\n  endpoint: "http://127.0.0.1:4318/v1/traces"\n${protocol}`;
  const snapshot = (yaml: string) => buildSnapshot(loadConfigText('gw.yaml', yaml, defaultRegistry(), {}), defaultRegistry(), new PoolRegistry(), 1, 'gw.yaml').snapshot;
  assert.equal(snapshot(text('')).tracing?.protocol, 'http/protobuf');
  assert.equal(snapshot(text('  protocol: http/json\n')).tracing?.protocol, 'http/json');
  assert.throws(
    () => loadConfigText('gw.yaml', text('  protocol: grpc\n'), defaultRegistry(), {}),
    (err: unknown) => err instanceof ConfigError && err.lines().some((l) => l === 'gw.yaml:4:13 tracing.protocol: must be one of: http/protobuf, http/json'),
  );
});
