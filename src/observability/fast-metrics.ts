// Counter and histogram for the per-request metrics, exported through prom-client's
// registry (text format, cluster aggregation) but recorded without prom-client's per-call
// label hashing and validation: a bound child is a plain object with numbers, and
// `observe` is a scan over the bucket bounds. Everything else (gauges, default metrics,
// rarely-touched counters) stays plain prom-client.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Exported {
  labels: Labels;
  value: number;
  metricName?: string;
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registers: Registry[];
}

function labelObject(names: readonly string[], values: readonly string[]): Labels {
  const labels: Labels = {};
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i] ?? '';
  return labels;
}

export class FastCounterChild {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #children = new Map<string, FastCounterChild>();

  constructor(o: MetricOptions) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames;
    for (const r of o.registers) r.registerMetric(this as never);
  }

  /** The child for these label values (in labelNames order); keep it, it is the fast path. */
  labels(...values: string[]): FastCounterChild {
    const key = values.join('\u0000');
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new FastCounterChild(labelObject(this.#labelNames, values));
      this.#children.set(key, child);
    }
    return child;
  }

  /** Slow path for label sets that are not cached by the caller. */
  inc(labels: Labels, by = 1): void {
    this.labels(...this.#labelNames.map((n) => labels[n] ?? '')).inc(by);
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Exported[] } {
    const values: Exported[] = [];
    for (const c of this.#children.values()) values.push({ labels: c.labels, value: c.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#children.clear();
  }
}

export class FastHistogramChild {
  sum = 0;
  count = 0;
  /** Per-bucket (not cumulative) counts; values above the last bound only count in `count`. */
  readonly counts: Float64Array;
  constructor(
    readonly labels: Labels,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #labelNames: readonly string[];
  readonly #bounds: readonly number[];
  readonly #children = new Map<string, FastHistogramChild>();

  constructor(o: MetricOptions & { buckets: readonly number[] }) {
    this.name = o.name;
    this.help = o.help;
    this.#labelNames = o.labelNames;
    this.#bounds = [...o.buckets].sort((a, b) => a - b);
    for (const r of o.registers) r.registerMetric(this as never);
  }

  labels(...values: string[]): FastHistogramChild {
    const key = values.join('\u0000');
    let child = this.#children.get(key);
    if (child === undefined) {
      child = new FastHistogramChild(labelObject(this.#labelNames, values), this.#bounds);
      this.#children.set(key, child);
    }
    return child;
  }

  /** The same shape prom-client's Histogram#get() returns, so the registry renders and aggregates it. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Exported[] } {
    const values: Exported[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.#children.values()) {
      let acc = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        acc += c.counts[i]!;
        values.push({ labels: { le: this.#bounds[i] as unknown as string, ...c.labels }, value: acc, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: bucket });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#children.clear();
  }
}
