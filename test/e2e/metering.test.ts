// Usage metering end to end: requests through the real CLI (two workers), flushed on
// drain to a SQLite file and to a real PostgreSQL, read back with `northgate usage`; totals
// equal what was sent. A store that is away never breaks proxying, and the buffer is bounded.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { Meter } from '../../src/metering/meter.js';
import { parseStore } from '../../src/metering/config.js';
import { queryUsage, type UsageSummary } from '../../src/metering/store.js';
import { requestEndChannel } from '../../src/base/events.js';
import type { RequestContext } from '../../src/proxy/context.js';
import { http, runCli, startCli, startGateway, startUpstream, tempDir, writeConfig, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const CLOCK = { NORTHGATE_TEST_CLOCK: '2031-05-10T10:30:00Z' };

function config(upstream: string, store: string): string {
  return `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
metering: { store: "${store}", flush_interval: 1s }
consumers:
  - { username: alice, credentials: { key-auth: [{ key: alice-key-0001 }] } }
  - { username: bob, credentials: { key-auth: [{ key: bob-key-00001 }] } }
services:
  - name: api
    url: "${upstream}"
    routes:
      - { name: items, paths: ["/items"], plugins: { key-auth: {} } }
  - name: public
    url: "${upstream}"
    routes:
      - { name: open, paths: ["/open"] }
`;
}

const upstream = (): Promise<Upstream> =>
  startUpstream((req, res) => {
    if (req.url!.includes('missing')) res.writeHead(404).end('no');
    else res.end('x'.repeat(100));
  });

/** 75 requests: alice 30 ok + 7 upstream 404, bob 20 ok, anonymous 13 ok + 5 refused (401). */
async function traffic(url: string): Promise<void> {
  const plan: Array<[string, string | null]> = [
    ...Array.from({ length: 30 }, () => ['/items', 'alice-key-0001'] as [string, string]),
    ...Array.from({ length: 7 }, () => ['/items/missing', 'alice-key-0001'] as [string, string]),
    ...Array.from({ length: 20 }, () => ['/items', 'bob-key-00001'] as [string, string]),
    ...Array.from({ length: 13 }, () => ['/open', null] as [string, null]),
    ...Array.from({ length: 5 }, () => ['/items', 'wrong-key-0001'] as [string, string]),
  ];
  for (let at = 0; at < plan.length; at += 25) {
    const results = await Promise.all(plan.slice(at, at + 25).map(([path, key]) => http(url + path, key ? { headers: { apikey: key } } : {})));
    for (const r of results) assert.ok([200, 401, 404].includes(r.status), r.body);
  }
}

function checkTotals(rows: UsageSummary[]): void {
  const sum = (pred: (r: UsageSummary) => boolean, f: (r: UsageSummary) => number) => rows.filter(pred).reduce((n, r) => n + f(r), 0);
  assert.equal(sum(() => true, (r) => r.requests), 75, JSON.stringify(rows));
  const alice = (r: UsageSummary) => r.consumer === 'alice';
  assert.equal(sum(alice, (r) => r.requests), 37);
  assert.equal(sum(alice, (r) => r.status['2xx'] ?? 0), 30);
  assert.equal(sum(alice, (r) => r.status['4xx'] ?? 0), 7);
  assert.equal(sum(alice, (r) => r.bytes_out), 30 * 100 + 7 * 2);
  assert.equal(sum((r) => r.consumer === 'bob', (r) => r.requests), 20);
  assert.equal(sum((r) => r.consumer === '' && r.route === 'open', (r) => r.requests), 13);
  assert.equal(sum((r) => r.consumer === '' && r.route === 'items', (r) => r.status['4xx'] ?? 0), 5);
  assert.deepEqual([...new Set(rows.map((r) => r.service))].sort(), ['api', 'public']);
  assert.ok(rows.every((r) => r.period === '2031-05-10T10:00:00.000Z'), 'hour buckets from the injected clock');
}

describe('metering on a SQLite file, two workers, read with northgate usage', () => {
  test('totals equal the requests sent; table, csv and json; flags checked', async () => {
    const up = await upstream();
    const store = join(tempDir(), 'usage.sqlite');
    const gw = await startCli(['--config', writeConfig(config(up.url, store)), '--workers', '2'], CLOCK);
    try {
      await traffic(gw.url);
    } finally {
      assert.equal(await gw.stop(), 0, 'drained (the workers flush on drain)');
      await up.close();
    }
    const json = await runCli(['usage', '--store', store, '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    checkTotals(JSON.parse(json.stdout) as UsageSummary[]);

    const csv = await runCli(['usage', '--store', `sqlite:${store}`, '--consumer', 'alice', '--from', '2031-05-01', '--to', '2031-05-31', '--by', 'day', '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.trim().split('\n'), [
      'period,consumer,credential,service,route,requests,2xx,3xx,4xx,5xx,other,bytes_in,bytes_out,avg_ms,p50_ms,p95_ms,p99_ms',
      csv.stdout.trim().split('\n')[1]!,
    ]);
    // The credential is the key's derived id (USERNAME/key-auth/N), never the key.
    assert.match(csv.stdout.split('\n')[1]!, /^2031-05-10,alice,alice\/key-auth\/0,api,items,37,30,0,7,0,0,0,3014,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d$/);
    assert.ok(!csv.stdout.includes('alice-key-0001'));

    const table = await runCli(['usage', '--store', store, '--from', '2031-05-10T10:00:00Z', '--to', '2031-05-10T11:00:00Z']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^PERIOD +CONSUMER +CREDENTIAL +SERVICE +ROUTE +REQUESTS .* AVG_MS +P50_MS +P95_MS +P99_MS\n/);
    assert.match(table.stdout, /2031-05-10 10:00 +\(none\) +\(none\) +public +open +13 +13 /);
    assert.match(table.stdout, /2031-05-10 10:00 +bob +bob\/key-auth\/0 +api +items +20 +20 /);
    assert.match(table.stdout, /4 rows, 75 requests\n$/);

    const outside = await runCli(['usage', '--store', store, '--from', '2031-05-11', '--to', '2031-05-12']);
    assert.equal(outside.stdout, 'no usage in this range\n');
  });

  test('usage: --help, unknown flags, bad values, a missing store', async () => {
    const help = await runCli(['usage', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--by hour\|day/);
    assert.match(help.stdout, /--credential ID/);
    const typo = await runCli(['usage', '--consumr', 'alice']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown flag --consumr for "northgate usage" \(did you mean --consumer\?\)/);
    const by = await runCli(['usage', '--by', 'week']);
    assert.equal(by.code, 2);
    assert.match(by.stderr, /--by takes hour or day, not "week"/);
    const date = await runCli(['usage', '--from', 'yesterday']);
    assert.equal(date.code, 2);
    assert.match(date.stderr, /--from takes a date/);
    const missing = await runCli(['usage', '--store', join(tempDir(), 'none.sqlite')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no usage store at .*none\.sqlite/);
    const noMetering = await runCli(['usage', '--config', writeConfig('_format_version: "1"\n')]);
    assert.equal(noMetering.code, 1);
    assert.match(noMetering.stderr, /has no metering section and no portal/);
  });
});

const pgSkip = await postgresSkipReason();

describe('metering on PostgreSQL, two workers', { skip: pgSkip }, () => {
  test('totals equal the requests sent (usage --config reads the same store)', async () => {
    const up = await upstream();
    const table = `ngtest_usage_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const file = writeConfig(config(up.url, DATABASE_URL).replace('flush_interval: 1s', `flush_interval: 1s, table: ${table}`));
    const gw = await startCli(['--config', file, '--workers', '2'], CLOCK);
    try {
      await traffic(gw.url);
    } finally {
      assert.equal(await gw.stop(), 0);
      await up.close();
    }
    const json = await runCli(['usage', '--config', file, '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    checkTotals(JSON.parse(json.stdout) as UsageSummary[]);
    // The same read API the admin API will use.
    const rows = await queryUsage({ kind: 'postgres', url: DATABASE_URL, table }, { from: Date.parse('2031-05-10'), to: Date.parse('2031-05-11'), by: 'day', consumer: 'bob' });
    assert.deepEqual(rows.map((r) => [r.period, r.credential, r.requests, r.status]), [['2031-05-10T00:00:00.000Z', 'bob/key-auth/0', 20, { '2xx': 20 }]]);
    assert.equal(rows[0]!.latency_histogram.reduce((a, n) => a + n, 0), 20, 'every request is in the histogram');
    assert.ok(rows[0]!.latency_ms_p50 !== null && rows[0]!.latency_ms_p99! >= rows[0]!.latency_ms_p50);
  });
});

describe('metering when the store is away', () => {
  test('proxying goes on; flushes fail quietly and keep the aggregates', async () => {
    const up = await upstream();
    const gw = await startGateway(config(up.url, 'postgres://postgres@127.0.0.1:1/none'));
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => http(gw.url + '/open')));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      await gw.gateway.flushUsage();
      assert.equal((await http(gw.url + '/open')).status, 200);
    } finally {
      await gw.close();
      await up.close();
    }
  });

  test('the buffer is bounded: rows beyond max_rows are dropped and counted', async () => {
    const meter = new Meter({ store: parseStore('postgres://postgres@127.0.0.1:1/none'), flushIntervalMs: 3_600_000, maxRows: 100 }, createLogger({ level: 'silent' }), (ctx) => ctx.id.startsWith('bounded-'));
    try {
      for (let i = 0; i < 150; i++) {
        const ctx = { id: `bounded-${i}`, route: { name: `r${i}`, service: { name: 's' } }, consumer: null, responseStatus: 200, bytesIn: 0, bytesOut: 1, startedAt: 0, finishedAt: 1 };
        requestEndChannel.publish(ctx as unknown as RequestContext);
      }
      assert.equal(meter.counted, 100);
      assert.equal(meter.dropped, 50);
      await meter.flush();
      assert.equal(meter.dropped, 50, 'a failed flush keeps what it held');
    } finally {
      await meter.close(2000);
    }
  });
});

describe('metering on SQLite in one process', () => {
  test('periodic flushes add up in the store', async () => {
    const up = await upstream();
    const store = join(tempDir(), 'one.sqlite');
    const gw = await startGateway(config(up.url, store));
    try {
      for (let round = 0; round < 3; round++) {
        await Promise.all(Array.from({ length: 10 }, () => http(gw.url + '/open')));
        await gw.gateway.flushUsage();
      }
      const rows = await queryUsage(parseStore(store), { from: 0, to: Date.now() + 3_600_000, by: 'day' });
      assert.equal(rows.reduce((n, r) => n + r.requests, 0), 30);
    } finally {
      await gw.close();
      await up.close();
    }
  });
});
