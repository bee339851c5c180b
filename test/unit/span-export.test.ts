// The exporter's bounded queue (spans beyond it dropped and counted, the rest exported once
// the collector answers) against a real local HTTP collector, and the OTLP/JSON byte writer
// (escaping, UTF-8, text from the wire, integers).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { JsonBytes } from '../../src/observability/otlp-json.js';
import { SpanExporter } from '../../src/observability/span-export.js';
import type { SpanRecord } from '../../src/observability/span-record.js';

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
