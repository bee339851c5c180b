// Metered usage as billing buckets: one per closed hour × consumer × credential × service ×
// route, each with a stable id (a hash of those five), so that a bucket sent twice — a push
// retried after a failure, two processes pushing, an export run again — is the same bucket to
// the billing system, which keeps one per id (the totals of a later copy replace the
// earlier's). `northgate usage export` writes them as CSV or JSON; `metering.export` pushes
// the closed hours to an HTTP endpoint on a schedule (UsagePusher).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Logger } from '../base/logger.js';
import { clock } from '../base/clock.js';
import { createPool, type Pool } from '../upstream/undici-pool.js';
import { post } from '../observability/http-post.js';
import type { MeteringSettings, UsageExportSettings } from './config.js';
import { queryUsage, type UsageSummary } from './store.js';

export const HOUR = 3_600_000;

export interface BillingBucket {
  /** Stable: the same hour, consumer, credential, service and route always give the same id. */
  id: string;
  period_start: string;
  period_end: string;
  consumer: string;
  credential: string;
  service: string;
  route: string;
  /** The consumer's plan in the config when the bucket was made ("" without one). */
  plan: string;
  requests: number;
  status: Record<string, number>;
  bytes_in: number;
  bytes_out: number;
  latency_ms_avg: number;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
  latency_ms_p99: number | null;
}

export function bucketId(periodStart: string, consumer: string, credential: string, service: string, route: string): string {
  // Names hold no "\n" (config names and credential ids are checked), so the parts stay apart.
  return createHash('sha256').update(`northgate-usage-v1\n${periodStart}\n${consumer}\n${credential}\n${service}\n${route}`).digest('hex').slice(0, 32);
}

/** Hourly summaries (queryUsage by hour) as buckets; `planOf` names a consumer's plan. */
export function billingBuckets(rows: readonly UsageSummary[], planOf: (consumer: string) => string | null): BillingBucket[] {
  return rows.map((r) => ({
    id: bucketId(r.period, r.consumer, r.credential, r.service, r.route),
    period_start: r.period,
    period_end: new Date(Date.parse(r.period) + HOUR).toISOString(),
    consumer: r.consumer,
    credential: r.credential,
    service: r.service,
    route: r.route,
    plan: (r.consumer === '' ? null : planOf(r.consumer)) ?? '',
    requests: r.requests,
    status: r.status,
    bytes_in: r.bytes_in,
    bytes_out: r.bytes_out,
    latency_ms_avg: r.latency_ms_avg,
    latency_ms_p50: r.latency_ms_p50,
    latency_ms_p95: r.latency_ms_p95,
    latency_ms_p99: r.latency_ms_p99,
  }));
}

const CLASSES = ['2xx', '3xx', '4xx', '5xx'];

export function bucketsCsv(buckets: readonly BillingBucket[]): string {
  const header = ['id', 'period_start', 'period_end', 'consumer', 'credential', 'service', 'route', 'plan', 'requests', ...CLASSES, 'other', 'bytes_in', 'bytes_out', 'latency_ms_avg', 'latency_ms_p50', 'latency_ms_p95', 'latency_ms_p99'];
  const esc = (v: string): string => (/[",\n\r]/.test(v) || /^[=+\-@\t\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const num = (v: number | null): string => (v === null ? '' : String(v));
  const lines = buckets.map((b) => {
    const other = Object.entries(b.status).filter(([c]) => !CLASSES.includes(c)).reduce((n, [, v]) => n + v, 0);
    return [b.id, b.period_start, b.period_end, esc(b.consumer), esc(b.credential), esc(b.service), esc(b.route), esc(b.plan), String(b.requests), ...CLASSES.map((c) => String(b.status[c] ?? 0)), String(other), String(b.bytes_in), String(b.bytes_out), String(b.latency_ms_avg), num(b.latency_ms_p50), num(b.latency_ms_p95), num(b.latency_ms_p99)].join(',');
  });
  return [header.join(','), ...lines].join('\n') + '\n';
}

/**
 * The end of the last closed hour at `now`: an hour is closed once every process has flushed
 * its rows of it (one flush interval after its end, and as much again for a slow store).
 */
export function closedUntil(now: number, flushIntervalMs: number): number {
  const settled = now - 2 * flushIntervalMs;
  return settled - (settled % HOUR);
}

/**
 * Pushes the closed hours of the last `lookback` to `metering.export.url` every `interval`,
 * as one JSON body `{"buckets": [...]}` per hour. An hour the endpoint accepted (2xx) is sent
 * again only if its buckets changed; a failed hour is sent again at the next interval (the
 * ids keep it from being billed twice). Failures are logged, at most one line per interval.
 */
export class UsagePusher {
  readonly #settings: MeteringSettings;
  readonly #export: UsageExportSettings;
  readonly #logger: Logger;
  readonly #planOf: () => (consumer: string) => string | null;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #timer: NodeJS.Timeout;
  /** Accepted hours: hour start → a digest of what was sent. */
  readonly #accepted = new Map<number, string>();
  #running: Promise<void> | null = null;
  /** Buckets the endpoint accepted, and pushes that failed, since start. */
  sent = 0;
  failed = 0;

  /** `planOf`: the current config's consumer → plan lookup. */
  constructor(settings: MeteringSettings, exportSettings: UsageExportSettings, logger: Logger, planOf: () => (consumer: string) => string | null) {
    this.#settings = settings;
    this.#export = exportSettings;
    this.#logger = logger;
    this.#planOf = planOf;
    const url = new URL(exportSettings.url);
    this.#pool = createPool(url.origin, { connections: 1, ...(exportSettings.tls !== null ? { connect: exportSettings.tls } : {}) });
    this.#path = url.pathname + url.search;
    this.#headers = Object.entries({ ...exportSettings.headers, 'content-type': 'application/json' }).flat();
    this.#timer = setInterval(() => void this.push(), exportSettings.intervalMs);
    this.#timer.unref();
    setImmediate(() => void this.push());
  }

  /** One round: every closed hour of the lookback not yet accepted as it is now. */
  push(): Promise<void> {
    this.#running ??= this.#round().finally(() => (this.#running = null));
    return this.#running;
  }

  async #round(): Promise<void> {
    const to = closedUntil(clock.now(), this.#settings.flushIntervalMs);
    const from = to - this.#export.lookbackMs;
    for (const hour of this.#accepted.keys()) if (hour < from) this.#accepted.delete(hour);
    // Nothing metered yet: no SQLite file until the first flush.
    const store = this.#settings.store;
    if (store.kind === 'sqlite' && !existsSync(store.path)) return;
    let rows: UsageSummary[];
    try {
      rows = await queryUsage(this.#settings.store, { from, to, by: 'hour' });
    } catch (err) {
      this.failed++;
      this.#logger.warn({ type: 'metering', err: (err as Error).message }, 'usage export: cannot read the metering store; retrying at the next interval');
      return;
    }
    const byHour = new Map<number, BillingBucket[]>();
    for (const b of billingBuckets(rows, this.#planOf())) {
      const hour = Date.parse(b.period_start);
      let list = byHour.get(hour);
      if (list === undefined) byHour.set(hour, (list = []));
      list.push(b);
    }
    for (const [hour, buckets] of [...byHour].sort(([a], [b]) => a - b)) {
      const body = Buffer.from(JSON.stringify({ buckets }));
      const digest = createHash('sha256').update(body).digest('base64url');
      if (this.#accepted.get(hour) === digest) continue;
      const status = await this.#post(body);
      if (status >= 200 && status < 300) {
        this.#accepted.set(hour, digest);
        this.sent += buckets.length;
        continue;
      }
      this.failed++;
      this.#logger.warn({ type: 'metering', hour: new Date(hour).toISOString(), buckets: buckets.length, reason: status === 0 ? 'no answer' : `answered ${status}` }, 'usage export: push failed; retrying at the next interval');
      return;
    }
  }

  /** The status of one POST (http-post.ts), 0 when there was no answer. */
  #post(body: Buffer): Promise<number> {
    return post(this.#pool, this.#path, this.#headers, body, this.#export.timeoutMs).then(
      (a) => a.status,
      () => 0,
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
    await this.#pool.destroy();
  }
}
