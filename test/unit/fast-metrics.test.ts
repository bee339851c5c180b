import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../src/observability/fast-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.5, 2, 30];

describe('fast metrics render exactly as prom-client does', () => {
  test('histogram: same text for the same observations', async () => {
    const a = new Registry();
    const b = new Registry();
    const slow = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['service', 'route'], buckets: BUCKETS, registers: [a] });
    const fast = new FastHistogram({ name: 'h_seconds', help: 'h', labelNames: ['service', 'route'], buckets: BUCKETS, registers: [b] });
    const s1 = slow.labels('s', 'r1');
    const s2 = slow.labels('s', 'r2');
    const f1 = fast.labels('s', 'r1');
    const f2 = fast.labels('s', 'r2');
    for (const v of VALUES) {
      s1.observe(v);
      f1.observe(v);
      s2.observe(v * 3);
      f2.observe(v * 3);
    }
    assert.equal(await b.metrics(), await a.metrics());
    assert.ok((await b.metrics()).includes('h_seconds_bucket{le="0.01",service="s",route="r1"} 4'));
  });

  test('counter: same text, cached child and label-object paths agree', async () => {
    const a = new Registry();
    const b = new Registry();
    const slow = new Counter({ name: 'c_total', help: 'c', labelNames: ['method', 'code'], registers: [a] });
    const fast = new FastCounter({ name: 'c_total', help: 'c', labelNames: ['method', 'code'], registers: [b] });
    slow.labels('GET', '200').inc();
    slow.labels('GET', '200').inc();
    slow.inc({ method: 'POST', code: '500' }, 3);
    const child = fast.labels('GET', '200');
    child.inc();
    child.inc();
    fast.inc({ method: 'POST', code: '500' }, 3);
    assert.equal(await b.metrics(), await a.metrics());
  });

  test('cluster aggregation sums workers as for prom-client metrics', async () => {
    const workers = [new Registry(), new Registry()];
    workers.forEach((r, i) => {
      const h = new FastHistogram({ name: 'h_seconds', help: 'h', labelNames: ['route'], buckets: BUCKETS, registers: [r] });
      h.labels('x').observe(0.005 * (i + 1));
    });
    const merged = AggregatorRegistry.aggregate(await Promise.all(workers.map((r) => r.getMetricsAsJSON())));
    const text = await merged.metrics();
    assert.match(text, /h_seconds_count\{route="x"\} 2/);
    assert.match(text, /h_seconds_bucket\{le="0\.01",route="x"\} 2/);
  });
});
