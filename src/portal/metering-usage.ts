// UsageSource over the metering store: durable and shared by every worker and node that
// meters into the same store (`metering:`, or the portal's default file next to the config,
// see effectiveMetering). Its rows are per minute × consumer (username) × credential × service ×
// route × status class with a latency histogram, so a key filter narrows to that key's calls
// and percentiles come from the summed histogram. Rows of the other processes arrive at their
// flushes (metering.flush_interval, 5 s by default); this process's own are flushed before
// each read, so a call made through the portal's process shows at once.
import type { MeteringSettings } from '../metering/config.js';
import { addHistogram, emptyHistogram, percentile } from '../metering/histogram.js';
import { openUsageStore, type UsageStore, type UsageSummary } from '../metering/store.js';
import { STEP_MS, type UsagePoint, type UsageQuery, type UsageSource, type UsageTotals } from './usage.js';

/** How portal ids map to the metering rows' usernames (the consumers of the live snapshot). */
export interface ConsumerNames {
  /** Consumer id -> username, null when unknown. */
  username(consumerId: string): string | null;
  /** Username -> consumer id, null when unknown (a consumer gone from the config). */
  id(username: string): string | null;
}

const CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

export class MeteringUsage implements UsageSource {
  readonly #settings: MeteringSettings;
  /** Opened at the first read: a store that is busy or away fails that read, not the portal's start. */
  #store: UsageStore | null = null;
  readonly #names: ConsumerNames;
  readonly #flushLocal: () => Promise<void>;

  constructor(settings: MeteringSettings, names: ConsumerNames, flushLocal: () => Promise<void> = () => Promise.resolve()) {
    this.#settings = settings;
    this.#names = names;
    this.#flushLocal = flushLocal;
  }

  async #rows(q: UsageQuery): Promise<UsageSummary[]> {
    const consumer = q.consumer === undefined ? undefined : this.#names.username(q.consumer);
    if (consumer === null) return [];
    // A failed local flush keeps its rows for the next try; the read goes on with what is stored.
    await this.#flushLocal().catch(() => undefined);
    this.#store ??= openUsageStore(this.#settings.store);
    return this.#store.query({
      from: q.from,
      to: q.to,
      by: q.step,
      ...(consumer !== undefined ? { consumer } : {}),
      ...(q.credential !== undefined ? { credential: q.credential } : {}),
      ...(q.service !== undefined ? { service: q.service } : {}),
    });
  }

  async series(q: UsageQuery): Promise<UsagePoint[]> {
    const step = STEP_MS[q.step];
    const from = Math.floor(q.from / step) * step;
    const buckets = new Map<number, { calls: Record<(typeof CLASSES)[number], number>; bytes: number; latency: number; n: number; hist: number[] }>();
    for (let t = from; t < q.to; t += step) buckets.set(t, { calls: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, bytes: 0, latency: 0, n: 0, hist: emptyHistogram() });
    for (const r of await this.#rows(q)) {
      const b = buckets.get(Date.parse(r.period));
      if (b === undefined) continue;
      for (const c of CLASSES) b.calls[c] += r.status[c] ?? 0;
      b.bytes += r.bytes_in + r.bytes_out;
      b.latency += r.latency_ms_avg * r.requests;
      b.n += r.requests;
      addHistogram(b.hist, r.latency_histogram);
    }
    return [...buckets].map(([t, b]) => ({
      t,
      calls: b.calls,
      p50: percentile(b.hist, 0.5),
      p95: percentile(b.hist, 0.95),
      p99: percentile(b.hist, 0.99),
      avg: b.n === 0 ? null : Math.round((b.latency / b.n) * 100) / 100,
      bytes: b.bytes,
    }));
  }

  /** Grouped by consumer (its id when the snapshot knows it) or by service; requests without a consumer are nobody's. */
  async totals(q: UsageQuery, by: 'consumer' | 'service', limit: number): Promise<UsageTotals[]> {
    const groups = new Map<string, { calls: number; errors: number; hist: number[] }>();
    for (const r of await this.#rows(q)) {
      if (r.consumer === '' && by === 'consumer') continue;
      const k = by === 'consumer' ? (this.#names.id(r.consumer) ?? r.consumer) : r.service;
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = { calls: 0, errors: 0, hist: emptyHistogram() }));
      g.calls += r.requests;
      g.errors += (r.status['4xx'] ?? 0) + (r.status['5xx'] ?? 0);
      addHistogram(g.hist, r.latency_histogram);
    }
    return [...groups]
      .map(([key, g]) => ({ key, calls: g.calls, errors: g.errors, p95: percentile(g.hist, 0.95) }))
      .sort((a, b) => b.calls - a.calls)
      .slice(0, limit);
  }

  close(): void {
    void this.#store?.close().catch(() => undefined);
  }
}
