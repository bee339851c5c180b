// UsageSource over the metering store (`metering:`, rate-limit issue): durable and shared by
// every worker and node that meters into the same store. Its rows are per minute ×
// consumer (username) × service × route × status class with a latency sum, so it gives
// calls per status class and average latency; it keeps no histogram (percentiles are null)
// and no per-key dimension (a key filter falls back to the whole account). Rows arrive at
// each flush (metering.flush_interval, 5 s by default).
import type { MeteringSettings } from '../metering/config.js';
import { openUsageStore, type UsageStore, type UsageSummary } from '../metering/store.js';
import { STEP_MS, type UsagePoint, type UsageQuery, type UsageSource, type UsageTotals } from './usage.js';

export class MeteringUsage implements UsageSource {
  readonly #store: UsageStore;
  /** Consumer id -> username: the metering rows are keyed by username. */
  readonly #username: (consumerId: string) => string | null;

  constructor(settings: MeteringSettings, username: (consumerId: string) => string | null) {
    this.#store = openUsageStore(settings.store);
    this.#username = username;
  }

  async #rows(q: UsageQuery): Promise<UsageSummary[]> {
    const consumer = q.consumer === undefined ? undefined : this.#username(q.consumer);
    if (consumer === null) return [];
    const rows = await this.#store.query({ from: q.from, to: q.to, by: q.step, ...(consumer !== undefined ? { consumer } : {}) });
    return q.service === undefined ? rows : rows.filter((r) => r.service === q.service);
  }

  async series(q: UsageQuery): Promise<UsagePoint[]> {
    const step = STEP_MS[q.step];
    const from = Math.floor(q.from / step) * step;
    const buckets = new Map<number, { calls: Record<'2xx' | '3xx' | '4xx' | '5xx', number>; bytes: number; latency: number; n: number }>();
    for (let t = from; t < q.to; t += step) buckets.set(t, { calls: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, bytes: 0, latency: 0, n: 0 });
    for (const r of await this.#rows(q)) {
      const b = buckets.get(Date.parse(r.period));
      if (b === undefined) continue;
      for (const c of ['2xx', '3xx', '4xx', '5xx'] as const) b.calls[c] += r.status[c] ?? 0;
      b.bytes += r.bytes_in + r.bytes_out;
      b.latency += r.latency_ms_avg * r.requests;
      b.n += r.requests;
    }
    return [...buckets].map(([t, b]) => ({ t, calls: b.calls, p50: null, p95: null, p99: null, avg: b.n === 0 ? null : Math.round((b.latency / b.n) * 100) / 100, bytes: b.bytes }));
  }

  async totals(q: UsageQuery, by: 'consumer' | 'service', limit: number): Promise<UsageTotals[]> {
    const groups = new Map<string, { calls: number; errors: number }>();
    for (const r of await this.#rows(q)) {
      if (r.consumer === '' && by === 'consumer') continue;
      const k = by === 'consumer' ? r.consumer : r.service;
      const g = groups.get(k) ?? { calls: 0, errors: 0 };
      g.calls += r.requests;
      g.errors += (r.status['4xx'] ?? 0) + (r.status['5xx'] ?? 0);
      groups.set(k, g);
    }
    return [...groups].map(([key, g]) => ({ key, calls: g.calls, errors: g.errors, p95: null })).sort((a, b) => b.calls - a.calls).slice(0, limit);
  }

  close(): void {
    void this.#store.close().catch(() => undefined);
  }
}
