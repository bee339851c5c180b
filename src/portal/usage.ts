// What the usage pages read. UsageSource is the narrow interface the metering store (rate
// limit issue) will implement; MemoryUsage is the in-process stand-in until then: it counts
// the gateway's own requests (request-end event) per minute × consumer × key × service ×
// status class, with a latency histogram for percentiles. Bounded in time and in rows.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';
import { requestEndChannel } from '../proxy/reply.js';

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
  /** Latency percentiles in ms (null: no calls, or the source keeps no histogram). */
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

/** Upper bounds (ms) of the latency histogram buckets; the last one is open. */
const BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000, Infinity];
const CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

interface Row {
  readonly minute: number;
  readonly consumer: string;
  readonly credential: string;
  readonly service: string;
  readonly cls: number;
  count: number;
  bytes: number;
  /** Sum of latencies in ms. */
  latency: number;
  readonly hist: number[];
}

export class MemoryUsage implements UsageSource {
  readonly #rows = new Map<string, Row>();
  readonly #retentionMs: number;
  readonly #maxRows: number;
  readonly #onEnd = (m: unknown) => this.record(m as RequestContext);

  readonly #owns: (ctx: RequestContext) => boolean;

  constructor(opts: { retentionMs?: number; maxRows?: number; owns?: (ctx: RequestContext) => boolean } = {}) {
    this.#owns = opts.owns ?? (() => true);
    this.#retentionMs = opts.retentionMs ?? 8 * 86_400_000;
    this.#maxRows = opts.maxRows ?? 500_000;
    subscribe(requestEndChannel.name, this.#onEnd);
  }

  /** Only calls made by a consumer are metered (unauthenticated calls belong to nobody). */
  record(ctx: RequestContext): void {
    if (ctx.consumer === null || ctx.route === null || !this.#owns(ctx)) return;
    const status = ctx.responseStatus;
    if (status < 200 || status > 599) return;
    // startedAt is a monotonic clock: the bucket comes from the wall clock at the end.
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const cls = Math.floor(status / 100) - 2;
    const credential = ctx.credential?.id ?? '';
    const service = ctx.route.service.name;
    const key = `${minute}|${ctx.consumer.id}|${credential}|${service}|${cls}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      if (this.#rows.size >= this.#maxRows) this.#evict();
      row = { minute, consumer: ctx.consumer.id, credential, service, cls, count: 0, bytes: 0, latency: 0, hist: new Array<number>(BOUNDS.length).fill(0) };
      this.#rows.set(key, row);
    }
    row.count++;
    row.bytes += ctx.bytesIn + ctx.bytesOut;
    const latency = (ctx.finishedAt || performance.now()) - ctx.startedAt;
    row.latency += latency;
    let b = 0;
    while (latency > BOUNDS[b]!) b++;
    row.hist[b]!++;
  }

  async series(q: UsageQuery): Promise<UsagePoint[]> {
    const step = STEP_MS[q.step];
    const from = Math.floor(q.from / step) * step;
    const buckets = new Map<number, { calls: number[]; bytes: number; hist: number[]; latency: number }>();
    for (let t = from; t < q.to; t += step) buckets.set(t, { calls: [0, 0, 0, 0], bytes: 0, hist: new Array<number>(BOUNDS.length).fill(0), latency: 0 });
    for (const r of this.#match(q)) {
      const b = buckets.get(Math.floor(r.minute / step) * step);
      if (b === undefined) continue;
      b.calls[r.cls]! += r.count;
      b.bytes += r.bytes;
      b.latency += r.latency;
      r.hist.forEach((n, i) => (b.hist[i]! += n));
    }
    return [...buckets].map(([t, b]) => ({
      t,
      calls: { '2xx': b.calls[0]!, '3xx': b.calls[1]!, '4xx': b.calls[2]!, '5xx': b.calls[3]! },
      p50: percentile(b.hist, 0.5),
      p95: percentile(b.hist, 0.95),
      p99: percentile(b.hist, 0.99),
      avg: b.calls.reduce((a, n) => a + n, 0) === 0 ? null : Math.round((b.latency / b.calls.reduce((a, n) => a + n, 0)) * 100) / 100,
      bytes: b.bytes,
    }));
  }

  async totals(q: UsageQuery, by: 'consumer' | 'service', limit: number): Promise<UsageTotals[]> {
    const groups = new Map<string, { calls: number; errors: number; hist: number[] }>();
    for (const r of this.#match(q)) {
      const k = r[by];
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = { calls: 0, errors: 0, hist: new Array<number>(BOUNDS.length).fill(0) }));
      g.calls += r.count;
      if (r.cls >= 2) g.errors += r.count;
      r.hist.forEach((n, i) => (g!.hist[i]! += n));
    }
    return [...groups]
      .map(([key, g]) => ({ key, calls: g.calls, errors: g.errors, p95: percentile(g.hist, 0.95) }))
      .sort((a, b) => b.calls - a.calls)
      .slice(0, limit);
  }

  close(): void {
    unsubscribe(requestEndChannel.name, this.#onEnd);
  }

  *#match(q: UsageQuery): Iterable<Row> {
    for (const r of this.#rows.values()) {
      if (r.minute < q.from - STEP_MS[q.step] || r.minute >= q.to) continue;
      if (q.consumer !== undefined && r.consumer !== q.consumer) continue;
      if (q.credential !== undefined && r.credential !== q.credential) continue;
      if (q.service !== undefined && r.service !== q.service) continue;
      yield r;
    }
  }

  #evict(): void {
    const oldest = Date.now() - this.#retentionMs;
    for (const [k, r] of this.#rows) if (r.minute < oldest) this.#rows.delete(k);
    // Still full: drop the oldest tenth (insertion order is time order).
    if (this.#rows.size >= this.#maxRows) {
      let n = Math.ceil(this.#maxRows / 10);
      for (const k of this.#rows.keys()) {
        if (n-- <= 0) break;
        this.#rows.delete(k);
      }
    }
  }
}

/** The upper bound of the bucket holding the q-th call (the last bucket reports its lower bound). */
export function percentile(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return BOUNDS[i] === Infinity ? BOUNDS[i - 1]! : BOUNDS[i]!;
  }
  return null;
}

export { CLASSES };
