// The quota plugin: UTC calendar periods at day and month boundaries (injected clock),
// the 429 that differs from a rate limit's, durability across a restart of the real CLI
// (SQLite file, then shared by two workers), and the cluster-wide stores on a real Redis
// and a real PostgreSQL.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clock } from '../../src/base/clock.js';
import { periodAt } from '../../src/plugins/quota/period.js';
import { quotaUsage } from '../../src/plugins/quota/plugin.js';
import type { QuotaConfig } from '../../src/plugins/quota/schema.js';
import { configProblems } from '../helpers/config.js';
import { http, startCli, startUpstream, tempDir, writeConfig } from '../helpers/servers.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';
import { DATABASE_URL, postgresSkipReason, REDIS_URL, redisSkipReason } from '../helpers/services.js';

const count = (list: Array<{ status: number }>, s: number) => list.filter((r) => r.status === s).length;
const type = (r: { body: string }) => (JSON.parse(r.body) as { type: string }).type;
const at = (iso: string) => () => Date.parse(iso);

describe('UTC periods', () => {
  test('day and month boundaries, including December and a leap February', () => {
    assert.deepEqual(periodAt('day', Date.parse('2026-01-31T23:59:59.999Z')), { id: '2026-01-31', start: Date.parse('2026-01-31T00:00:00Z'), end: Date.parse('2026-02-01T00:00:00Z') });
    assert.equal(periodAt('day', Date.parse('2026-02-01T00:00:00Z')).id, '2026-02-01');
    assert.deepEqual(periodAt('month', Date.parse('2026-12-31T23:59:59.999Z')), { id: '2026-12', start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2027-01-01T00:00:00Z') });
    assert.equal(periodAt('month', Date.parse('2028-02-29T12:00:00Z')).end, Date.parse('2028-03-01T00:00:00Z'));
    assert.equal(periodAt('month', Date.parse('2027-01-01T00:00:00Z')).id, '2027-01');
  });

  test('config: a store without its connection settings is a located error', () => {
    const yaml = `_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths: ["/"]
        plugins:
          quota: { period: week, max: 0, store: redis }
`;
    const problems = configProblems(yaml, 'q.yaml');
    assert.ok(problems.some((p) => /^q\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.quota\.period: must be one of: day, month/.test(p)), problems.join('\n'));
    const p2 = configProblems(yaml.replace('period: week, max: 0, ', 'period: day, max: 5, '), 'q.yaml');
    assert.ok(p2.some((p) => /plugins\.quota\.redis: store "redis" needs redis: \{ url \}/.test(p)), p2.join('\n'));
  });
});

const consumersYaml = `
consumers:
  - { username: alice, credentials: { key-auth: [{ key: alice-key-0001 }] } }
  - { username: bob, credentials: { key-auth: [{ key: bob-key-00001 }] } }`;

describe('quota on a SQLite file, injected clock', () => {
  let gw: TestGateway;
  const dir = tempDir();
  const saved = clock.now;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
${consumersYaml}
services:
  - name: s
    url: "http://up"
    plugins: { key-auth: {} }
    routes:
      - { name: daily, paths: ["/daily"], plugins: { quota: { period: day, max: 3, timezone: UTC, path: "${join(dir, 'q.sqlite')}" } } }
      - { name: monthly, paths: ["/monthly"], plugins: { quota: { period: month, max: 2, path: "${join(dir, 'q.sqlite')}" } } }
      - name: both
        paths: ["/both"]
        plugins:
          rate-limit: { limits: [{ per: 1h, max: 2 }] }
          quota: { period: day, max: 3, path: "${join(dir, 'q.sqlite')}" }
`, upstreams: { up: () => ({ body: 'ok' }) } });
  });
  after(async () => {
    clock.now = saved;
    await gw.close();
  });
  const get = (path: string, key = 'alice-key-0001') => gw.request({ path: path, headers: { apikey: key } });

  test('a day: max per consumer, 429 quota-exceeded until midnight UTC, then a new budget', async () => {
    clock.now = at('2026-01-31T23:59:58.000Z');
    const r = [await get('/daily'), await get('/daily'), await get('/daily'), await get('/daily')];
    assert.deepEqual(r.map((x) => x.status), [200, 200, 200, 429]);
    assert.deepEqual(r.slice(0, 3).map((x) => x.headers['x-quota-remaining']), ['2', '1', '0']);
    assert.equal(r[0]!.headers['x-quota-limit'], '3');
    assert.equal(r[0]!.headers['x-quota-reset'], '2026-02-01T00:00:00.000Z');
    const denied = r[3]!;
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.equal(type(denied), 'urn:northgate:problem:quota-exceeded');
    assert.equal(denied.headers['retry-after'], '2', 'seconds until 00:00:00Z');
    assert.equal(denied.headers['x-quota-reset'], '2026-02-01T00:00:00.000Z');
    assert.match((JSON.parse(denied.body) as { detail: string }).detail, /resets at 2026-02-01T00:00:00.000Z/);
    assert.equal((await get('/daily', 'bob-key-00001')).status, 200, 'another consumer has its own quota');
    clock.now = at('2026-01-31T23:59:59.999Z');
    assert.equal((await get('/daily')).status, 429, 'still the same day');
    clock.now = at('2026-02-01T00:00:00.000Z');
    assert.equal((await get('/daily')).status, 200, 'a new day');
  });

  test('a month: resets on the 1st at 00:00Z (February, and December into January)', async () => {
    clock.now = at('2026-02-28T23:59:59.000Z');
    const r = [await get('/monthly'), await get('/monthly'), await get('/monthly')];
    assert.deepEqual(r.map((x) => x.status), [200, 200, 429]);
    assert.equal(r[2]!.headers['x-quota-reset'], '2026-03-01T00:00:00.000Z');
    assert.equal(r[2]!.headers['retry-after'], '1');
    clock.now = at('2026-03-01T00:00:00.000Z');
    assert.equal((await get('/monthly')).status, 200);
    clock.now = at('2026-12-31T23:59:59.500Z');
    assert.deepEqual([(await get('/monthly')).status, (await get('/monthly')).status, (await get('/monthly')).status], [200, 200, 429]);
    clock.now = at('2027-01-01T00:00:00.000Z');
    assert.equal((await get('/monthly')).status, 200);
  });

  test('a rate limit and a quota answer differently; a refused rate limit does not use quota', async () => {
    clock.now = at('2026-05-05T10:00:00Z');
    const r = [await get('/both'), await get('/both'), await get('/both')];
    assert.deepEqual(r.map((x) => x.status), [200, 200, 429]);
    assert.equal(type(r[2]!), 'urn:northgate:problem:rate-limited');
    assert.equal(r[2]!.headers['x-quota-reset'], undefined);
    assert.equal(r[1]!.headers['x-quota-remaining'], '1', 'the refused request was not counted');
  });

  test('concurrent requests never exceed the quota', async () => {
    clock.now = at('2026-06-01T12:00:00Z');
    const burst = await Promise.all(Array.from({ length: 20 }, () => get('/daily', 'bob-key-00001')));
    assert.equal(count(burst, 200), 3);
    assert.equal(count(burst, 429), 17);
  });
});

describe('quota survives a restart (real CLI, SQLite file), and two workers share it', () => {
  test('stop, start again with --workers 2: the count continues and holds exactly', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
${consumersYaml}
services:
  - name: s
    url: "${up.url}"
    routes:
      - { name: q, paths: ["/q"], plugins: { key-auth: {}, quota: { period: month, max: 10, path: "${join(tempDir(), 'quota.sqlite')}" } } }
`);
    const env = { NORTHGATE_TEST_CLOCK: '2026-03-15T12:00:00Z' };
    try {
      let gw = await startCli(['--config', file], env);
      for (let i = 0; i < 4; i++) assert.equal((await http(gw.url + '/q', { headers: { apikey: 'alice-key-0001' } })).status, 200);
      assert.equal((await gw.stop()), 0);
      gw = await startCli(['--config', file, '--workers', '2'], env);
      try {
        const first = await http(gw.url + '/q', { headers: { apikey: 'alice-key-0001' } });
        assert.equal(first.headers['x-quota-remaining'], '5', 'the count went on from 4');
        const burst = await Promise.all(Array.from({ length: 30 }, () => http(gw.url + '/q', { headers: { apikey: 'alice-key-0001' } })));
        assert.equal(count(burst, 200), 5, 'two workers on one file admit exactly the rest');
        assert.equal(count(burst, 429), 25);
      } finally {
        await gw.stop();
      }
    } finally {
      await up.close();
    }
  });
});

const redisSkip = await redisSkipReason();
const pgSkip = await postgresSkipReason();

for (const [store, skip] of [['redis', redisSkip], ['postgres', pgSkip]] as const) {
  describe(`quota on ${store}, shared by two gateways`, { skip }, () => {
    const gws: TestGateway[] = [];
    const saved = clock.now;
    const prefix = `ngtest:${randomUUID()}:`;
    const table = `ngtest_quota_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const settings =
      store === 'redis'
        ? `store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}", timeout: 2s }`
        : `store: postgres, postgres: { url: "${DATABASE_URL}", table: ${table}, timeout: 5s }`;
    // The same quota as the route's, for the read API (scope id "route:SERVICE:ROUTE").
    const config: QuotaConfig =
      store === 'redis'
        ? { period: 'day', max: 7, store: 'redis', redis: { url: REDIS_URL, prefix, timeout: '2s' } }
        : { period: 'day', max: 7, store: 'postgres', postgres: { url: DATABASE_URL, table, timeout: '5s' } };
    before(async () => {
      const yaml = `
_format_version: "1"
${consumersYaml}
services:
  - name: s
    url: "http://up"
    routes:
      - { name: q, paths: ["/q"], plugins: { key-auth: {}, quota: { period: day, max: 7, on_store_error: deny, ${settings} } } }
`;
      gws.push(createTestGateway({ config: yaml, upstreams: { up: () => ({ body: 'ok' }) } }), createTestGateway({ config: yaml, upstreams: { up: () => ({ body: 'ok' }) } }));
    });
    after(async () => {
      clock.now = saved;
      for (const g of gws) await g.close();
    });

    test('a concurrent burst over two gateways admits exactly max; the next day starts afresh', async () => {
      // Next year: Redis expires the counter at the period's real end, which must be ahead.
      const y = new Date().getUTCFullYear() + 1;
      clock.now = at(`${y}-07-31T23:59:50Z`);
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => gws[i % 2]!.request({ path: '/q', headers: { apikey: 'alice-key-0001' } })));
      assert.equal(count(burst, 200), 7, JSON.stringify(burst.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.body)));
      assert.equal(count(burst, 429), 33);
      const denied = burst.find((r) => r.status === 429)!;
      assert.equal(type(denied), 'urn:northgate:problem:quota-exceeded');
      assert.equal(denied.headers['x-quota-reset'], `${y}-08-01T00:00:00.000Z`);
      const alice = gws[0]!.gateway.snapshot.consumers.byUsername.get('alice')!.id;
      assert.deepEqual(await quotaUsage(config, 'route:s:q', alice), { limit: 7, used: 7, left: 0, period: 'day', resetAt: `${y}-08-01T00:00:00.000Z` }, 'the read API sees the shared counter');
      clock.now = at(`${y}-08-01T00:00:00Z`);
      assert.equal((await quotaUsage(config, 'route:s:q', alice)).used, 0, 'a new day, nothing used, and reading counted nothing');
      assert.equal((await gws[1]!.request({ path: '/q', headers: { apikey: 'alice-key-0001' } })).status, 200);
      assert.equal((await quotaUsage(config, 'route:s:q', alice)).left, 6);
    });
  });
}
