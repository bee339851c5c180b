// What the usage pages read: UsageSource, implemented over the metering store
// (metering-usage.ts), the one source of usage for every worker and node. Tests may hand
// the portal a stand-in.

export type Step = 'minute' | 'hour' | 'day';
export const STEP_MS: Record<Step, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface UsageQuery {
  readonly from: number;
  readonly to: number;
  readonly step: Step;
  readonly consumer?: string;
  readonly credential?: string;
  readonly service?: string;
}

export interface UsagePoint {
  /** Start of the bucket (ms since the epoch). */
  readonly t: number;
  readonly calls: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  /** Latency percentiles in ms (null: no calls with a latency histogram in the bucket). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  /** Average latency in ms (null: no calls). */
  readonly avg: number | null;
  readonly bytes: number;
}

export interface UsageTotals {
  readonly key: string;
  readonly calls: number;
  readonly errors: number;
  readonly p95: number | null;
}

export interface UsageSource {
  series(q: UsageQuery): Promise<UsagePoint[]>;
  /** Calls, 4xx+5xx and p95 grouped by consumer or service, most calls first. */
  totals(q: UsageQuery, by: 'consumer' | 'service', limit: number): Promise<UsageTotals[]>;
  close(): void;
}

/** The usage source when metering is turned off explicitly (`metering: { enabled: false }`): no calls, no percentiles. */
export const NO_USAGE: UsageSource = {
  async series(q) {
    const step = STEP_MS[q.step];
    const out: UsagePoint[] = [];
    for (let t = Math.floor(q.from / step) * step; t < q.to; t += step) out.push({ t, calls: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, p50: null, p95: null, p99: null, avg: null, bytes: 0 });
    return out;
  },
  async totals() {
    return [];
  },
  close() {},
};
