// The delivery queue every log sink shares, driven through its transport interface: batches
// by size in order, retries until delivered, a refusal for good drops the batch, the queue
// bound drops the overflow (admit() says so before a record is made), and close() sends what
// is held or counts it as abandoned at its deadline. Counts are exact.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { DeliveryError, DeliveryQueue, type DeliveryOptions, type SinkTransport } from '../../src/observability/delivery-queue.js';

const logger = createLogger({ level: 'silent' });
const OPTS: DeliveryOptions = { maxQueue: 10, batchSize: 4, maxBytes: 1 << 20, intervalMs: 3_600_000, baseDelayMs: 1, maxDelayMs: 5, retry: true };

/** A transport whose n-th send (0-based) does what `outcome(n)` says. */
function transport(outcome: (n: number) => 'ok' | 'retry' | 'refuse' | 'hang'): SinkTransport<number> & { batches: number[][]; sends: number } {
  const t = {
    batches: [] as number[][],
    sends: 0,
    async send(batch: readonly number[]): Promise<void> {
      const o = outcome(t.sends++);
      if (o === 'hang') return new Promise<void>(() => undefined);
      if (o === 'retry') throw new DeliveryError('answered 503', true);
      if (o === 'refuse') throw new DeliveryError('answered 400', false);
      t.batches.push([...batch]);
    },
    async close(): Promise<void> {},
  };
  return t;
}

test('batches by size, in order; a failing batch is retried until delivered', async () => {
  const t = transport((n) => (n < 3 ? 'retry' : 'ok'));
  const q = new DeliveryQueue('t', t, OPTS, logger);
  for (let i = 0; i < 8; i++) q.push(i);
  await q.close(5000);
  assert.deepEqual(t.batches, [[0, 1, 2, 3], [4, 5, 6, 7]]);
  assert.deepEqual(q.counts, { sent: 8, dropped: 0, rejected: 0, abandoned: 0, failed: 3, retried: 3 });
});

test('batches of records held as arrays close at max_bytes (the records\' lengths)', async () => {
  const t = {
    batches: [] as string[][],
    async send(batch: readonly string[]): Promise<void> {
      t.batches.push([...batch]);
    },
    async close(): Promise<void> {},
  };
  const q = new DeliveryQueue<string>('t', t, { ...OPTS, batchSize: 100, maxQueue: 100, maxBytes: 10 }, logger);
  for (const r of ['aaaa', 'bbbb', 'cc', 'dddddddddddd', 'e', 'f', 'g']) q.push(r);
  await q.close(5000);
  assert.deepEqual(t.batches, [['aaaa', 'bbbb', 'cc'], ['dddddddddddd'], ['e', 'f', 'g']]);
  assert.equal(q.counts.sent, 7);
});

test('a refusal for good drops the batch; the next one is sent', async () => {
  const t = transport((n) => (n === 0 ? 'refuse' : 'ok'));
  const q = new DeliveryQueue('t', t, OPTS, logger);
  for (let i = 0; i < 8; i++) q.push(i);
  await q.close(5000);
  assert.deepEqual(t.batches, [[4, 5, 6, 7]]);
  assert.deepEqual(q.counts, { sent: 4, dropped: 0, rejected: 4, abandoned: 0, failed: 1, retried: 0 });
});

test('without retry (datagrams) a failed batch is dropped at once', async () => {
  const t = transport(() => 'retry');
  const q = new DeliveryQueue('t', t, { ...OPTS, retry: false }, logger);
  for (let i = 0; i < 4; i++) q.push(i);
  await q.close(5000);
  assert.deepEqual(q.counts, { sent: 0, dropped: 0, rejected: 4, abandoned: 0, failed: 1, retried: 0 });
});

test('admit: while the queue is full (a receiver down) the drop is counted before any record is made; once room is made, records are admitted again', async () => {
  let n = 0;
  const t = transport((k) => (k === 0 ? 'retry' : 'ok'));
  const q = new DeliveryQueue('t', t, { ...OPTS, baseDelayMs: 1_000, maxDelayMs: 1_000 }, logger);
  let made = 0;
  const offer = (): void => {
    if (q.admit()) q.push((made++, n++));
  };
  for (let i = 0; i < 25; i++) offer();
  // The first batch failed and waits for its retry: 10 held, the 15 others refused without a record.
  assert.equal(q.queued, 10);
  assert.equal(made, 10);
  assert.equal(q.counts.dropped, 15);
  await q.close(5000);
  assert.deepEqual(q.counts, { sent: 10, dropped: 15, rejected: 0, abandoned: 0, failed: 1, retried: 1 });
  assert.deepEqual(t.batches.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Closed: nothing is admitted, and the drop is counted.
  assert.equal(q.admit(), false);
  assert.equal(q.counts.dropped, 16);
});

test('a hanging receiver: the queue bound drops the overflow; close counts what is held as abandoned', async () => {
  const t = transport(() => 'hang');
  const q = new DeliveryQueue('t', t, OPTS, logger);
  for (let i = 0; i < 25; i++) q.push(i);
  assert.equal(q.queued, 10);
  assert.equal(q.counts.dropped, 15);
  await q.close(50);
  assert.deepEqual(q.counts, { sent: 0, dropped: 15, rejected: 0, abandoned: 10, failed: 0, retried: 0 });
  assert.equal(q.queued, 0);
});
