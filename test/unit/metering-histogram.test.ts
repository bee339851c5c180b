// The metering latency histogram: bucket lookup at and around the bounds, percentiles by
// linear interpolation inside a bucket, and the documented error bound (the estimate and the
// exact quantile share a bucket) on deterministic pseudo-random latencies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUCKETS, HISTOGRAM_COLUMNS, LATENCY_BOUNDS_MS, bucketOf, emptyHistogram, percentile } from '../../src/metering/histogram.js';

test('bucketOf: a bound belongs to its own bucket; above the last bound, NaN too, is the open bucket', () => {
  assert.equal(BUCKETS, LATENCY_BOUNDS_MS.length + 1);
  assert.equal(HISTOGRAM_COLUMNS.length, BUCKETS);
  assert.equal(HISTOGRAM_COLUMNS[0], 'ms_le_0_5');
  assert.equal(HISTOGRAM_COLUMNS[BUCKETS - 1], 'ms_gt_60000');
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(-1), 0);
  assert.equal(bucketOf(0.5), 0);
  assert.equal(bucketOf(0.51), 1);
  LATENCY_BOUNDS_MS.forEach((b, i) => {
    assert.equal(bucketOf(b), i, `bound ${b}`);
    assert.equal(bucketOf(b + 1e-6), i + 1, `just above ${b}`);
  });
  assert.equal(bucketOf(3_600_000), BUCKETS - 1);
  assert.equal(bucketOf(Number.NaN), BUCKETS - 1);
});

test('percentile: null when empty; linear inside the bucket; the open bucket reports its lower bound', () => {
  assert.equal(percentile(emptyHistogram(), 0.5), null);
  const h = emptyHistogram();
  h[bucketOf(1.5)] = 10; // (1, 2]
  assert.equal(percentile(h, 0.5), 1.5);
  assert.equal(percentile(h, 1), 2);
  h[bucketOf(150)] = 10; // (100, 200]
  assert.equal(percentile(h, 0.5), 2);
  assert.equal(percentile(h, 0.75), 150);
  assert.equal(percentile(h, 0.99), 198);
  const slow = emptyHistogram();
  slow[BUCKETS - 1] = 3;
  assert.equal(percentile(slow, 0.5), 60000);
});

test('error bound: the estimate lies in the exact quantile\'s bucket (error < bucket width)', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 20; round++) {
    // Log-uniform latencies from 0.1 ms to 20 s, as a mix of fast and slow calls.
    const samples = Array.from({ length: 200 + round * 50 }, () => 10 ** (rand() * 5.3 - 1)).sort((a, b) => a - b);
    const h = emptyHistogram();
    for (const s of samples) h[bucketOf(s)]!++;
    for (const q of [0.5, 0.9, 0.95, 0.99]) {
      const exact = samples[Math.ceil(q * samples.length) - 1]!;
      const est = percentile(h, q)!;
      const i = bucketOf(exact);
      const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const hi = LATENCY_BOUNDS_MS[i] ?? Infinity;
      assert.ok(est >= lo - 0.01 && est <= hi + 0.01, `q=${q}: estimate ${est} outside the exact value's bucket (${lo}, ${hi}] (exact ${exact})`);
      if (lo >= 1) assert.ok(Math.abs(est - exact) < lo + 0.01, `q=${q}: error ${Math.abs(est - exact)} not below the bucket's lower bound ${lo}`);
    }
  }
});
