// The latency histogram of a metering row: one count per fixed bucket. Fixed bounds make
// histograms of any rows, processes and nodes add up by plain summing, in memory and in SQL
// (one column per bucket, see schema.ts). Bounds run 1-2-3-5 per decade from 0.5 ms to 60 s,
// so no bucket is more than twice as wide as its lower bound; one more bucket holds what is
// slower than 60 s.
//
// A percentile is read by linear interpolation inside the bucket that holds its rank. The
// true value lies in the same bucket, so the error is less than the bucket's width: at most
// 0.5 ms below 1 ms, otherwise less than the bucket's lower bound (< 100% of the true value,
// typically far less: requests spread over a bucket put the estimate near them). Above
// 60 s the percentile is reported as 60000 (only the lower bound is known).

/** Upper bounds (ms, inclusive) of the buckets; the last bucket (above 60 s) is open. */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.5, 1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000];

/** Number of buckets: one per bound and the open one. */
export const BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** The column of each bucket in the usage table: ms_le_0_5 … ms_le_60000, ms_gt_60000. */
export const HISTOGRAM_COLUMNS: readonly string[] = [
  ...LATENCY_BOUNDS_MS.map((b) => `ms_le_${String(b).replace('.', '_')}`),
  `ms_gt_${LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]}`,
];

/** The bucket of a latency: binary search for the first bound ≥ ms (5 comparisons; NaN goes to the open bucket). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= LATENCY_BOUNDS_MS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function emptyHistogram(): number[] {
  return new Array<number>(BUCKETS).fill(0);
}

/** Adds `from` into `into` (same length). */
export function addHistogram(into: number[], from: readonly number[]): void {
  for (let i = 0; i < BUCKETS; i++) into[i]! += from[i] ?? 0;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram in ms, rounded to 0.01 ms; null when it counts
 * nothing (rows metered before the histogram existed count nothing).
 */
export function percentile(hist: readonly number[], q: number): number | null {
  let total = 0;
  for (const n of hist) total += n;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (n === 0 || seen + n < rank) {
      seen += n;
      continue;
    }
    if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
    const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
    const hi = LATENCY_BOUNDS_MS[i]!;
    return Math.round((lo + ((hi - lo) * (rank - seen)) / n) * 100) / 100;
  }
  return null;
}
