// The http sink's batch bodies, filled record by record through the delivery queue: the
// bytes are the records joined by the format's delimiters (JSON lines, or one JSON array), in
// order, batches of batch.max_events; a record that does not fit grows the body (multi-byte
// text included); a batch sent again after a failure is the same bytes; the buffer of a
// finished batch serves a later one (never the next: its body may still be on its way), over
// a real connection too.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { DeliveryError, DeliveryQueue, type DeliveryOptions, type SinkTransport } from '../../src/observability/delivery-queue.js';
import type { HttpSinkSpec } from '../../src/observability/log-sink-config.js';
import { BodyBatching, httpSinkTransport, type BatchBody } from '../../src/observability/sink-http.js';

const logger = createLogger({ level: 'silent' });
const OPTS: DeliveryOptions = { maxQueue: 1000, batchSize: 3, maxBytes: 1 << 20, intervalMs: 3_600_000, baseDelayMs: 1, maxDelayMs: 5, retry: true };

/** A transport that keeps each attempt's body as text; the first `failures` attempts fail. */
function transport(batching: BodyBatching, failures = 0): SinkTransport<string, BatchBody> & { bodies: string[] } {
  let n = 0;
  const t = {
    batching,
    bodies: [] as string[],
    async send(batch: BatchBody): Promise<void> {
      t.bodies.push(batch.body().toString('utf8'));
      if (n++ < failures) throw new DeliveryError('answered 503', true);
    },
    async close(): Promise<void> {},
  };
  return t;
}

const records = (n: number, text = (i: number): string => `r${i}`): string[] => Array.from({ length: n }, (_, i) => JSON.stringify({ i, v: text(i) }));

test('JSON lines: records in order, a newline after each, batches of max_events', async () => {
  const t = transport(new BodyBatching('', '\n', '\n'));
  const q = new DeliveryQueue('t', t, OPTS, logger);
  const all = records(7);
  for (const r of all) q.push(r);
  await q.close(5000);
  assert.deepEqual(t.bodies, [all.slice(0, 3), all.slice(3, 6), all.slice(6)].map((b) => b.map((r) => `${r}\n`).join('')));
  assert.equal(q.counts.sent, 7);
});

test('a JSON array per batch; a failed batch is sent again byte for byte', async () => {
  const t = transport(new BodyBatching('[', ',', ']'), 2);
  const q = new DeliveryQueue('t', t, OPTS, logger);
  const all = records(4);
  for (const r of all) q.push(r);
  await q.close(5000);
  const first = `[${all.slice(0, 3).join(',')}]`;
  assert.deepEqual(t.bodies, [first, first, first, `[${all[3]}]`]);
  assert.deepEqual(JSON.parse(t.bodies[0]!), all.slice(0, 3).map((r) => JSON.parse(r)));
  assert.deepEqual(q.counts, { sent: 4, dropped: 0, rejected: 0, abandoned: 0, failed: 2, retried: 2 });
});

test('records larger than the body so far, multi-byte text included, grow it', async () => {
  const t = transport(new BodyBatching('', '\n', '\n'));
  const q = new DeliveryQueue('t', t, { ...OPTS, batchSize: 4 }, logger);
  // 4 × ~30 KB of two- and three-byte characters: beyond the first 16 KB buffer.
  const all = records(8, (i) => (i % 2 === 0 ? 'é' : '€').repeat(10_000 + i));
  for (const r of all) q.push(r);
  await q.close(5000);
  assert.deepEqual(t.bodies, [all.slice(0, 4), all.slice(4)].map((b) => b.map((r) => `${r}\n`).join('')));
});

test('a batch takes no more records once it holds max_bytes (in UTF-8 bytes, delimiters included)', async () => {
  const t = transport(new BodyBatching('[', ',', ']'));
  const q = new DeliveryQueue('t', t, { ...OPTS, batchSize: 1000, maxBytes: 1024 }, logger);
  // Records of 100 to 300 bytes, some in two-byte characters (their UTF-16 length is half that).
  const all = records(40, (i) => (i % 3 === 0 ? 'é'.repeat(40 + i) : 'x'.repeat(80 + 5 * i)));
  for (const r of all) q.push(r);
  await q.close(5000);
  assert.deepEqual(t.bodies.flatMap((b) => JSON.parse(b) as unknown[]), all.map((r) => JSON.parse(r)), 'every record, in order');
  assert.ok(t.bodies.length > 1);
  for (const [i, body] of t.bodies.entries()) {
    const bytes = Buffer.byteLength(body);
    const batch = JSON.parse(body) as unknown[];
    // Short of max_bytes before its last record; the last batch may be short of it at the end.
    const withoutLast = Buffer.byteLength(JSON.stringify(batch.slice(0, -1)));
    assert.ok(withoutLast < 1024, `batch ${i}: ${withoutLast} bytes before its last record`);
    if (i < t.bodies.length - 1) assert.ok(bytes >= 1024, `batch ${i} closed at ${bytes} bytes`);
  }
});

/** The ArrayBuffer a batch's body lives in (what a reused buffer shares). */
const memoryOf = (batch: BatchBody): ArrayBufferLike => batch.buf.buffer;

/** Pushes `all`, `size` at a time, each batch once the one before was delivered (as traffic does). */
async function pushInTurns(q: DeliveryQueue<string, BatchBody>, all: string[], size: number): Promise<void> {
  for (let i = 0; i < all.length; i += size) {
    for (const r of all.slice(i, i + size)) q.push(r);
    for (let k = 0; k < 500 && q.queued > 0; k++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(q.queued, 0);
  }
}

test('a finished batch\'s buffer serves a later batch, never the next one: the body the socket may still be writing stays as it was sent', async () => {
  const batching = new BodyBatching('', '\n', '\n');
  // Views of the bodies as sent (not copies, as a socket holds them), and their text then.
  const sent: Array<{ view: Buffer; text: string; memory: ArrayBufferLike }> = [];
  let n = 0;
  const t: SinkTransport<string, BatchBody> = {
    batching,
    async send(batch) {
      const view = batch.body();
      // The body sent just before this one is untouched while this one is written.
      const last = sent.at(-1);
      if (last !== undefined) assert.equal(last.view.toString('utf8'), last.text);
      sent.push({ view, text: view.toString('utf8'), memory: memoryOf(batch) });
      // Every third attempt fails once: a retried batch is released only when it is done.
      if (n++ % 3 === 1) throw new DeliveryError('answered 503', true);
    },
    async close() {},
  };
  const q = new DeliveryQueue('t', t, { ...OPTS, maxQueue: 10_000 }, logger);
  const all = records(30);
  await pushInTurns(q, all, 3);
  await q.close(5000);
  const bodies = [...new Set(sent.map((s) => s.text))];
  assert.deepEqual(bodies, Array.from({ length: 10 }, (_, i) => all.slice(i * 3, i * 3 + 3).map((r) => `${r}\n`).join('')));
  // A retry sends the batch's own bytes again, from the same buffer.
  for (let i = 1; i < sent.length; i++) {
    if (sent[i]!.text === sent[i - 1]!.text) assert.equal(sent[i]!.memory, sent[i - 1]!.memory);
  }
  // Buffers are reused, but consecutive batches never share one.
  const batches = sent.filter((s, i) => i === 0 || s.text !== sent[i - 1]!.text);
  assert.ok(new Set(batches.map((b) => b.memory)).size < batches.length, 'no buffer was reused');
  for (let i = 1; i < batches.length; i++) assert.notEqual(batches[i]!.memory, batches[i - 1]!.memory);
  assert.deepEqual(q.counts, { sent: 30, dropped: 0, rejected: 0, abandoned: 0, failed: 5, retried: 5 });
});

test('over HTTP: a batch answered 500 is POSTed again with the same bytes; batches after it, in reused buffers, carry their own records', async () => {
  const posts: Array<{ status: number; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The first POST and the fourth are refused for a while.
      const status = posts.length === 0 || posts.length === 3 ? 500 : 200;
      posts.push({ status, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const spec = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`, headers: {}, tls: null, timeoutMs: 5000, format: 'ndjson', gzip: false, delivery: { ...OPTS, batchSize: 4, maxQueue: 1000 } };
    const transport = httpSinkTransport(spec as unknown as HttpSinkSpec);
    const memories: ArrayBufferLike[] = [];
    const seen: SinkTransport<string, BatchBody> = {
      batching: transport.batching!,
      send: (batch) => {
        memories.push(memoryOf(batch));
        return transport.send(batch);
      },
      close: () => transport.close(),
    };
    const q = new DeliveryQueue('t', seen, spec.delivery, logger);
    const all = records(24, (i) => `record ${i} ${'é'.repeat(i)}`);
    await pushInTurns(q, all, 4);
    await q.close(5000);
    const expected = Array.from({ length: 6 }, (_, i) => all.slice(i * 4, i * 4 + 4).map((r) => `${r}\n`).join(''));
    assert.equal(posts[0]!.body, posts[1]!.body);
    assert.equal(posts[3]!.body, posts[4]!.body);
    assert.deepEqual(posts.filter((p) => p.status === 200).map((p) => p.body), expected);
    assert.ok(new Set(memories).size < 6, 'no buffer was reused');
    assert.deepEqual(q.counts, { sent: 24, dropped: 0, rejected: 0, abandoned: 0, failed: 2, retried: 2 });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
