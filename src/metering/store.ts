// Where usage rows live: a SQLite file (default; WAL, so the workers of a node and the
// `usage` command share it) or PostgreSQL (several nodes meter into one place). A write
// is an upsert that adds, so flushes from many processes and many flushes of the same
// minute add up. `queryUsage` is the read API for the CLI (and the admin API later).
import Database from 'better-sqlite3';
import type pg from 'pg';
import { loadPg, openSqliteFile } from '../plugins/quota/stores.js';
import type { StoreSpec } from './config.js';

/** One aggregate: a minute × consumer × service × route × status class. */
export interface UsageRow {
  /** Start of the minute, ms since the epoch (UTC). */
  minute: number;
  /** Username of the consumer, "" for requests without one. */
  consumer: string;
  service: string;
  route: string;
  /** "2xx", "3xx", "4xx", "5xx" ("1xx"; "000" when no response was sent). */
  statusClass: string;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  latencyMsSum: number;
}

export interface UsageQuery {
  from: number;
  to: number;
  by: 'minute' | 'hour' | 'day';
  consumer?: string;
}

export interface UsageSummary {
  /** ISO start of the hour or day. */
  period: string;
  consumer: string;
  service: string;
  route: string;
  requests: number;
  status: Record<string, number>;
  bytes_in: number;
  bytes_out: number;
  latency_ms_avg: number;
}

export interface UsageStore {
  write(rows: readonly UsageRow[]): void | Promise<void>;
  query(q: UsageQuery): Promise<UsageSummary[]>;
  close(): Promise<void>;
}

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const COLUMNS = 'minute, consumer, service, route, status_class, requests, bytes_in, bytes_out, latency_ms_sum';

interface Grouped { period: number | string; consumer: string; service: string; route: string; status_class: string; requests: number | string; bytes_in: number | string; bytes_out: number | string; latency: number | string }

function summarize(rows: Grouped[]): UsageSummary[] {
  const out: UsageSummary[] = [];
  let last: UsageSummary | null = null;
  let latency = 0;
  for (const r of rows) {
    const period = new Date(Number(r.period)).toISOString();
    if (last === null || last.period !== period || last.consumer !== r.consumer || last.service !== r.service || last.route !== r.route) {
      if (last !== null) last.latency_ms_avg = last.requests === 0 ? 0 : Math.round((latency / last.requests) * 100) / 100;
      last = { period, consumer: r.consumer, service: r.service, route: r.route, requests: 0, status: {}, bytes_in: 0, bytes_out: 0, latency_ms_avg: 0 };
      latency = 0;
      out.push(last);
    }
    const n = Number(r.requests);
    last.requests += n;
    last.status[r.status_class] = (last.status[r.status_class] ?? 0) + n;
    last.bytes_in += Number(r.bytes_in);
    last.bytes_out += Number(r.bytes_out);
    latency += Number(r.latency);
  }
  if (last !== null) last.latency_ms_avg = last.requests === 0 ? 0 : Math.round((latency / last.requests) * 100) / 100;
  return out;
}

function createSql(table: string, bigint: string, real: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
    minute ${bigint} NOT NULL, consumer TEXT NOT NULL, service TEXT NOT NULL, route TEXT NOT NULL, status_class TEXT NOT NULL,
    requests ${bigint} NOT NULL, bytes_in ${bigint} NOT NULL, bytes_out ${bigint} NOT NULL, latency_ms_sum ${real} NOT NULL,
    PRIMARY KEY (minute, consumer, service, route, status_class))`;
}

const ADD = (t: string) => `ON CONFLICT (minute, consumer, service, route, status_class) DO UPDATE SET
  requests = ${t}.requests + excluded.requests, bytes_in = ${t}.bytes_in + excluded.bytes_in,
  bytes_out = ${t}.bytes_out + excluded.bytes_out, latency_ms_sum = ${t}.latency_ms_sum + excluded.latency_ms_sum`;

function selectSql(table: string, p: (i: number) => string, consumer: boolean): string {
  return `SELECT (minute - minute % ${p(1)}) AS period, consumer, service, route, status_class,
    SUM(requests) AS requests, SUM(bytes_in) AS bytes_in, SUM(bytes_out) AS bytes_out, SUM(latency_ms_sum) AS latency
    FROM ${table} WHERE minute >= ${p(2)} AND minute < ${p(3)}${consumer ? ` AND consumer = ${p(4)}` : ''}
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`;
}

export function sqliteUsageStore(path: string, table: string, opts: { readonly?: boolean } = {}): UsageStore {
  let db: Database.Database;
  if (opts.readonly) {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 2000 });
  } else {
    db = openSqliteFile(path);
    db.exec(createSql(table, 'INTEGER', 'REAL'));
    db.exec(`CREATE INDEX IF NOT EXISTS ${table}_consumer ON ${table} (consumer, minute)`);
  }
  let insert: Database.Statement | null = null;
  const writeAll = db.transaction((rows: readonly UsageRow[]) => {
    insert ??= db.prepare(`INSERT INTO ${table} (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ${ADD(table)}`);
    for (const r of rows) insert.run(r.minute, r.consumer, r.service, r.route, r.statusClass, r.requests, r.bytesIn, r.bytesOut, r.latencyMsSum);
  });
  return {
    write: (rows) => writeAll(rows),
    async query(q) {
      const args: unknown[] = [BUCKET_MS[q.by], q.from, q.to];
      if (q.consumer !== undefined) args.push(q.consumer);
      return summarize(db.prepare(selectSql(table, () => '?', q.consumer !== undefined)).all(...args) as Grouped[]);
    },
    async close() {
      db.close();
    },
  };
}

export function postgresUsageStore(url: string, table: string, timeoutMs = 5000): UsageStore {
  let pool: pg.Pool | null = null;
  let ready: Promise<void> | null = null;
  const ensure = async (): Promise<pg.Pool> => {
    if (pool === null) {
      const pgm = await loadPg();
      pool ??= new pgm.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, idleTimeoutMillis: 30_000 });
      pool.on('error', () => undefined);
    }
    const p = pool;
    ready ??= p.query(createSql(table, 'BIGINT', 'DOUBLE PRECISION')).then(
      () => undefined,
      (err: { code?: string }) => {
        if (err.code === '23505' || err.code === '42P07') return;
        ready = null;
        throw err;
      },
    );
    await ready;
    return p;
  };
  return {
    async write(rows) {
      const pool = await ensure();
      // One statement per 500 rows (9 parameters each, well under PostgreSQL's 65535).
      for (let at = 0; at < rows.length; at += 500) {
        const chunk = rows.slice(at, at + 500);
        const values: unknown[] = [];
        const tuples = chunk.map((r, i) => {
          values.push(r.minute, r.consumer, r.service, r.route, r.statusClass, r.requests, r.bytesIn, r.bytesOut, r.latencyMsSum);
          return `(${Array.from({ length: 9 }, (_, k) => `$${i * 9 + k + 1}`).join(', ')})`;
        });
        await pool.query(`INSERT INTO ${table} (${COLUMNS}) VALUES ${tuples.join(', ')} ${ADD(table)}`, values);
      }
    },
    async query(q) {
      const pool = await ensure();
      const args: unknown[] = [BUCKET_MS[q.by], q.from, q.to];
      if (q.consumer !== undefined) args.push(q.consumer);
      const r = await pool.query<Grouped>(selectSql(table, (i) => `$${i}::bigint`.replace('$4::bigint', '$4'), q.consumer !== undefined), args);
      return summarize(r.rows);
    },
    close: async () => {
      await pool?.end();
    },
  };
}

export function openUsageStore(spec: StoreSpec, opts: { readonly?: boolean } = {}): UsageStore {
  return spec.kind === 'postgres' ? postgresUsageStore(spec.url, spec.table) : sqliteUsageStore(spec.path, spec.table, opts);
}

/** The read API: usage per period (minute, hour or day), consumer, service and route. */
export async function queryUsage(spec: StoreSpec, q: UsageQuery): Promise<UsageSummary[]> {
  const store = openUsageStore(spec, { readonly: true });
  try {
    return await store.query(q);
  } finally {
    await store.close();
  }
}
