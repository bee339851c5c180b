// An adaptive concurrency limit, a gradient controller in the manner of Envoy's adaptive
// concurrency filter. The ideal latency (minRTT) is measured now and then with the limit
// pinned to `min_limit`, as the median of `min_rtt_samples` responses; in between, every
// `sample_window` the median latency of the window (sampleRTT) moves the limit:
//   gradient = clamp(minRTT * (1 + buffer) / sampleRTT, 0.5, 2)
//   limit    = clamp(gradient * limit + sqrt(gradient * limit), min_limit, max_limit)
// so a slower upstream gets fewer requests in flight, and the limit climbs back when the
// latency does. A limit stuck at `min_limit` for 5 windows, or `min_rtt_interval` passing,
// starts a new minRTT measurement (the upstream's "normal" may have changed).
// Samples live in preallocated typed arrays: nothing is allocated per request.

export interface AdaptivePolicy {
  readonly sampleWindowMs: number;
  readonly minRttIntervalMs: number;
  readonly minRttSamples: number;
  /** Latency above minRTT tolerated before the limit comes down, as a fraction (0.25 = 25%). */
  readonly buffer: number;
  readonly minLimit: number;
  readonly maxLimit: number;
}

export const DEFAULT_ADAPTIVE: AdaptivePolicy = { sampleWindowMs: 100, minRttIntervalMs: 60_000, minRttSamples: 25, buffer: 0.25, minLimit: 3, maxLimit: 1000 };

/** Samples kept per window; beyond that, later samples replace random earlier ones (reservoir). */
const WINDOW_CAPACITY = 512;
const WINDOWS_AT_MIN_BEFORE_REMEASURE = 5;

export class AdaptiveLimit {
  readonly policy: AdaptivePolicy;
  /** The current limit on requests in flight. */
  limit: number;
  /** The measured ideal latency in ms (0 until the first measurement ends). */
  minRtt = 0;
  #measuring = true;
  /** The limit to come back to after a minRTT measurement. */
  #restoreLimit: number;
  readonly #minRttSamples: Float64Array;
  #minRttCount = 0;
  readonly #window = new Float64Array(WINDOW_CAPACITY);
  #windowCount = 0;
  #windowSeen = 0;
  #windowEnd = 0;
  #nextMeasureAt = 0;
  #windowsAtMin = 0;

  constructor(policy: AdaptivePolicy) {
    this.policy = policy;
    this.limit = policy.minLimit;
    this.#restoreLimit = policy.minLimit;
    this.#minRttSamples = new Float64Array(policy.minRttSamples);
  }

  get measuring(): boolean {
    return this.#measuring;
  }

  /** One latency sample (ms) of a request that got an answer (or timed out). Returns true when the limit changed. */
  sample(rttMs: number, now: number): boolean {
    if (this.#measuring) {
      this.#minRttSamples[this.#minRttCount++] = rttMs;
      if (this.#minRttCount < this.#minRttSamples.length) return false;
      this.minRtt = median(this.#minRttSamples, this.#minRttSamples.length);
      this.#measuring = false;
      this.#minRttCount = 0;
      this.#windowsAtMin = 0;
      this.#windowCount = this.#windowSeen = 0;
      this.#windowEnd = now + this.policy.sampleWindowMs;
      // +-10% jitter so that gateways restarted together do not measure together.
      this.#nextMeasureAt = now + this.policy.minRttIntervalMs * (0.9 + Math.random() * 0.2);
      const changed = this.limit !== this.#restoreLimit;
      this.limit = this.#restoreLimit;
      return changed;
    }
    this.#windowSeen++;
    if (this.#windowCount < WINDOW_CAPACITY) this.#window[this.#windowCount++] = rttMs;
    else {
      const j = Math.floor(Math.random() * this.#windowSeen);
      if (j < WINDOW_CAPACITY) this.#window[j] = rttMs;
    }
    if (now < this.#windowEnd) return false;
    return this.#update(now);
  }

  #update(now: number): boolean {
    const p = this.policy;
    const before = this.limit;
    const sampleRtt = median(this.#window, this.#windowCount);
    this.#windowCount = this.#windowSeen = 0;
    this.#windowEnd = now + p.sampleWindowMs;
    const gradient = Math.min(2, Math.max(0.5, (this.minRtt * (1 + p.buffer)) / Math.max(sampleRtt, 1e-3)));
    const raw = gradient * this.limit;
    this.limit = Math.min(p.maxLimit, Math.max(p.minLimit, Math.round(raw + Math.sqrt(raw))));
    this.#windowsAtMin = this.limit === p.minLimit ? this.#windowsAtMin + 1 : 0;
    if (now >= this.#nextMeasureAt || this.#windowsAtMin >= WINDOWS_AT_MIN_BEFORE_REMEASURE) this.#startMeasuring();
    return this.limit !== before;
  }

  #startMeasuring(): void {
    this.#measuring = true;
    this.#minRttCount = 0;
    this.#restoreLimit = this.limit;
    this.limit = this.policy.minLimit;
  }
}

/** Median of the first n values (sorts them in place; n is small and this runs once per window). */
function median(values: Float64Array, n: number): number {
  const part = values.subarray(0, n).sort();
  return n % 2 === 1 ? part[(n - 1) >> 1]! : (part[n / 2 - 1]! + part[n / 2]!) / 2;
}
