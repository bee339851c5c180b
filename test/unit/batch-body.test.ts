// The http sink's batch bodies, filled record by record through the delivery queue: the
// bytes are the records joined by the format's delimiters (JSON lines, or one JSON array), in
// order, batches of batch.max_events; a record that does not fit grows the body (multi-byte
// text included); a batch sent again after a failure is the same bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { DeliveryError, DeliveryQueue, type DeliveryOptions, type SinkTransport } from '../../src/observability/delivery-queue.js';
import { BodyBatching, type BatchBody } from '../../src/observability/sink-http.js';

const logger = createLogger({ level: 'silent' });
const OPTS: DeliveryOptions = { maxQueue: 1000, batchSize: 3, intervalMs: 3_600_000, baseDelayMs: 1, maxDelayMs: 5, retry: true };

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
