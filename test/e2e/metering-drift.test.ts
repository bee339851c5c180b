// OpenAPI drift end to end: requests through the real CLI (two workers) to services with
// `request-validator` and `mock`, their contract violations metered into the drift table of a
// SQLite file and of a real PostgreSQL, read back with `northgate usage --drift`; the counts
// equal the violations caused. Client-chosen paths never become rows of their own.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/base/logger.js';
import { contractViolationChannel } from '../../src/base/events.js';
import { migrateSqlite } from '../../src/base/sql/migrate.js';
import { SqliteDatabase } from '../../src/base/sql/sqlite.js';
import { Meter } from '../../src/metering/meter.js';
import { parseStore } from '../../src/metering/config.js';
import { USAGE_MIGRATIONS } from '../../src/metering/schema.js';
import { queryDrift, type DriftSummary } from '../../src/metering/store.js';
import { http, runCli, startCli, startUpstream, tempDir, writeConfig, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const CLOCK = { NORTHGATE_TEST_CLOCK: '2031-05-10T10:30:00Z' };

const DOCUMENT = `openapi: 3.0.3
info: { title: Orders, version: "1" }
paths:
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: { type: object, required: [sku], properties: { sku: { type: string } } }
      responses:
        "201": { description: created }
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer } }
      responses:
        "200": { description: one order }
`;

function config(upstream: string, store: string, spec: string): string {
  return `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
metering: { store: "${store}", flush_interval: 1s }
services:
  - name: orders
    url: "${upstream}"
    openapi: { spec: ${JSON.stringify(spec)}, prefix: /api }
    plugins: { request-validator: { responses: report } }
    routes: [{ name: api, paths: ["/api"] }]
  - name: sandbox
    url: "${upstream}"
    openapi: { spec: ${JSON.stringify(spec)}, prefix: /sandbox }
    plugins: { mock: { unknown_operations: pass } }
    routes: [{ name: sandbox, paths: ["/sandbox"] }]
  - name: plain
    url: "${upstream}"
    routes: [{ name: plain, paths: ["/plain"] }]
`;
}

const upstream = (): Promise<Upstream> =>
  startUpstream((req, res) => {
    req.resume();
    if (req.method === 'POST') res.writeHead(201).end();
    else if (req.url!.endsWith('/999')) res.writeHead(500).end('broken');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });

/** Every kind of violation, with a known count each (and requests that cause none). */
async function traffic(url: string): Promise<void> {
  const json = { 'content-type': 'application/json' };
  const plan: Array<[number, () => Promise<{ status: number }>]> = [
    ...Array.from({ length: 4 }, () => [201, () => http(url, { method: 'POST', path: '/api/orders', headers: json, body: '{"sku":"A-1"}' })] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 3 }, () => [400, () => http(url, { method: 'POST', path: '/api/orders', headers: json, body: '{"sku":7}' })] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 2 }, () => [400, () => http(url + '/api/orders/abc')] as [number, () => Promise<{ status: number }>]),
    // Five different paths a client made up: one row, not five.
    ...Array.from({ length: 5 }, (_, i) => [404, () => http(url + `/api/made-up-${i}-${randomUUID()}`)] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 2 }, () => [500, () => http(url + '/api/orders/999')] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 3 }, (_, i) => [200, () => http(url + `/sandbox/elsewhere/${i}`)] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 2 }, () => [200, () => http(url + '/sandbox/orders/7')] as [number, () => Promise<{ status: number }>]),
    ...Array.from({ length: 3 }, () => [200, () => http(url + '/plain/anything')] as [number, () => Promise<{ status: number }>]),
  ];
  const results = await Promise.all(plan.map(([, send]) => send()));
  assert.deepEqual(
    results.map((r) => r.status),
    plan.map(([status]) => status),
  );
}

const EXPECTED = [
  { service: 'orders', operation: '', kind: 'unknown-operation', status: 404, violations: 5 },
  { service: 'orders', operation: 'createOrder', kind: 'request', status: 400, violations: 3 },
  { service: 'orders', operation: 'getOrder', kind: 'request', status: 400, violations: 2 },
  { service: 'orders', operation: 'getOrder', kind: 'response', status: 500, violations: 2 },
  { service: 'sandbox', operation: '', kind: 'unknown-operation', status: 0, violations: 3 },
];

function withoutPeriod(rows: DriftSummary[]): Array<Omit<DriftSummary, 'period'>> {
  return rows.map(({ period: _p, ...rest }) => rest);
}

function writeSpec(): string {
  const spec = join(tempDir(), 'orders.yaml');
  writeFileSync(spec, DOCUMENT);
  return spec;
}

describe('drift on a SQLite file, two workers, read with northgate usage --drift', () => {
  test('counts equal the violations caused; table, csv and json; --service, --by day', async () => {
    const up = await upstream();
    const store = join(tempDir(), 'usage.sqlite');
    const gw = await startCli(['--config', writeConfig(config(up.url, store, writeSpec())), '--workers', '2'], CLOCK);
    try {
      await traffic(gw.url);
    } finally {
      assert.equal(await gw.stop(), 0, 'drained (the workers flush on drain)');
      await up.close();
    }
    const json = await runCli(['usage', '--drift', '--store', store, '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as DriftSummary[];
    assert.deepEqual(withoutPeriod(rows), EXPECTED);
    assert.ok(rows.every((r) => r.period === '2031-05-10T10:00:00.000Z'), 'hour buckets from the injected clock');

    const csv = await runCli(['usage', '--drift', '--store', `sqlite:${store}`, '--service', 'orders', '--by', 'day', '--from', '2031-05-01', '--to', '2031-05-31', '--format', 'csv']);
    assert.equal(csv.code, 0, csv.stderr);
    assert.deepEqual(csv.stdout.trim().split('\n'), [
      'period,service,operation,kind,status,violations',
      '2031-05-10T00:00:00.000Z,orders,,unknown-operation,404,5',
      '2031-05-10T00:00:00.000Z,orders,createOrder,request,400,3',
      '2031-05-10T00:00:00.000Z,orders,getOrder,request,400,2',
      '2031-05-10T00:00:00.000Z,orders,getOrder,response,500,2',
    ]);

    // --from inside the hour still shows that hour.
    const table = await runCli(['usage', '--drift', '--store', store, '--from', '2031-05-10T10:45:00Z', '--to', '2031-05-10T11:00:00Z']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^PERIOD +SERVICE +OPERATION +KIND +STATUS +VIOLATIONS\n/);
    assert.match(table.stdout, /\n2031-05-10 10:00 +orders +\(none\) +unknown-operation +404 +5\n/);
    assert.match(table.stdout, /\n2031-05-10 10:00 +sandbox +\(none\) +unknown-operation +- +3\n/);
    assert.match(table.stdout, /\n5 rows, 15 violations\n$/);
    assert.ok(!table.stdout.includes('made-up'), 'no client path is stored');

    const outside = await runCli(['usage', '--drift', '--store', store, '--from', '2031-05-11', '--to', '2031-05-12']);
    assert.equal(outside.stdout, 'no contract violations in this range\n');
    const none = await runCli(['usage', '--drift', '--store', store, '--service', 'plain', '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.deepEqual(JSON.parse(none.stdout), []);

    // --service also filters the usage rows.
    const usage = await runCli(['usage', '--store', store, '--service', 'plain', '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.deepEqual((JSON.parse(usage.stdout) as Array<{ service: string; requests: number }>).map((r) => [r.service, r.requests]), [['plain', 3]]);
  });

  test('usage --drift: help, flags it does not take, a store of an earlier release', async () => {
    const help = await runCli(['usage', '--help']);
    assert.match(help.stdout, /--drift/);
    const consumer = await runCli(['usage', '--drift', '--consumer', 'alice']);
    assert.equal(consumer.code, 2);
    assert.match(consumer.stderr, /--drift .* takes no --consumer or --credential/);
    // A usage table of version 2 (no drift table): read as it is, without changing it.
    const store = join(tempDir(), 'old.sqlite');
    const db = new SqliteDatabase(store, {});
    migrateSqlite(db, 'metering:northgate_usage', USAGE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, sql: (d) => m.sql('northgate_usage', d) })), { target: 2 });
    db.handle.close();
    const old = await runCli(['usage', '--drift', '--store', store]);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(old.stdout, 'no contract violations in this range\n');
    const reopened = new SqliteDatabase(store, { readonly: true });
    assert.equal(reopened.hasTable('northgate_usage_drift'), false, 'a reader never migrates');
    reopened.handle.close();
  });
});

const pgSkip = await postgresSkipReason();

describe('drift on PostgreSQL, two workers', { skip: pgSkip }, () => {
  test('counts equal the violations caused (usage --drift --config reads the same store)', async () => {
    const up = await upstream();
    const table = `ngtest_usage_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const file = writeConfig(config(up.url, DATABASE_URL, writeSpec()).replace('flush_interval: 1s', `flush_interval: 1s, table: ${table}`));
    const gw = await startCli(['--config', file, '--workers', '2'], CLOCK);
    try {
      await traffic(gw.url);
    } finally {
      assert.equal(await gw.stop(), 0);
      await up.close();
    }
    const json = await runCli(['usage', '--drift', '--config', file, '--from', '2031-05-10', '--to', '2031-05-10', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(withoutPeriod(JSON.parse(json.stdout) as DriftSummary[]), EXPECTED);
    const rows = await queryDrift({ kind: 'postgres', url: DATABASE_URL, table }, { from: Date.parse('2031-05-10'), to: Date.parse('2031-05-11'), by: 'day', service: 'sandbox' });
    assert.deepEqual(rows, [{ period: '2031-05-10T00:00:00.000Z', service: 'sandbox', operation: '', kind: 'unknown-operation', status: 0, violations: 3 }]);
  });
});

describe('the drift buffer', () => {
  test('is bounded by max_rows, counts what it drops, and keeps its rows when a flush fails', async () => {
    const meter = new Meter({ store: parseStore('postgres://postgres@127.0.0.1:1/none'), flushIntervalMs: 3_600_000, maxRows: 100 }, createLogger({ level: 'silent' }), (ctx) => ctx.id.startsWith('drift-'));
    try {
      for (let i = 0; i < 150; i++) contractViolationChannel.publish({ ctx: { id: `drift-${i}` }, service: 's', operation: `op${i}`, kind: 'request', status: 400, issues: [], log: false });
      // Another gateway's request in the same process is not this meter's.
      contractViolationChannel.publish({ ctx: { id: 'other' }, service: 's', operation: 'op0', kind: 'request', status: 400, issues: [], log: false });
      assert.equal(meter.droppedViolations, 50);
      await meter.flush();
      contractViolationChannel.publish({ ctx: { id: 'drift-x' }, service: 's', operation: 'op0', kind: 'request', status: 400, issues: [], log: false });
      assert.equal(meter.droppedViolations, 50, 'a failed flush keeps its rows, and a known row still counts');
    } finally {
      await meter.close(2000);
    }
  });
});
