// The console's server-side state without a server: sign-in sessions (bounded, expiring,
// never adopting an id they did not make), the metric history (deltas, counter resets,
// percentiles as Prometheus interpolates them, the series cap) and the line diff.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { lineDiff } from '../../src/admin/console/line-diff.js';
import { ConsoleSessions, IDLE_MS, MAX_AGE_MS, MAX_FAILED_SIGN_INS, MAX_SESSIONS, SESSION_COOKIE, csrfMatches } from '../../src/admin/console/sessions.js';
import { MAX_SERIES, parseMetrics, TrafficHistory } from '../../src/admin/console/traffic.js';

const withCookie = (id: string, csrf?: string) => ({ headers: { cookie: `a=b; ${SESSION_COOKIE}=${id}`, ...(csrf !== undefined ? { 'x-csrf-token': csrf } : {}) } }) as unknown as IncomingMessage;

test('sessions: found by their cookie, expire when idle or old, bounded in number', () => {
  const s = new ConsoleSessions();
  const t0 = 1_000_000;
  const { id, session } = s.create(t0);
  assert.equal(s.fromRequest(withCookie(id), t0 + 1000), session);
  assert.equal(s.fromRequest(withCookie('x' + id), t0 + 1000), null);
  assert.equal(s.fromRequest(withCookie('y'.repeat(200)), t0 + 1000), null, 'an over-long id is not looked up');
  assert.ok(csrfMatches(session.csrf, withCookie(id, session.csrf)));
  assert.ok(!csrfMatches(session.csrf, withCookie(id, session.csrf.slice(1))));
  assert.ok(!csrfMatches(session.csrf, withCookie(id)));
  // Used every 20 minutes it lives on, up to its maximum age.
  let now = t0;
  while (now + 20 * 60_000 < t0 + MAX_AGE_MS) {
    now += 20 * 60_000;
    assert.ok(s.fromRequest(withCookie(id), now), `alive at ${(now - t0) / 60_000} min`);
  }
  assert.equal(s.fromRequest(withCookie(id), t0 + MAX_AGE_MS + 1), null, 'too old');
  const idle = s.create(t0);
  assert.equal(s.fromRequest(withCookie(idle.id), t0 + IDLE_MS + 1), null, 'idle too long');
  const many = Array.from({ length: MAX_SESSIONS + 5 }, () => s.create(t0 + 10));
  assert.equal(s.size, MAX_SESSIONS);
  assert.equal(s.fromRequest(withCookie(many[0]!.id), t0 + 20), null, 'the least recently used went first');
  assert.ok(s.fromRequest(withCookie(many.at(-1)!.id), t0 + 20));
  s.destroy(withCookie(many.at(-1)!.id));
  assert.equal(s.fromRequest(withCookie(many.at(-1)!.id), t0 + 20), null);
});

test('sign-in throttle: closed after the failures of a window, open again after it', () => {
  const s = new ConsoleSessions();
  for (let i = 0; i < MAX_FAILED_SIGN_INS; i++) {
    assert.equal(s.throttled(1000 + i), 0);
    s.failed(1000 + i);
  }
  assert.ok(s.throttled(1100) > 0);
  assert.equal(s.throttled(1000 + 60_001), 0);
});

const metrics = (rows: Array<[string, string, string, number]>, buckets: Record<string, number[]> = {}) =>
  [
    '# HELP northgate_http_requests_total x',
    ...rows.map(([svc, route, code, v]) => `northgate_http_requests_total{service="${svc}",route="${route}",method="GET",code="${code}",consumer=""} ${v}`),
    ...Object.entries(buckets).flatMap(([key, counts]) => {
      const [svc, route] = key.split('/');
      return ['0.01', '0.1', '1', '+Inf'].map((le, i) => `northgate_http_request_duration_seconds_bucket{le="${le}",service="${svc}",route="${route}"} ${counts[i]}`);
    }),
  ].join('\n');

test('history: per-interval deltas, a reset counter counted from zero, percentiles interpolated in their bucket', async () => {
  let text = '';
  const h = new TrafficHistory(async () => text);
  h.start(0);
  h.stop();
  text = metrics([['a', 'r1', '200', 90], ['a', 'r1', '503', 10]], { 'a/r1': [50, 90, 100, 100] });
  await h.sample(5000);
  text = metrics([['a', 'r1', '200', 30]], { 'a/r1': [30, 30, 30, 30] }); // a worker restarted: counters went down
  await h.sample(10_000);
  const s = h.summary();
  const r = s.routes.find((x) => x.route === 'r1')!;
  assert.equal(r.requests, 130);
  assert.equal(r.rps, 130 / 10);
  assert.equal(s.points.length, 2);
  assert.equal(s.points[0]!.error_rate, 0.1);
  assert.equal(s.points[0]!.rps, 20);
  // First interval: 50 of 100 under 10 ms, 40 more under 100 ms. p50 = 10 ms; p95 = 100 + 900·(95-90)/10 ms.
  assert.equal(s.points[0]!.p50, 10);
  assert.equal(s.points[0]!.p95, 550);
  assert.ok(Math.abs(s.points[1]!.p99! - 9.9) < 1e-9, 'all 30 under 10 ms');
  const one = h.summary({ service: 'a', route: 'r1' });
  assert.equal(one.points.reduce((a, p) => a + p.rps * 5, 0), 130);
  assert.equal(h.summary({ service: 'b', route: null }).points[0]!.rps, 0);
});

test(`history: at most ${MAX_SERIES} series; the rest summed as "(other)"`, async () => {
  let text = '';
  const h = new TrafficHistory(async () => text);
  h.start(0);
  h.stop();
  text = metrics(Array.from({ length: MAX_SERIES + 10 }, (_, i) => ['svc', `r${String(i).padStart(3, '0')}`, '200', 1] as [string, string, string, number]));
  await h.sample(5000);
  const s = h.summary();
  assert.equal(s.routes.length, MAX_SERIES + 1);
  assert.equal(s.routes.find((r) => r.service === '(other)')!.requests, 10);
});

test('history: a failed reading is skipped', async () => {
  const h = new TrafficHistory(async () => {
    throw new Error('worker timed out');
  });
  h.start(0);
  h.stop();
  await h.sample(5000);
  assert.equal(h.summary().points.length, 0);
});

test('parseMetrics: escaped label values, +Inf, comments', () => {
  const m = parseMetrics('# TYPE x counter\nx{a="q\\"uote",b="back\\\\slash",c="n\\nl"} 3\ny_bucket{le="+Inf"} 7\nbroken line\n');
  assert.deepEqual(m, [{ name: 'x', labels: { a: 'q"uote', b: 'back\\slash', c: 'n\nl' }, value: 3 }, { name: 'y_bucket', labels: { le: '+Inf' }, value: 7 }]);
});

test('lineDiff: kept, removed and added lines in order', () => {
  assert.deepEqual(lineDiff('a\nb\nc\n', 'a\nc\nd\n'), [' a', '-b', ' c', '+d']);
  assert.deepEqual(lineDiff('', 'x\n'), ['+x']);
  assert.deepEqual(lineDiff('same\n', 'same\n'), [' same']);
});
