// The dashboard's last hour: the node's metrics (summed across workers, as /metrics serves
// them) read every few seconds, kept as per-interval deltas per service and route in a ring
// of one hour, and summarised on demand. Reading the metrics is the only cost, once per
// interval and never per request.

export const SAMPLE_MS = 5000;
export const WINDOW_SAMPLES = 720;
/** Series kept per interval; the rest are summed into one "(other)" series. */
export const MAX_SERIES = 64;
const OTHER = '(other)\u0000(other)';

/** One Prometheus text-format sample. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the Prometheus text format (comments skipped; unparseable lines too). */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3] !== undefined) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[3])) !== null) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = m[4] === '+Inf' ? Infinity : Number(m[4]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Cumulative counts of one service/route at one reading. */
interface Cumulative {
  requests: number;
  errors: number;
  rateLimited: number;
  quotaExceeded: number;
  /** Histogram bucket counts, in `bounds` order (+Inf last). */
  buckets: number[];
}

/** What one interval added, per series. */
interface Interval {
  at: number;
  seconds: number;
  series: Map<string, Float64Array>;
}

const REQ = 0;
const ERR = 1;
const RL = 2;
const QX = 3;
const B0 = 4;

export interface RouteStats {
  service: string;
  route: string;
  requests: number;
  rps: number;
  error_rate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  rate_limited: number;
  quota_exceeded: number;
}

export interface TrafficPoint {
  at: number;
  rps: number;
  error_rate: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export class TrafficHistory {
  readonly #read: () => Promise<string>;
  #bounds: number[] = [];
  /** The previous reading; before the first, the node's start, when every counter was 0. */
  #last = new Map<string, Cumulative>();
  #lastAt = Date.now();
  readonly #ring: Interval[] = [];
  #gauges: MetricSample[] = [];
  #timer: NodeJS.Timeout | null = null;
  #reading: Promise<void> | null = null;

  constructor(read: () => Promise<string>) {
    this.#read = read;
  }

  start(now = Date.now()): void {
    if (this.#timer !== null) return;
    this.#lastAt = now;
    this.#timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Reads the metrics once (a reading in progress is shared); a failed reading is skipped. */
  sample(now = Date.now()): Promise<void> {
    this.#reading ??= this.#read()
      .then((text) => this.#ingest(parseMetrics(text), now))
      .catch(() => undefined)
      .finally(() => (this.#reading = null));
    return this.#reading;
  }

  #ingest(samples: MetricSample[], now: number): void {
    const current = new Map<string, Cumulative>();
    const at = (labels: Record<string, string>): Cumulative | null => {
      if (labels['service'] === undefined) return null;
      let key = `${labels['service']}\u0000${labels['route'] ?? ''}`;
      if (!current.has(key) && current.size >= MAX_SERIES) key = OTHER;
      let c = current.get(key);
      if (c === undefined) current.set(key, (c = { requests: 0, errors: 0, rateLimited: 0, quotaExceeded: 0, buckets: [] }));
      return c;
    };
    const bounds = new Set<number>();
    for (const s of samples) if (s.name === 'northgate_http_request_duration_seconds_bucket') bounds.add(Number(s.labels['le'] === '+Inf' ? Infinity : s.labels['le']));
    this.#bounds = [...bounds].sort((a, b) => a - b);
    const index = new Map(this.#bounds.map((b, i) => [b, i]));
    this.#gauges = [];
    for (const s of samples) {
      switch (s.name) {
        case 'northgate_http_requests_total': {
          const c = at(s.labels);
          if (c === null) break;
          c.requests += s.value;
          if ((s.labels['code'] ?? '').startsWith('5')) c.errors += s.value;
          break;
        }
        case 'northgate_rate_limited_total': {
          const c = at(s.labels);
          if (c !== null) c.rateLimited += s.value;
          break;
        }
        case 'northgate_quota_exceeded_total': {
          const c = at(s.labels);
          if (c !== null) c.quotaExceeded += s.value;
          break;
        }
        case 'northgate_http_request_duration_seconds_bucket': {
          const c = at(s.labels);
          const i = index.get(Number(s.labels['le'] === '+Inf' ? Infinity : s.labels['le']));
          if (c !== null && i !== undefined) c.buckets[i] = (c.buckets[i] ?? 0) + s.value;
          break;
        }
        case 'northgate_upstream_target_health':
        case 'northgate_circuit_state':
        case 'northgate_config_reloads_total':
        case 'northgate_config_last_reload_success_timestamp_seconds':
          this.#gauges.push(s);
      }
    }
    const previous = this.#last;
    this.#last = current;
    const seconds = (now - this.#lastAt) / 1000;
    this.#lastAt = now;
    if (seconds <= 0) return;
    const series = new Map<string, Float64Array>();
    const width = B0 + this.#bounds.length;
    for (const [key, c] of current) {
      const p = previous.get(key);
      const d = new Float64Array(width);
      // A counter that went down was reset (a worker restarted): all of it is new.
      const delta = (now: number, before: number | undefined) => (before === undefined || now < before ? now : now - before);
      d[REQ] = delta(c.requests, p?.requests);
      d[ERR] = delta(c.errors, p?.errors);
      d[RL] = delta(c.rateLimited, p?.rateLimited);
      d[QX] = delta(c.quotaExceeded, p?.quotaExceeded);
      for (let i = 0; i < this.#bounds.length; i++) d[B0 + i] = delta(c.buckets[i] ?? 0, p?.buckets[i]);
      if (d.some((v) => v !== 0)) series.set(key, d);
    }
    this.#ring.push({ at: now, seconds, series });
    if (this.#ring.length > WINDOW_SAMPLES) this.#ring.shift();
  }

  /** The last hour per service and route, the points of one series (or of all), and the gauges. */
  summary(only?: { service: string; route: string | null }): { since: number | null; bounds: number[]; routes: RouteStats[]; points: TrafficPoint[]; gauges: MetricSample[] } {
    const totals = new Map<string, Float64Array>();
    let seconds = 0;
    const points: TrafficPoint[] = [];
    const width = B0 + this.#bounds.length;
    for (const interval of this.#ring) {
      seconds += interval.seconds;
      const sum = new Float64Array(width);
      for (const [key, d] of interval.series) {
        let t = totals.get(key);
        if (t === undefined) totals.set(key, (t = new Float64Array(width)));
        addInto(t, d);
        const [service, route] = key.split('\u0000') as [string, string];
        if (only === undefined || (only.service === service && (only.route === null || only.route === route))) addInto(sum, d);
      }
      points.push({ at: interval.at, rps: sum[REQ]! / interval.seconds, error_rate: sum[REQ]! > 0 ? sum[ERR]! / sum[REQ]! : 0, ...percentiles(this.#bounds, sum) });
    }
    const routes = [...totals].map(([key, t]): RouteStats => {
      const [service, route] = key.split('\u0000') as [string, string];
      return {
        service,
        route,
        requests: t[REQ]!,
        rps: seconds > 0 ? t[REQ]! / seconds : 0,
        error_rate: t[REQ]! > 0 ? t[ERR]! / t[REQ]! : 0,
        ...percentiles(this.#bounds, t),
        rate_limited: t[RL]!,
        quota_exceeded: t[QX]!,
      };
    });
    routes.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : a.route < b.route ? -1 : 1));
    return { since: this.#ring[0] === undefined ? null : this.#ring[0].at - this.#ring[0].seconds * 1000, bounds: this.#bounds, routes, points, gauges: this.#gauges };
  }
}

function addInto(into: Float64Array, d: Float64Array): void {
  for (let i = 0; i < d.length && i < into.length; i++) into[i]! += d[i]!;
}

/** p50/p95/p99 in milliseconds, interpolated inside the bucket as Prometheus' histogram_quantile does. */
function percentiles(bounds: number[], d: Float64Array): { p50: number | null; p95: number | null; p99: number | null } {
  const total = bounds.length === 0 ? 0 : d[B0 + bounds.length - 1]!;
  const q = (p: number): number | null => {
    if (total <= 0) return null;
    const rank = p * total;
    for (let i = 0; i < bounds.length; i++) {
      const count = d[B0 + i]!;
      if (count >= rank) {
        const upper = bounds[i]!;
        const lower = i === 0 ? 0 : bounds[i - 1]!;
        if (upper === Infinity) return lower * 1000;
        const below = i === 0 ? 0 : d[B0 + i - 1]!;
        const inBucket = count - below;
        return (lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
      }
    }
    return null;
  };
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}
