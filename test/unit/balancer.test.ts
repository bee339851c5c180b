// Balancers and target health as pure data structures: Maglev's remapping bound and
// evenness, weighted round-robin order, least-connections and peak-EWMA scoring, ejection
// growth, decay and the ejected-share cap, and the upstream config checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Target } from '../../src/upstream/target.js';
import { attemptEnded, attemptStarted } from '../../src/upstream/balancer.js';
import { ConsistentHash, buildMaglevTable, cookieValue, queryArg } from '../../src/upstream/balancers/consistent-hash.js';
import { LeastConnections } from '../../src/upstream/balancers/least-connections.js';
import { PeakEwmaP2C } from '../../src/upstream/balancers/p2c-ewma.js';
import { RoundRobin } from '../../src/upstream/balancers/round-robin.js';
import { TargetHealth, retryAfterSeconds, type OutlierPolicy } from '../../src/upstream/health.js';
import { configProblems } from '../helpers/config.js';

/** A target as the balancers see it (no pool: nothing is dialled here). */
function target(url: string, weight = 1, rttDecayMs = 0): Target {
  const u = new URL(url);
  return { url, origin: url, hostname: u.hostname, port: Number(u.port), weight, dispatcher: null as never, health: new TargetHealth(), rttDecayMs, hostHeader: null };
}
const targets = (n: number): Target[] => Array.from({ length: n }, (_, i) => target(`http://10.0.0.${i + 1}:80`));
const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe('Maglev consistent hash', () => {
  for (const n of [3, 5, 10, 20]) {
    test(`removing one of ${n} targets remaps about 1/${n} of the keys`, () => {
      const all = targets(n);
      const before = new ConsistentHash(all, 'header', 'x', 65_537);
      const removed = all[Math.floor(n / 2)]!;
      const after = new ConsistentHash(
        all.filter((t) => t !== removed),
        'header',
        'x',
        65_537,
      );
      let moved = 0;
      let movedFromKept = 0;
      for (const k of keys) {
        const a = before.pickKey(k, 0, null)!;
        const b = after.pickKey(k, 0, null)!;
        if (a !== b) {
          moved++;
          if (a !== removed) movedFromKept++;
        }
      }
      const share = moved / keys.length;
      assert.ok(share <= 1 / n + 0.03, `${(share * 100).toFixed(1)}% of keys moved (1/N = ${(100 / n).toFixed(1)}%)`);
      assert.ok(movedFromKept / keys.length <= 0.03, `${movedFromKept} keys of kept targets moved`);
    });
  }

  test('the table is even: every target owns its share of entries (weights respected)', () => {
    const even = buildMaglevTable(['a', 'b', 'c', 'd'], [1, 1, 1, 1], 65_537);
    const counts = [0, 0, 0, 0];
    for (const i of even) counts[i]!++;
    for (const c of counts) assert.ok(Math.abs(c / 65_537 - 0.25) < 0.01, `${c}`);
    const weighted = buildMaglevTable(['a', 'b'], [3, 1], 65_537);
    const w = [0, 0];
    for (const i of weighted) w[i]!++;
    assert.ok(Math.abs(w[0]! / 65_537 - 0.75) < 0.02, `weight 3:1 gave ${w.join(':')}`);
    assert.ok(!even.includes(-1) && !weighted.includes(-1), 'every entry is filled');
  });

  test('same key, same target; an unavailable target is skipped for the next entry, other keys stay', () => {
    const all = targets(5);
    const ch = new ConsistentHash(all, 'header', 'x', 65_537);
    const owner = new Map(keys.slice(0, 2000).map((k) => [k, ch.pickKey(k, 0, null)!]));
    for (const [k, t] of owner) assert.equal(ch.pickKey(k, 0, null), t);
    const down = all[2]!;
    down.health.ejectedUntil = 10_000;
    let moved = 0;
    for (const [k, t] of owner) {
      const now = ch.pickKey(k, 5_000, null)!;
      assert.notEqual(now, down);
      if (t !== down) assert.equal(now, t, 'keys of healthy targets do not move');
      else moved++;
      assert.equal(ch.pickKey(k, 5_000, null), now, 'the fallback target is stable too');
    }
    assert.ok(moved > 0);
    // Once it is back, its keys come back.
    for (const [k, t] of owner) assert.equal(ch.pickKey(k, 20_000, null), t);
    for (const t of all) t.health.ejectedUntil = 10_000;
    assert.equal(ch.pickKey('user-1', 5_000, null), null, 'nothing available: null at once');
  });

  test('cookie and query argument extraction', () => {
    assert.equal(cookieValue('a=1; session=abc; b=2', 'session'), 'abc');
    assert.equal(cookieValue('a=1', 'session'), undefined);
    assert.equal(queryArg('?x=1&user=j%20d&y', 'user'), 'j d');
    assert.equal(queryArg('?y', 'y'), '');
    assert.equal(queryArg('', 'user'), undefined);
  });
});

describe('round-robin, least-connections, P2C', () => {
  test('smooth weighted round-robin spreads the heavy target (3:1 gives a,a,b,a)', () => {
    const a = target('http://10.0.0.1:80', 3);
    const b = target('http://10.0.0.2:80', 1);
    const rr = new RoundRobin([a, b]);
    const seq = Array.from({ length: 8 }, () => (rr.pick(0, null) === a ? 'a' : 'b')).join('');
    assert.equal(seq, 'aabaaaba');
  });

  test('least-connections takes the fewest in flight per weight, ties in turn', () => {
    const [a, b, c] = targets(3) as [Target, Target, Target];
    const lc = new LeastConnections([a, b, c]);
    const idle = new Set([lc.pick(0, null), lc.pick(0, null), lc.pick(0, null)]);
    assert.equal(idle.size, 3, 'an idle upstream is spread');
    attemptStarted(a);
    attemptStarted(a);
    attemptStarted(b);
    assert.equal(lc.pick(0, null), c);
    attemptStarted(c);
    attemptStarted(c);
    assert.equal(lc.pick(0, null), b, 'b has one in flight, a and c two');
    attemptEnded(a, 0, 1);
    attemptEnded(a, 0, 1);
    assert.equal(a.health.inflight, 0);
    const heavy = target('http://10.0.0.9:80', 4);
    heavy.health.inflight = 2;
    assert.equal(new LeastConnections([a, heavy]).pick(0, null), heavy, '(2+1)/4 < (0+1)/1');
  });

  test('peak EWMA: a slower sample is taken at once, a faster one blends in, an idle target decays', () => {
    const h = new TargetHealth();
    h.observeRtt(10, 1_000, 10_000);
    assert.equal(h.rttMs, 10);
    h.observeRtt(100, 1_001, 10_000);
    assert.equal(h.rttMs, 100, 'peak');
    h.observeRtt(10, 2_001, 10_000);
    assert.ok(h.rttMs < 100 && h.rttMs > 80, `blended ${h.rttMs}`);
    assert.ok(h.decayedRtt(2_001 + 30_000, 10_000) < 5, 'decays while idle, so the target is probed again');
  });

  test('P2C prefers the faster of the two draws; with two targets the slow one loses every time', () => {
    const fast = target('http://10.0.0.1:80', 1, 10_000);
    const slow = target('http://10.0.0.2:80', 1, 10_000);
    fast.health.observeRtt(2, 1_000, 10_000);
    slow.health.observeRtt(200, 1_000, 10_000);
    const p2c = new PeakEwmaP2C([fast, slow], 10_000);
    for (let i = 0; i < 50; i++) assert.equal(p2c.pick(1_000, null), fast);
    fast.health.inflight = 200;
    assert.equal(p2c.pick(1_000, null), slow, 'load counts: 2 ms × 201 > 200 ms × 1');
    fast.health.ejectedUntil = 5_000;
    assert.equal(p2c.pick(1_000, null), slow, 'an unavailable draw is skipped');
    slow.health.checkHealthy = false;
    assert.equal(p2c.pick(1_000, null), null);
  });

  test('a failed attempt counts at least twice the current latency', () => {
    const t = target('http://10.0.0.1:80', 1, 10_000);
    t.health.observeRtt(50, Date.now(), 10_000);
    attemptStarted(t);
    attemptEnded(t, performance.now(), 0);
    assert.ok(t.health.rttMs >= 99, `${t.health.rttMs}`);
  });
});

describe('passive health', () => {
  const policy: OutlierPolicy = { consecutiveFailures: 2, baseEjectionMs: 1_000, maxEjectionMs: 5_000, maxEjectedPercent: 50 };

  test('the ejection time doubles with each ejection, up to the max', () => {
    const h = new TargetHealth();
    const durations: number[] = [];
    let now = 0;
    for (let i = 0; i < 5; i++) {
      h.failure(now, policy, 0, 4);
      assert.equal(h.failure(now, policy, 0, 4), true);
      durations.push(h.ejectedUntil - now);
      now = h.ejectedUntil; // fails again as soon as it is back
    }
    assert.deepEqual(durations, [1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  test('the multiplier shrinks by one step per base ejection time spent healthy', () => {
    const h = new TargetHealth();
    let now = 0;
    for (let i = 0; i < 3; i++) {
      h.failure(now, policy, 0, 4);
      h.failure(now, policy, 0, 4);
      now = h.ejectedUntil;
    }
    assert.equal(h.ejections, 3);
    now += 2_500; // healthy for 2.5 base periods: two steps off
    h.failure(now, policy, 0, 4);
    h.failure(now, policy, 0, 4);
    assert.equal(h.ejectedUntil - now, 2_000);
  });

  test('at most max_ejected_percent of the targets are ejected at once (one always can be)', () => {
    const h = new TargetHealth();
    h.failure(0, policy, 2, 4);
    assert.equal(h.failure(0, policy, 2, 4), false, '3 of 4 would pass 50%');
    assert.equal(h.failure(0, policy, 1, 4), true, '2 of 4 is allowed');
    const alone = new TargetHealth();
    alone.failure(0, { ...policy, maxEjectedPercent: 0 }, 0, 1);
    assert.equal(alone.failure(0, { ...policy, maxEjectedPercent: 0 }, 0, 1), true);
  });

  test('Retry-After: until the first ejection ends, or until active checks can have passed', () => {
    const a = { health: new TargetHealth() };
    const b = { health: new TargetHealth() };
    a.health.ejectedUntil = 30_000;
    b.health.ejectedUntil = 12_500;
    assert.equal(retryAfterSeconds([a, b], 10_000, 0), 3);
    b.health.ejectedUntil = 0;
    b.health.checkHealthy = false;
    assert.equal(retryAfterSeconds([a, b], 10_000, 4_000), 4);
  });
});

describe('upstream config checks', () => {
  const up = (extra: string) => `_format_version: "1"
upstreams:
  - name: u
    targets: [{ url: "http://127.0.0.1:1" }]
${extra}
services: [{ name: s, upstream: u, routes: [{ paths: ["/"] }] }]
`;
  test('balancer names and options are checked, with locations', () => {
    assert.deepEqual(configProblems(up('    balancer: fastest'), 'a.yaml'), [
      'a.yaml:5:15 upstreams[0].balancer: must be round-robin, least-connections, random-two-choices or consistent-hash, or an object with "algorithm"',
    ]);
    assert.deepEqual(configProblems(up('    balancer: { algorithm: consistent-hash }'), 'a.yaml'), ['a.yaml:5:15 upstreams[0].balancer: consistent-hash needs "hash_on" (header, cookie, ip, consumer, path or query_arg)']);
    assert.deepEqual(configProblems(up('    balancer: { algorithm: consistent-hash, hash_on: cookie }'), 'a.yaml'), ['a.yaml:5:15 upstreams[0].balancer: hash_on cookie needs "name" (which cookie to hash)']);
    assert.deepEqual(configProblems(up('    balancer: { algorithm: round-robin, decay: 5s }'), 'a.yaml'), ['a.yaml:5:48 upstreams[0].balancer.decay: "decay" applies to random-two-choices only']);
    assert.deepEqual(configProblems(up('    balancer: { algorithm: consistent-hash, hash_on: ip, table_size: 1000 }'), 'a.yaml'), [
      'a.yaml:5:70 upstreams[0].balancer.table_size: must be a prime number (Maglev needs a prime table size), such as 65537',
    ]);
    assert.deepEqual(configProblems(up('    balancer: { algorithm: random-two-choices, decay: 3s }'), 'a.yaml'), []);
    assert.deepEqual(configProblems(up('    balancer: least-connections'), 'a.yaml'), []);
  });

  test('active checks and dns are checked', () => {
    assert.deepEqual(configProblems(up('    healthcheck: { active: { interval: 1s, timeout: 2s } }'), 'b.yaml'), ['b.yaml:5:53 upstreams[0].healthcheck.active.timeout: must be positive and at most the interval']);
    assert.deepEqual(configProblems(up('    healthcheck: { active: { path: health } }'), 'b.yaml'), ['b.yaml:5:36 upstreams[0].healthcheck.active.path: must be a path starting with "/"']);
    assert.deepEqual(configProblems('dns: { servers: ["dns.example:53"] }\n' + up(''), 'c.yaml'), [
      'c.yaml:1:18 dns.servers[0]: "dns.example:53" is not an IP address with an optional port ("127.0.0.1:53", "[::1]:5353")',
    ]);
    assert.deepEqual(configProblems('dns: { servers: ["127.0.0.1:5353", "[::1]:53"], min_ttl: 2s, max_ttl: 1s }\n' + up(''), 'c.yaml'), ['c.yaml:1:71 dns.max_ttl: must be at least min_ttl']);
  });
});
