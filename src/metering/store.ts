// Where usage rows live: a SQLite file (default; WAL, so the workers of a node and the
// `usage` command share it) or PostgreSQL (several nodes meter into one place). A write
// is an upsert that adds, so flushes from many processes and many flushes of the same
// minute add up. The table is created and migrated by the writer (schema.ts); a reader
// (`queryUsage`, the CLI) never changes it and reads an older table as it is. `queryUsage`
// is the read API for the CLI (and the admin API later).
import type Database from 'better-sqlite3';
import type { SqlParam } from '../base/sql/database.js';
import { migrate, migrateSqlite, type MigrateOptions, type Migration } from '../base/sql/migrate.js';
import { PostgresDatabase } from '../base/sql/postgres.js';
import { plainPostgresSpec } from '../base/sql/spec.js';
import { SqliteDatabase } from '../base/sql/sqlite.js';
import type { StoreSpec } from './config.js';
import { BUCKETS, emptyHistogram, HISTOGRAM_COLUMNS, percentile } from './histogram.js';
import { DRIFT_KEY_COLUMNS, driftTable, KEY_COLUMNS, readSource, ROW_COLUMNS, SUM_COLUMNS, USAGE_MIGRATIONS } from './schema.js';

/** One aggregate: a minute × consumer × credential × service × route × status class. */
export interface UsageRow {
  /** Start of the minute, ms since the epoch (UTC). */
  minute: number;
  /** Username of the consumer, "" for requests without one. */
  consumer: string;
  /** Id of the credential that authenticated the request (never the secret), "" for none. */
  credential: string;
  service: string;
  route: string;
  /** "2xx", "3xx", "4xx", "5xx" ("1xx"; "000" when no response was sent). */
  statusClass: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  latencyMsSum: number;
  /** Requests per latency bucket (histogram.ts, BUCKETS long). */
  latency: number[];
}

export interface UsageQuery {
  from: number;
  to: number;
  by: 'minute' | 'hour' | 'day';
  consumer?: string;
  credential?: string;
  service?: string;
}

export interface UsageSummary {
  /** ISO start of the minute, hour or day. */
  period: string;
  consumer: string;
  credential: string;
  service: string;
  route: string;
  requests: number;
  status: Record<string, number>;
  bytes_in: number;
  bytes_out: number;
  latency_ms_avg: number;
  /** From the latency histogram; null when no row of the group has one (metered before it existed). */
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
  latency_ms_p99: number | null;
  /** Requests per latency bucket (bounds: LATENCY_BOUNDS_MS, docs/rate-limiting.md), so that groups can be added up. */
  latency_histogram: number[];
}

/** One drift aggregate: OpenAPI contract violations of an hour × service × operation × kind × status. */
export interface DriftRow {
  /** Start of the hour, ms since the epoch (UTC). */
  hour: number;
  service: string;
  /** The operation's label (operationId, else "METHOD path"); "" for a request that matches none. */
  operation: string;
  /** "unknown-operation", "request" or "response". */
  kind: string;
  /** The status the client got (0: forwarded unchecked), or for a response the upstream's. */
  status: number;
  violations: number;
}

export interface DriftQuery {
  from: number;
  to: number;
  by: 'hour' | 'day';
  service?: string;
}

export interface DriftSummary {
  /** ISO start of the hour or day. */
  period: string;
  service: string;
  operation: string;
  kind: string;
  status: number;
  violations: number;
}

export interface UsageStore {
  write(rows: readonly UsageRow[], drift?: readonly DriftRow[]): void | Promise<void>;
  query(q: UsageQuery): Promise<UsageSummary[]>;
  /** Drift rows (empty for a table of a release before the drift table). */
  queryDrift(q: DriftQuery): Promise<DriftSummary[]>;
  close(): Promise<void>;
}

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const N = ROW_COLUMNS.length;

type Grouped = Record<string, string | number>;

function values(r: UsageRow): SqlParam[] {
  return [r.minute, r.consumer, r.credential, r.service, r.route, r.statusClass, r.requests, r.bytesIn, r.bytesOut, r.latencyMsSum, ...r.latency];
}

const DRIFT_COLUMNS = [...DRIFT_KEY_COLUMNS, 'violations'];
const ADD_DRIFT = (t: string) => `ON CONFLICT (${DRIFT_KEY_COLUMNS.join(', ')}) DO UPDATE SET violations = ${t}.violations + excluded.violations`;

function driftValues(r: DriftRow): SqlParam[] {
  return [r.hour, r.service, r.operation, r.kind, r.status, r.violations];
}

function driftSelectSql(table: string, int: string, q: DriftQuery): { sql: string; args: SqlParam[] } {
  const args: SqlParam[] = [BUCKET_MS[q.by], q.from, q.to];
  const where = [`hour >= ${int}`, `hour < ${int}`];
  if (q.service !== undefined) {
    args.push(q.service);
    where.push('service = ?');
  }
  const sql = `SELECT (hour - hour % ${int}) AS period, service, operation, kind, status, SUM(violations) AS violations
    FROM ${table} WHERE ${where.join(' AND ')} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`;
  return { sql, args };
}

function driftSummaries(rows: Grouped[]): DriftSummary[] {
  return rows.map((r) => ({ period: new Date(Number(r['period'])).toISOString(), service: String(r['service']), operation: String(r['operation']), kind: String(r['kind']), status: Number(r['status']), violations: Number(r['violations']) }));
}

const ADD = (t: string) => `ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${SUM_COLUMNS.map((c) => `${c} = ${t}.${c} + excluded.${c}`).join(', ')}`;

/** Each usage table is a component of its own in the version table (several may share a database). */
function usageMigrations(table: string): { component: string; migrations: Migration[]; opts: MigrateOptions } {
  return {
    component: `metering:${table}`,
    migrations: USAGE_MIGRATIONS.map((m) => ({ version: m.version, name: m.name, sql: (d) => m.sql(table, d) })),
    // Releases before the shared version table kept one per usage table.
    opts: { legacyTable: `${table}_migrations` },
  };
}

/** `int` is the bigint placeholder (PostgreSQL must be told the type of `minute % ?`). */
function selectSql(source: string, int: string, q: UsageQuery): { sql: string; args: SqlParam[] } {
  const args: SqlParam[] = [BUCKET_MS[q.by], q.from, q.to];
  const where = [`minute >= ${int}`, `minute < ${int}`];
  for (const f of ['consumer', 'credential', 'service'] as const) {
    const v = q[f];
    if (v === undefined) continue;
    args.push(v);
    where.push(`${f} = ?`);
  }
  const sql = `SELECT (minute - minute % ${int}) AS period, consumer, credential, service, route, status_class,
    SUM(requests) AS requests, SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out, SUM(latency_ms_sum) AS latency,
    ${HISTOGRAM_COLUMNS.map((c, i) => `SUM(${c}) AS h${i}`).join(', ')}
    FROM ${source} WHERE ${where.join(' AND ')}
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`;
  return { sql, args };
}

function summarize(rows: Grouped[]): UsageSummary[] {
  const out: UsageSummary[] = [];
  let last: UsageSummary | null = null;
  let latency = 0;
  const close = (s: UsageSummary) => {
    s.latency_ms_avg = s.requests === 0 ? 0 : Math.round((latency / s.requests) * 100) / 100;
    s.latency_ms_p50 = percentile(s.latency_histogram, 0.5);
    s.latency_ms_p95 = percentile(s.latency_histogram, 0.95);
    s.latency_ms_p99 = percentile(s.latency_histogram, 0.99);
  };
  for (const r of rows) {
    const period = new Date(Number(r['period'])).toISOString();
    const consumer = String(r['consumer']);
    const credential = String(r['credential']);
    const service = String(r['service']);
    const route = String(r['route']);
    if (last === null || last.period !== period || last.consumer !== consumer || last.credential !== credential || last.service !== service || last.route !== route) {
      if (last !== null) close(last);
      last = { period, consumer, credential, service, route, requests: 0, status: {}, bytes_in: 0, bytes_out: 0, latency_ms_avg: 0, latency_ms_p50: null, latency_ms_p95: null, latency_ms_p99: null, latency_histogram: emptyHistogram() };
      latency = 0;
      out.push(last);
    }
    const n = Number(r['requests']);
    const cls = String(r['status_class']);
    last.requests += n;
    last.status[cls] = (last.status[cls] ?? 0) + n;
    last.bytes_in += Number(r['bytes_in']);
    last.bytes_out += Number(r['bytes_out']);
    latency += Number(r['latency']);
    for (let i = 0; i < BUCKETS; i++) last.latency_histogram[i]! += Number(r[`h${i}`]);
  }
  if (last !== null) close(last);
  return out;
}

export function sqliteUsageStore(path: string, table: string, opts: { readonly?: boolean } = {}): UsageStore {
  let sql: SqliteDatabase;
  /** Whether the table has the current columns (a reader of an older file selects through readSource). */
  let current = true;
  let exists = true;
  let driftExists = true;
  const drift = driftTable(table);
  if (opts.readonly) {
    sql = new SqliteDatabase(path, { readonly: true, timeoutMs: 2000 });
    const columns = (sql.handle.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
    exists = columns.length > 0;
    current = columns.includes('credential');
    driftExists = sql.hasTable(drift);
  } else {
    sql = new SqliteDatabase(path, { timeoutMs: 2000 });
    try {
      // One write transaction: workers that start together wait for each other (busy timeout).
      const { component, migrations, opts: m } = usageMigrations(table);
      migrateSqlite(sql, component, migrations, m);
    } catch (err) {
      sql.handle.close();
      throw err;
    }
  }
  const db = sql.handle;
  let insert: Database.Statement | null = null;
  let insertDrift: Database.Statement | null = null;
  const writeAll = db.transaction((rows: readonly UsageRow[], driftRows: readonly DriftRow[]) => {
    if (rows.length > 0) insert ??= db.prepare(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES (${new Array(N).fill('?').join(', ')}) ${ADD(table)}`);
    for (const r of rows) insert!.run(...values(r));
    if (driftRows.length > 0) insertDrift ??= db.prepare(`INSERT INTO ${drift} (${DRIFT_COLUMNS.join(', ')}) VALUES (${DRIFT_COLUMNS.map(() => '?').join(', ')}) ${ADD_DRIFT(drift)}`);
    for (const r of driftRows) insertDrift!.run(...driftValues(r));
  });
  return {
    write: (rows, driftRows = []) => writeAll(rows, driftRows),
    async query(q) {
      if (!exists) return [];
      const { sql: text, args } = selectSql(readSource(table, current), '?', q);
      return summarize(db.prepare(text).all(...args) as Grouped[]);
    },
    async queryDrift(q) {
      if (!driftExists) return [];
      const { sql: text, args } = driftSelectSql(drift, '?', q);
      return driftSummaries(db.prepare(text).all(...args) as Grouped[]);
    },
    async close() {
      db.close();
    },
  };
}

export function postgresUsageStore(url: string, table: string, opts: { readonly?: boolean; timeoutMs?: number } = {}): UsageStore {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let db: PostgresDatabase | null = null;
  /** Writer: migrated. Reader: which source to select from (null: no table yet). */
  let ready: Promise<{ source: string | null; drift: boolean }> | null = null;
  const drift = driftTable(table);
  const hasTable = async (d: PostgresDatabase, name: string): Promise<boolean> => (await d.get<{ t: string | null }>('SELECT to_regclass(?)::text AS t', [name]))?.t != null;
  const inspect = async (d: PostgresDatabase): Promise<{ source: string | null; drift: boolean }> => {
    const columns = await d.all<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', [table]);
    if (columns.length === 0) return { source: null, drift: false };
    return { source: readSource(table, columns.some((c) => c.column_name === 'credential')), drift: await hasTable(d, drift) };
  };
  const ensure = async (): Promise<{ db: PostgresDatabase; source: string | null; drift: boolean }> => {
    db ??= new PostgresDatabase(plainPostgresSpec(url), { max: 2, connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs });
    const d = db;
    const { component, migrations, opts: m } = usageMigrations(table);
    ready ??= (opts.readonly ? inspect(d) : migrate(d, component, migrations, m).then(() => ({ source: table, drift: true }))).catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return { db: d, ...(await ready) };
  };
  return {
    async write(rows, driftRows = []) {
      const { db } = await ensure();
      // One transaction: a failed flush is retried whole, and the upsert adds, so no part of it may
      // have been written. One statement per 500 rows (32 parameters each, well under PostgreSQL's 65535).
      const tuple = `(${new Array(N).fill('?').join(', ')})`;
      const driftTuple = `(${DRIFT_COLUMNS.map(() => '?').join(', ')})`;
      await db.tx(async (q) => {
        for (let at = 0; at < rows.length; at += 500) {
          const chunk = rows.slice(at, at + 500);
          await q.run(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')} ${ADD(table)}`, chunk.flatMap(values));
        }
        for (let at = 0; at < driftRows.length; at += 500) {
          const chunk = driftRows.slice(at, at + 500);
          await q.run(`INSERT INTO ${drift} (${DRIFT_COLUMNS.join(', ')}) VALUES ${chunk.map(() => driftTuple).join(', ')} ${ADD_DRIFT(drift)}`, chunk.flatMap(driftValues));
        }
      });
    },
    async query(q) {
      const { db, source } = await ensure();
      if (source === null) return [];
      const { sql, args } = selectSql(source, '?::bigint', q);
      return summarize(await db.all<Grouped>(sql, args));
    },
    async queryDrift(q) {
      const { db, drift: hasDrift } = await ensure();
      if (!hasDrift) return [];
      const { sql, args } = driftSelectSql(drift, '?::bigint', q);
      return driftSummaries(await db.all<Grouped>(sql, args));
    },
    close: async () => {
      await db?.close();
    },
  };
}

export function openUsageStore(spec: StoreSpec, opts: { readonly?: boolean } = {}): UsageStore {
  return spec.kind === 'postgres' ? postgresUsageStore(spec.url, spec.table, opts) : sqliteUsageStore(spec.path, spec.table, opts);
}

/** Drift: OpenAPI contract violations per period (hour or day), service, operation, kind and status. */
export async function queryDrift(spec: StoreSpec, q: DriftQuery): Promise<DriftSummary[]> {
  const store = openUsageStore(spec, { readonly: true });
  try {
    return await store.queryDrift(q);
  } finally {
    await store.close();
  }
}

/** The read API: usage per period (minute, hour or day), consumer, credential, service and route. */
export async function queryUsage(spec: StoreSpec, q: UsageQuery): Promise<UsageSummary[]> {
  const store = openUsageStore(spec, { readonly: true });
  try {
    return await store.query(q);
  } finally {
    await store.close();
  }
}

