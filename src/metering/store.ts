// Where usage rows live: a SQLite file (default; WAL, so the workers of a node and the
// `usage` command share it) or PostgreSQL (several nodes meter into one place). A write
// is an upsert that adds, so flushes from many processes and many flushes of the same
// minute add up. The table is created and migrated by the writer (schema.ts); a reader
// (`queryUsage`, the CLI) never changes it and reads an older table as it is. `queryUsage`
// is the read API for the CLI (and the admin API later).
import type Database from 'better-sqlite3';
import { lazyRequire } from '../base/lazy-require.js';
import type pg from 'pg';
import { loadPg, openSqliteFile } from '../plugins/quota/stores.js';
import type { StoreSpec } from './config.js';
import { BUCKETS, emptyHistogram, HISTOGRAM_COLUMNS, percentile } from './histogram.js';
import { KEY_COLUMNS, migrationsTableSql, pendingUsage, readSource, ROW_COLUMNS, SUM_COLUMNS } from './schema.js';

const sqlite = lazyRequire<typeof Database>('better-sqlite3');

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

function values(r: UsageRow): unknown[] {
  return [r.minute, r.consumer, r.credential, r.service, r.route, r.statusClass, r.requests, r.bytesIn, r.bytesOut, r.latencyMsSum, ...r.latency];
}

const ADD = (t: string) => `ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${SUM_COLUMNS.map((c) => `${c} = ${t}.${c} + excluded.${c}`).join(', ')}`;

/** `ph(i)` is the i-th placeholder (1-based); `int` marks the bigint ones (PostgreSQL casts them). */
function selectSql(source: string, ph: (i: number, int: boolean) => string, q: UsageQuery): { sql: string; args: unknown[] } {
  const args: unknown[] = [BUCKET_MS[q.by], q.from, q.to];
  const where = [`minute >= ${ph(2, true)}`, `minute < ${ph(3, true)}`];
  for (const f of ['consumer', 'credential', 'service'] as const) {
    const v = q[f];
    if (v === undefined) continue;
    args.push(v);
    where.push(`${f} = ${ph(args.length, false)}`);
  }
  const sql = `SELECT (minute - minute % ${ph(1, true)}) AS period, consumer, credential, service, route, status_class,
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
  let db: Database.Database;
  /** Whether the table has the current columns (a reader of an older file selects through readSource). */
  let current = true;
  let exists = true;
  if (opts.readonly) {
    db = new (sqlite())(path, { readonly: true, fileMustExist: true, timeout: 2000 });
    const columns = (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
    exists = columns.length > 0;
    current = columns.includes('credential');
  } else {
    db = openSqliteFile(path);
    try {
      migrateSqlite(db, table);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  let insert: Database.Statement | null = null;
  const writeAll = db.transaction((rows: readonly UsageRow[]) => {
    insert ??= db.prepare(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES (${new Array(N).fill('?').join(', ')}) ${ADD(table)}`);
    for (const r of rows) insert.run(...values(r));
  });
  return {
    write: (rows) => writeAll(rows),
    async query(q) {
      if (!exists) return [];
      const { sql, args } = selectSql(readSource(table, current), () => '?', q);
      return summarize(db.prepare(sql).all(...args) as Grouped[]);
    },
    async close() {
      db.close();
    },
  };
}

/** Applies the pending migrations in one write transaction: workers that start together wait for each other (busy timeout). */
function migrateSqlite(db: Database.Database, table: string): void {
  db.transaction(() => {
    db.exec(migrationsTableSql(table));
    const applied = new Set((db.prepare(`SELECT version FROM ${table}_migrations`).all() as Array<{ version: number }>).map((r) => r.version));
    for (const m of pendingUsage(applied)) {
      for (const sql of m.sql(table, 'sqlite')) db.exec(sql);
      db.prepare(`INSERT INTO ${table}_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}

/** Serialises migrations of a usage table by nodes that start together (with the table's hash as second key). */
const MIGRATION_LOCK = 7_150_420;

async function migratePostgres(pool: pg.Pool, table: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, table]);
    await c.query(migrationsTableSql(table));
    const applied = new Set((await c.query<{ version: number }>(`SELECT version FROM ${table}_migrations`)).rows.map((r) => Number(r.version)));
    for (const m of pendingUsage(applied)) {
      for (const sql of m.sql(table, 'postgres')) await c.query(sql);
      await c.query(`INSERT INTO ${table}_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, new Date().toISOString()]);
    }
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export function postgresUsageStore(url: string, table: string, opts: { readonly?: boolean; timeoutMs?: number } = {}): UsageStore {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let pool: pg.Pool | null = null;
  /** Writer: migrated. Reader: which source to select from (null: no table yet). */
  let ready: Promise<string | null> | null = null;
  const inspect = async (p: pg.Pool): Promise<string | null> => {
    const r = await p.query<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1', [table]);
    if (r.rows.length === 0) return null;
    return readSource(table, r.rows.some((c) => c.column_name === 'credential'));
  };
  const ensure = async (): Promise<{ pool: pg.Pool; source: string | null }> => {
    if (pool === null) {
      const pgm = await loadPg();
      pool ??= new pgm.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, idleTimeoutMillis: 30_000 });
      pool.on('error', () => undefined);
    }
    const p = pool;
    ready ??= (opts.readonly ? inspect(p) : migratePostgres(p, table).then(() => table)).catch((err: unknown) => {
      ready = null;
      throw err;
    });
    return { pool: p, source: await ready };
  };
  return {
    async write(rows) {
      const { pool } = await ensure();
      // One statement per 500 rows (32 parameters each, well under PostgreSQL's 65535).
      for (let at = 0; at < rows.length; at += 500) {
        const chunk = rows.slice(at, at + 500);
        const params: unknown[] = [];
        const tuples = chunk.map((r, i) => {
          params.push(...values(r));
          return `(${Array.from({ length: N }, (_, k) => `$${i * N + k + 1}`).join(', ')})`;
        });
        await pool.query(`INSERT INTO ${table} (${ROW_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ${ADD(table)}`, params);
      }
    },
    async query(q) {
      const { pool, source } = await ensure();
      if (source === null) return [];
      const { sql, args } = selectSql(source, (i, int) => (int ? `$${i}::bigint` : `$${i}`), q);
      return summarize((await pool.query<Grouped>(sql, args)).rows);
    },
    close: async () => {
      await pool?.end();
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

