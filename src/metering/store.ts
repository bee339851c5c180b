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
import { KEY_COLUMNS, readSource, ROW_COLUMNS, SUM_COLUMNS, USAGE_MIGRATIONS } from './schema.js';

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

export interface UsageStore {
  write(rows: readonly UsageRow[]): void | Promise<void>;
  query(q: UsageQuery): Promise<UsageSummary[]>;
  close(): Promise<void>;
}

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const N = ROW_COLUMNS.length;

type Grouped = Record<string, string | number>;

function values(r: UsageRow): SqlParam[] {
  return [r.minute, r.consumer, r.credential, r.service, r.route, r.statusClass, r.requests, r.bytesIn, r.bytesOut, r.latencyMsSum, ...r.latency];
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
  if (opts.readonly) {
    sql = new SqliteDatabase(path, { readonly: true, timeoutMs: 2000 });
    const columns = (sql.handle.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
    exists = columns.length > 0;
    current = columns.includes('credential');
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
  const writeAll = db.transaction((rows: readonly UsageRow[]) => {
    insert ??= db.prepare(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES (${new Array(N).fill('?').join(', ')}) ${ADD(table)}`);
    for (const r of rows) insert.run(...values(r));
  });
  return {
    write: (rows) => writeAll(rows),
    async query(q) {
      if (!exists) return [];
      const { sql: text, args } = selectSql(readSource(table, current), '?', q);
      return summarize(db.prepare(text).all(...args) as Grouped[]);
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
  let ready: Promise<string | null> | null = null;
  const inspect = async (d: PostgresDatabase): Promise<string | null> => {
    const columns = await d.all<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', [table]);
    if (columns.length === 0) return null;
    return readSource(table, columns.some((c) => c.column_name === 'credential'));
  };
  const ensure = async (): Promise<{ db: PostgresDatabase; source: string | null }> => {
    db ??= new PostgresDatabase(plainPostgresSpec(url), { max: 2, connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs });
    const d = db;
    const { component, migrations, opts: m } = usageMigrations(table);
    ready ??= (opts.readonly ? inspect(d) : migrate(d, component, migrations, m).then(() => table)).catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return { db: d, source: await ready };
  };
  return {
    async write(rows) {
      const { db } = await ensure();
      // One statement per 500 rows (32 parameters each, well under PostgreSQL's 65535).
      const tuple = `(${new Array(N).fill('?').join(', ')})`;
      for (let at = 0; at < rows.length; at += 500) {
        const chunk = rows.slice(at, at + 500);
        const params = chunk.flatMap(values);
        await db.run(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')} ${ADD(table)}`, params);
      }
    },
    async query(q) {
      const { db, source } = await ensure();
      if (source === null) return [];
      const { sql, args } = selectSql(source, '?::bigint', q);
      return summarize(await db.all<Grouped>(sql, args));
    },
    close: async () => {
      await db?.close();
    },
  };
}

export function openUsageStore(spec: StoreSpec, opts: { readonly?: boolean } = {}): UsageStore {
  return spec.kind === 'postgres' ? postgresUsageStore(spec.url, spec.table, opts) : sqliteUsageStore(spec.path, spec.table, opts);
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

