// The breaker's state machine, the adaptive limit's arithmetic and the limiter's queue,
// driven directly (times passed in where the code takes them).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdaptiveLimit } from '../../src/upstream/adaptive.js';
import { CLOSED, CircuitBreaker, HALF_OPEN, OPEN } from '../../src/upstream/circuit-breaker.js';
import { ConcurrencyLimiter, type Waiter } from '../../src/upstream/concurrency.js';
import { configProblems } from '../helpers/config.js';
import { buildSnapshot, loadConfigText } from '../../src/compiler/load.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';

const policy = { failureRatio: 0.5, minRequests: 4, windowMs: 60_000, openForMs: 1000, halfOpenRequests: 2 };

describe('CircuitBreaker', () => {
  test('stays closed below min_requests and below the ratio; opens at the ratio', () => {
    const b = new CircuitBreaker('s', policy);
    const now = performance.now();
    for (let i = 0; i < 3; i++) b.failure(b.tryAcquire(now));
    assert.equal(b.state, CLOSED, '3 outcomes < min_requests');
    for (let i = 0; i < 4; i++) b.success(b.tryAcquire(now));
    assert.equal(b.state, CLOSED, '3/7 failed');
    b.failure(b.tryAcquire(now));
    assert.equal(b.state, OPEN, '4/8 failed');
    b.dispose();
  });

  test('open refuses until open_for, then half-open admits exactly half_open_requests probes', () => {
    const b = new CircuitBreaker('s', policy);
    const now = performance.now();
    for (let i = 0; i < 4; i++) b.failure(b.tryAcquire(now));
    assert.equal(b.tryAcquire(now + 10), -1);
    assert.ok(b.retryAfterMs(now + 10) > 900);
    const later = b.openUntil + 1;
    const p1 = b.tryAcquire(later);
    assert.equal(b.state, HALF_OPEN);
    const p2 = b.tryAcquire(later);
    assert.ok(p1 >= 0 && p2 >= 0);
    assert.equal(b.tryAcquire(later), -1, 'a third request is refused while the probes are out');
    b.release(p2);
    const p3 = b.tryAcquire(later);
    assert.ok(p3 >= 0, 'a probe that ended without an outcome gives its permit back');
    b.success(p1);
    assert.equal(b.state, HALF_OPEN);
    b.success(p3);
    assert.equal(b.state, CLOSED);
    b.dispose();
  });

  test('a failed probe opens again; outcomes of an older generation are ignored', () => {
    const b = new CircuitBreaker('s', policy);
    const now = performance.now();
    const old = b.tryAcquire(now);
    for (let i = 0; i < 4; i++) b.failure(b.tryAcquire(now));
    const probe = b.tryAcquire(b.openUntil + 1);
    b.success(old);
    assert.equal(b.state, HALF_OPEN, 'a request admitted while closed does not count as a probe');
    b.failure(probe);
    assert.equal(b.state, OPEN);
    b.dispose();
  });
});

describe('AdaptiveLimit', () => {
  const p = { sampleWindowMs: 100, minRttIntervalMs: 3_600_000, minRttSamples: 5, buffer: 0.25, minLimit: 2, maxLimit: 100 };

  test('measures minRTT at min_limit, grows while latency stays near it, falls when it rises, recovers', () => {
    const a = new AdaptiveLimit(p);
    let t = 0;
    assert.equal(a.limit, 2);
    for (let i = 0; i < 5; i++) a.sample(10, t++);
    assert.equal(a.minRtt, 10);
    // Fast windows: the limit climbs.
    for (let w = 0; w < 20; w++) for (let i = 0; i < 10; i++) a.sample(10, (t += 11));
    const high = a.limit;
    assert.ok(high >= 50, `limit ${high}`);
    // Slow windows (10x the latency): it at least halves per window, down to the floor.
    a.sample(100, (t += 101));
    assert.ok(a.limit <= high / 2 + Math.sqrt(high), `limit ${a.limit}`);
    for (let w = 0; w < 5; w++) for (let i = 0; i < 3; i++) a.sample(100, (t += 40));
    assert.ok(a.limit <= 10, `limit ${a.limit}`);
    // Fast again: it climbs back.
    for (let w = 0; w < 30; w++) for (let i = 0; i < 3; i++) a.sample(10, (t += 40));
    assert.ok(a.limit >= 50, `recovered limit ${a.limit}`);
  });

  test('stuck at min_limit for 5 windows: a new minRTT is measured (the slower normal is learned)', () => {
    const a = new AdaptiveLimit(p);
    let t = 0;
    for (let i = 0; i < 5; i++) a.sample(10, t++);
    for (let w = 0; w < 8; w++) a.sample(1000, (t += 101));
    assert.equal(a.measuring, true);
    for (let i = 0; i < 5; i++) a.sample(1000, t++);
    assert.equal(a.minRtt, 1000);
    for (let w = 0; w < 10; w++) a.sample(1000, (t += 101));
    assert.ok(a.limit > 10, `limit ${a.limit}`);
  });
});

describe('ConcurrencyLimiter', () => {
  const waiter = (log: string[], name: string): Waiter => ({
    deadline: 0,
    prev: null,
    next: null,
    queued: false,
    admit: () => log.push(`admit ${name}`),
    expire: () => log.push(`expire ${name}`),
  });

  test('FIFO hand-over of freed slots; a removed waiter never gets one; a full queue refuses', () => {
    const l = new ConcurrencyLimiter(1, { size: 2, timeoutMs: 60_000 }, null);
    const log: string[] = [];
    assert.equal(l.tryAcquire(), true);
    assert.equal(l.tryAcquire(), false);
    const [a, b, c] = [waiter(log, 'a'), waiter(log, 'b'), waiter(log, 'c')];
    assert.equal(l.enqueue(a, 0), true);
    assert.equal(l.enqueue(b, 0), true);
    assert.equal(l.enqueue(c, 0), false, 'queue full');
    l.remove(a);
    l.release();
    assert.deepEqual(log, ['admit b']);
    assert.equal(l.inflight, 1);
    l.release();
    assert.equal(l.inflight, 0);
    assert.equal(l.queued, 0);
  });

  test('waiters past the queue timeout expire, the others stay', async () => {
    const l = new ConcurrencyLimiter(1, { size: 5, timeoutMs: 20 }, null);
    const log: string[] = [];
    l.tryAcquire();
    const now = performance.now();
    const expired = new Promise<void>((resolve) => {
      const w = waiter(log, 'a');
      w.expire = () => {
        log.push('expire a');
        resolve();
      };
      l.enqueue(w, now);
    });
    // The limiter's timer is unref'd (it must not hold a gateway open), so this test holds
    // the event loop itself, bounded: without it the process may end before the sweep.
    let guard: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the waiter never expired')), 5_000);
    });
    try {
      await Promise.race([expired, timedOut]);
    } finally {
      clearTimeout(guard);
    }
    assert.deepEqual(log, ['expire a']);
    assert.equal(l.queued, 0);
  });
});

describe('config', () => {
  test('a queue without a limit, min_limit above max_limit and a zero window are located errors', () => {
    const problems = configProblems(
      `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    queue: { size: 10 }
    circuit_breaker: { window: 0s }
  - name: t
    url: "http://127.0.0.1:1"
    adaptive_concurrency: { min_limit: 50, max_limit: 10 }
    routes: [{ paths: ["/"], timeouts: { total: 0ms } }]
`,
      'c.yaml',
    );
    assert.deepEqual(problems, [
      'c.yaml:5:12 services[0].queue: a queue needs "max_concurrent" or "adaptive_concurrency" on the same service',
      'c.yaml:6:32 services[0].circuit_breaker.window: must be more than 0',
      'c.yaml:9:40 services[1].adaptive_concurrency.min_limit: must not be above max_limit',
      'c.yaml:10:49 services[1].routes[0].timeouts.total: must be more than 0',
    ]);
  });
});

describe('compiled route timeouts', () => {
  test("a route's timeouts override its service's and share the service's guard, stats and retry policy", async () => {
    const registry = defaultRegistry();
    const pools = new PoolRegistry();
    const config = loadConfigText(
      'c.yaml',
      `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    timeouts: { connect: 2s, read: 30s, total: 1m }
    circuit_breaker: {}
    max_concurrent: 10
    routes:
      - { name: plain, paths: ["/a"] }
      - { name: quick, paths: ["/b"], timeouts: { connect: 100ms, total: 5s } }
`,
      registry,
    );
    const { snapshot } = buildSnapshot(config, registry, pools, 1, 'c.yaml');
    const route = (name: string) => snapshot.routes.find((e) => e.route.name === name)!.route;
    const base = route('plain').service;
    const quick = route('quick').service;
    assert.deepEqual([base.connectTimeoutMs, base.readTimeoutMs, base.totalTimeoutMs], [2000, 30_000, 60_000]);
    assert.deepEqual([quick.connectTimeoutMs, quick.readTimeoutMs, quick.totalTimeoutMs], [100, 30_000, 5000]);
    assert.notEqual(quick.upstream.targets[0]!.dispatcher, base.upstream.targets[0]!.dispatcher, 'another connect timeout, another pool');
    assert.equal(quick.upstream.targets[0]!.health, base.upstream.targets[0]!.health);
    assert.equal(quick.guard, base.guard);
    assert.equal(quick.stats, base.stats);
    assert.equal(quick.retries, base.retries);
    assert.equal(snapshot.services.get('s'), base);
    await pools.closeAll();
  });
});
