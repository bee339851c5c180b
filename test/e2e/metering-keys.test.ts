// Per-key usage and latency percentiles from the metering store: two keys of one consumer
// call through a real gateway an upstream that answers at once or after ~600 ms; the store
// (a real SQLite file, a real PostgreSQL) counts each key's calls exactly and puts p50 in a
// low bucket and p99 at ≥ 400 ms. The portal, with no `metering:` section, meters into its
// default file next to the config and serves one key's usage with percentiles. A metering
// database of the first release (old table made by hand here) is read as it is and migrated
// by the next writer, two workers at once, keeping its rows.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseStore } from '../../src/metering/config.js';
import { addHistogram, emptyHistogram, percentile } from '../../src/metering/histogram.js';
import { postgresUsageStore, queryUsage, type UsageSummary } from '../../src/metering/store.js';
import { USAGE_MIGRATIONS } from '../../src/metering/schema.js';
import { clock } from '../../src/base/clock.js';
import { ORDERS_OPENAPI, PortalClient, startPortalGateway } from '../helpers/browser.js';
import { http, runCli, startCli, startGateway, startUpstream, tempDir, writeConfig, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const SLOW_MS = 600;
/** Between the fast calls (which a loaded CI machine can stretch past 100 ms) and the slow ones. */
const SPLIT_MS = 400;

/** Answers /slow… after SLOW_MS (a timer on the upstream side: the latency under test), anything else at once. */
const delayedUpstream = (): Promise<Upstream> =>
  startUpstream((req, res) => {
    if (req.url!.includes('slow')) setTimeout(() => res.end('slow'), SLOW_MS);
    else res.end('fast');
  });

function config(upstream: string, metering: string): string {
  return `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
${metering}
consumers:
  - username: acme
    credentials: { key-auth: [{ id: key-a, key: acme-key-aaaa-0001 }, { id: key-b, key: acme-key-bbbb-0002 }] }
services:
  - name: api
    url: "${upstream}"
    plugins: { key-auth: {} }
    routes: [{ name: calls, paths: ["/api"] }]
  - name: public
    url: "${upstream}"
    routes: [{ name: open, paths: ["/open"] }]
`;
}

/** Key A: 20 fast and 5 slow calls; key B: 8 fast calls. */
async function traffic(url: string, keyA: string, keyB: string, prefix = '/api'): Promise<void> {
  const call = (path: string, key: string) => http(url + prefix + path, { headers: { apikey: key } });
  const fast = await Promise.all([...Array.from({ length: 20 }, () => call('/fast', keyA)), ...Array.from({ length: 8 }, () => call('/fast', keyB))]);
  const slow = await Promise.all(Array.from({ length: 5 }, () => call('/slow', keyA)));
  for (const r of [...fast, ...slow]) assert.equal(r.status, 200, r.body);
}

/** Requests and the summed histogram of some summaries. */
function combine(rows: UsageSummary[]): { requests: number; hist: number[] } {
  const hist = emptyHistogram();
  for (const r of rows) addHistogram(hist, r.latency_histogram);
  return { requests: rows.reduce((n, r) => n + r.requests, 0), hist };
}

/** Key A's and key B's counts and key A's percentiles, as the store reports them. */
function checkKeys(rows: UsageSummary[]): void {
  const a = combine(rows.filter((r) => r.credential === 'key-a'));
  const b = combine(rows.filter((r) => r.credential === 'key-b'));
  assert.equal(a.requests, 25, JSON.stringify(rows.map((r) => [r.credential, r.route, r.requests])));
  assert.equal(b.requests, 8);
  assert.ok(rows.every((r) => r.consumer === 'acme' && ['key-a', 'key-b'].includes(r.credential)), 'no key and no digest in the credential column');
  assert.equal(a.hist.reduce((x, n) => x + n, 0), 25, 'every call is in the histogram');
  const p50 = percentile(a.hist, 0.5)!;
  const p99 = percentile(a.hist, 0.99)!;
  assert.ok(p50 < SPLIT_MS, `p50 ${p50} ms lands in a low bucket (20 of 25 calls answer at once)`);
  assert.ok(p99 >= SPLIT_MS, `p99 ${p99} ms is in the slow calls' bucket`);
}

/** Both keys' traffic through a gateway metering with `metering`, flushed before it closes. */
async function meterTraffic(metering: string): Promise<void> {
  const up = await delayedUpstream();
  const gw = await startGateway(config(up.url, metering));
  try {
    await traffic(gw.url, 'acme-key-aaaa-0001', 'acme-key-bbbb-0002');
    await gw.gateway.flushUsage();
  } finally {
    await gw.close();
    await up.close();
  }
}

describe('per-key usage and percentiles on a SQLite file', () => {
  test('the store counts each key\'s calls; percentiles from the histogram; usage --credential and p50/p95/p99 columns', async () => {
    const store = join(tempDir(), 'keys.sqlite');
    await meterTraffic(`metering: { store: "${store}", flush_interval: 1h }`);
    const all = await queryUsage(parseStore(store), { from: 0, to: Date.now() + 3_600_000, by: 'day' });
    checkKeys(all);
    const onlyB = await queryUsage(parseStore(store), { from: 0, to: Date.now() + 3_600_000, by: 'day', credential: 'key-b' });
    assert.deepEqual(onlyB.map((r) => [r.credential, r.requests]), [['key-b', 8]]);
    assert.ok(onlyB[0]!.latency_ms_p99! < SPLIT_MS, 'key B made fast calls only');

    const json = await runCli(['usage', '--store', store, '--credential', 'key-a', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as UsageSummary[];
    assert.equal(rows.reduce((n, r) => n + r.requests, 0), 25);
    assert.ok(rows.every((r) => r.credential === 'key-a'));
    assert.ok(rows.every((r) => r.latency_ms_p50 !== null && r.latency_ms_p95 !== null && r.latency_ms_p99 !== null));
    const table = await runCli(['usage', '--store', store, '--consumer', 'acme']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /AVG_MS +P50_MS +P95_MS +P99_MS\n/);
    assert.match(table.stdout, / acme +key-b +api +calls +8 +8 /);
    assert.match(table.stdout, /, 33 requests\n$/);
    const csv = await runCli(['usage', '--store', store, '--credential', 'nobody', '--format', 'csv']);
    assert.equal(csv.stdout.trim().split('\n').length, 1, 'a credential with no calls: the header only');
  });
});

const pgSkip = await postgresSkipReason();

describe('per-key usage and percentiles on PostgreSQL', { skip: pgSkip }, () => {
  test('the store counts each key\'s calls; percentiles from the histogram', async () => {
    const table = `ngtest_keys_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await meterTraffic(`metering: { store: "${DATABASE_URL}", table: ${table}, flush_interval: 1h }`);
    const spec = { kind: 'postgres' as const, url: DATABASE_URL, table };
    checkKeys(await queryUsage(spec, { from: 0, to: Date.now() + 3_600_000, by: 'hour' }));
    const onlyA = await queryUsage(spec, { from: 0, to: Date.now() + 3_600_000, by: 'day', credential: 'key-a', service: 'api' });
    assert.equal(onlyA.reduce((n, r) => n + r.requests, 0), 25);
    await dropTables(table);
  });
});

describe('the portal reads usage from the metering data', () => {
  const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  const realNow = clock.now;
  let up: Upstream;
  before(async () => {
    up = await delayedUpstream();
    // Every metered call in one minute of today: one bucket of the day series, whenever the test runs.
    clock.now = () => today + 60_000;
  });
  after(async () => {
    clock.now = realNow;
    await up.close();
  });

  test('no metering: section: the portal meters into its default file; one key\'s calls and percentiles, right after the calls', async () => {
    const yaml = `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
plans: [{ name: free }]
portal: { self_service: { plans: [free] } }
services:
  - name: orders
    url: ${up.url}
    portal: { published: true, openapi: ./orders.yaml }
    plugins: { key-auth: {} }
    routes: [{ paths: [/orders-api], strip_path: true }]
`;
    const gw = await startPortalGateway(yaml, { 'orders.yaml': ORDERS_OPENAPI });
    try {
      const c = new PortalClient(gw.portalUrl);
      await c.signUp('keys@example.com');
      const a = (await c.post('/portal/api/keys', { name: 'a', plan: 'free' })).json;
      const b = (await c.post('/portal/api/keys', { name: 'b', plan: 'free' })).json;
      await traffic(gw.proxyUrl, a['secret'], b['secret'], '/orders-api');

      // No explicit flush: the portal's process writes its own aggregates before it reads.
      const calls = (u: { series: Array<{ calls: Record<string, number> }> }) => u.series.reduce((n, p) => n + p.calls['2xx']! + p.calls['4xx']! + p.calls['5xx']!, 0);
      const ua = (await c.get(`/portal/api/usage?step=day&key=${a['key'].id}`)).json;
      assert.equal(calls(ua as never), 25, 'key A\'s calls only');
      assert.ok(existsSync(join(gw.dir, 'northgate-metering.sqlite')), 'the metering file sits next to the config');
      const point = ua['series'].find((p: { calls: Record<string, number> }) => p.calls['2xx']! > 0);
      assert.equal(point.calls['2xx'], 25);
      assert.ok(point.p50 !== null && point.p50 < SPLIT_MS, `p50 ${point.p50}`);
      assert.ok(point.p95 !== null && point.p99 !== null && point.p99 >= SPLIT_MS, `p99 ${point.p99}`);
      assert.ok(point.avg > 0);
      assert.deepEqual(ua['services'].map((s: { key: string; calls: number }) => [s.key, s.calls]), [['orders', 25]]);
      assert.ok(ua['services'][0].p95 >= SPLIT_MS, 'totals\' p95 from the histogram');

      const ub = (await c.get(`/portal/api/usage?step=day&key=${b['key'].id}`)).json;
      assert.equal(calls(ub as never), 8, 'key B\'s calls only');
      assert.ok(ub['series'].some((p: { p99: number | null }) => p.p99 !== null && p.p99 < SPLIT_MS));
      const both = (await c.get('/portal/api/usage?step=day')).json;
      assert.equal(calls(both as never), 33);

      // The CLI finds the same store from the config (the portal's default).
      const cli = await runCli(['usage', '--config', gw.configFile, '--credential', a['key'].id, '--by', 'day', '--from', new Date(today).toISOString(), '--to', new Date(today + 86_400_000).toISOString(), '--format', 'json']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal((JSON.parse(cli.stdout) as UsageSummary[]).reduce((n, r) => n + r.requests, 0), 25);
    } finally {
      await gw.close();
    }
  });
});

/** The table of the first metering release, as it made it (src/metering/store.ts before the credential and the histogram). */
const OLD_DDL = (t: string, bigint: string, real: string) => `CREATE TABLE IF NOT EXISTS ${t} (
    minute ${bigint} NOT NULL, consumer TEXT NOT NULL, service TEXT NOT NULL, route TEXT NOT NULL, status_class TEXT NOT NULL,
    requests ${bigint} NOT NULL, bytes_in ${bigint} NOT NULL, bytes_out ${bigint} NOT NULL, latency_ms_sum ${real} NOT NULL,
    PRIMARY KEY (minute, consumer, service, route, status_class))`;
const OLD_MINUTE = Date.parse('2031-05-10T10:05:00Z');
const OLD_ROWS: Array<[number, string, string, string, string, number, number, number, number]> = [
  [OLD_MINUTE, '', 'public', 'open', '2xx', 7, 0, 70, 35],
  [OLD_MINUTE, 'acme', 'api', 'calls', '2xx', 4, 10, 40, 8],
];

describe('a metering database of the first release', () => {
  test('SQLite: read as it is (credential "", no percentiles), then migrated by two workers at once; old rows kept', async () => {
    const store = join(tempDir(), 'old.sqlite');
    const db = new Database(store);
    db.pragma('journal_mode = WAL');
    db.exec(OLD_DDL('northgate_usage', 'INTEGER', 'REAL'));
    db.exec('CREATE INDEX IF NOT EXISTS northgate_usage_consumer ON northgate_usage (consumer, minute)');
    const insert = db.prepare('INSERT INTO northgate_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (const r of OLD_ROWS) insert.run(...r);
    db.close();

    const range = ['--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json'];
    const old = await runCli(['usage', '--store', store, ...range]);
    assert.equal(old.code, 0, old.stderr);
    const oldRows = JSON.parse(old.stdout) as UsageSummary[];
    assert.deepEqual(oldRows.map((r) => [r.consumer, r.credential, r.requests, r.latency_ms_avg, r.latency_ms_p50, r.latency_ms_p99]), [['', '', 7, 5, null, null], ['acme', '', 4, 2, null, null]]);
    const oldTable = await runCli(['usage', '--store', store, '--from', '2031-05-10', '--to', '2031-05-10']);
    assert.match(oldTable.stdout, /2031-05-10 10:00 +acme +\(none\) +api +calls +4 +4 +0 +0 +0 +0 +10 +40 +2\.00 +- +- +-\n/, oldTable.stdout);
    const readOnly = new Database(store, { readonly: true });
    assert.equal((readOnly.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name IN ('northgate_usage_migrations', 'ng_schema_migrations')`).get() as { n: number }).n, 0, 'a reader does not migrate');
    readOnly.close();

    const up = await delayedUpstream();
    const gw = await startCli(['--config', writeConfig(config(up.url, `metering: { store: "${store}", flush_interval: 1s }`)), '--workers', '2'], { NORTHGATE_TEST_CLOCK: '2031-05-10T10:30:00Z' });
    try {
      await traffic(gw.url, 'acme-key-aaaa-0001', 'acme-key-bbbb-0002');
      await Promise.all(Array.from({ length: 3 }, () => http(gw.url + '/open')));
    } finally {
      assert.equal(await gw.stop(), 0, 'drained (the workers flush on drain)');
      await up.close();
    }
    const migrated = new Database(store, { readonly: true });
    assert.deepEqual((migrated.prepare(`SELECT version FROM ng_schema_migrations WHERE component = 'metering:northgate_usage' ORDER BY version`).all() as Array<{ version: number }>).map((r) => r.version), USAGE_MIGRATIONS.map((m) => m.version));
    migrated.close();

    const json = await runCli(['usage', '--store', store, '--by', 'day', ...range]);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as UsageSummary[];
    checkKeys(rows.filter((r) => r.credential !== ''));
    const anonymous = rows.find((r) => r.consumer === '' && r.route === 'open')!;
    assert.equal(anonymous.requests, 7 + 3, 'old and new rows of one day add up');
    assert.equal(anonymous.latency_histogram.reduce((n, x) => n + x, 0), 3, 'only the new rows have a histogram');
    assert.notEqual(anonymous.latency_ms_p50, null, 'percentiles from the rows that have one');
    const legacy = rows.find((r) => r.consumer === 'acme' && r.credential === '')!;
    assert.deepEqual([legacy.requests, legacy.bytes_in, legacy.bytes_out, legacy.latency_ms_p50], [4, 10, 40, null]);
  });

  test('PostgreSQL: read as it is, migrated by the next writer, old rows kept', { skip: pgSkip }, async () => {
    const table = `ngtest_old_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(OLD_DDL(table, 'BIGINT', 'DOUBLE PRECISION'));
      for (const r of OLD_ROWS) await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r);
    } finally {
      await client.end();
    }
    const spec = { kind: 'postgres' as const, url: DATABASE_URL, table };
    const q = { from: Date.parse('2031-05-10'), to: Date.parse('2031-05-11'), by: 'day' as const };
    const before = await queryUsage(spec, q);
    assert.deepEqual(before.map((r) => [r.consumer, r.credential, r.requests, r.latency_ms_p50]), [['', '', 7, null], ['acme', '', 4, null]]);

    const writer = postgresUsageStore(DATABASE_URL, table);
    const hist = emptyHistogram();
    hist[3] = 2;
    await writer.write([{ minute: OLD_MINUTE + 60_000, consumer: 'acme', credential: 'key-a', service: 'api', route: 'calls', statusClass: '2xx', requests: 2, bytesIn: 0, bytesOut: 8, latencyMsSum: 5, latency: hist }]);
    // A second writer (another node) finds the table migrated.
    const second = postgresUsageStore(DATABASE_URL, table);
    await second.write([{ minute: OLD_MINUTE, consumer: '', credential: '', service: 'public', route: 'open', statusClass: '2xx', requests: 1, bytesIn: 0, bytesOut: 10, latencyMsSum: 1, latency: hist.map((n) => n / 2) }]);
    await Promise.all([writer.close(), second.close()]);

    const after = await queryUsage(spec, q);
    assert.deepEqual(after.map((r) => [r.consumer, r.credential, r.requests, r.latency_histogram.reduce((n, x) => n + x, 0)]), [['', '', 8, 1], ['acme', '', 4, 0], ['acme', 'key-a', 2, 2]]);
    assert.equal(after[0]!.latency_ms_p50, 2.5, 'interpolated inside (2, 3] from the one row with a histogram');
    const c2 = new pg.Client({ connectionString: DATABASE_URL });
    await c2.connect();
    try {
      assert.deepEqual((await c2.query(`SELECT version FROM ng_schema_migrations WHERE component = $1 ORDER BY version`, [`metering:${table}`])).rows.map((r) => Number(r.version)), USAGE_MIGRATIONS.map((m) => m.version));
    } finally {
      await c2.end();
    }
    await dropTables(table);
  });
});

async function dropTables(table: string): Promise<void> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_migrations`);
    await c.query(`DELETE FROM ng_schema_migrations WHERE component = $1`, [`metering:${table}`]).catch(() => undefined);
  } finally {
    await c.end();
  }
}
