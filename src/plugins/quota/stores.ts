// Durable quota counters, one per (key, period). Each store answers one question
// atomically: "count one more request if fewer than `max` were counted; how many now?"
// (-1: the quota is used up). Denied requests are not counted.
// - sqlite (default): one upsert on a local file in WAL mode; the workers of a node share
//   the file (SQLite serializes writers, busy_timeout waits for the lock). Synchronous.
// - redis: one Lua script (GET, INCR, PEXPIREAT at the period's end + 1 h): cluster-wide.
// - postgres: one upsert round trip: cluster-wide, for a site that already runs PostgreSQL.
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { coalesceWrites, redisReady, whileFirstConnecting } from '../../base/redis.js';
import type { Dialect } from '../../base/sql/database.js';
import { migrate, migrateSqlite, type Migration } from '../../base/sql/migrate.js';
import { PostgresDatabase } from '../../base/sql/postgres.js';
import { plainPostgresSpec } from '../../base/sql/spec.js';
import { SqliteDatabase } from '../../base/sql/sqlite.js';

export interface QuotaStore {
  consume(key: string, period: string, max: number, periodEnd: number): number | Promise<number>;
  /** How many requests were counted for the key in the period (0 when none): read-only, for usage pages. */
  used(key: string, period: string): number | Promise<number>;
  release(): void;
  /** A remote store: resolves once it answers (start-up readiness), rejects when `signal` aborts. */
  ready?(signal: AbortSignal): Promise<void>;
}

/**
 * The counters' table, one component per table name in the version table. Version 1 is the
 * table of the releases before it (`IF NOT EXISTS`: a database they made takes it as applied).
 */
function quotaMigrations(table: string): Migration[] {
  const sqliteTail: Record<Dialect, string> = { sqlite: ' WITHOUT ROWID', postgres: '' };
  const int: Record<Dialect, string> = { sqlite: 'INTEGER', postgres: 'BIGINT' };
  return [
    {
      version: 1,
      name: 'quota counters per key and period',
      sql: (d) => [`CREATE TABLE IF NOT EXISTS ${table} (key TEXT NOT NULL, period TEXT NOT NULL, used ${int[d]} NOT NULL, expires_at ${int[d]} NOT NULL, PRIMARY KEY (key, period))${sqliteTail[d]}`],
    },
  ];
}

// ---- SQLite -------------------------------------------------------------------------

const SQLITE_TABLE = 'northgate_quota';
const sqliteStores = new Map<string, { store: QuotaStore; refs: number }>();

export function sqliteQuotaStore(file: string): QuotaStore {
  const path = resolve(file);
  const shared = sqliteStores.get(path);
  if (shared) {
    shared.refs++;
    return shared.store;
  }
  const sql = new SqliteDatabase(path, { timeoutMs: 2000 });
  try {
    migrateSqlite(sql, `quota:${SQLITE_TABLE}`, quotaMigrations(SQLITE_TABLE));
  } catch (err) {
    sql.handle.close();
    throw err;
  }
  // Counting is on the request path: synchronous statements, no promise per request.
  const db = sql.handle;
  const upsert = db.prepare(`INSERT INTO northgate_quota (key, period, used, expires_at) VALUES (?, ?, 1, ?)
    ON CONFLICT (key, period) DO UPDATE SET used = used + 1 WHERE used < ? RETURNING used`);
  const sweep = db.prepare('DELETE FROM northgate_quota WHERE expires_at < ?');
  const read = db.prepare('SELECT used FROM northgate_quota WHERE key = ? AND period = ?');
  const sweepTimer = setInterval(() => {
    try {
      sweep.run(Date.now());
    } catch {
      // busy: the next sweep will do it
    }
  }, 3_600_000);
  sweepTimer.unref();
  const entry = {
    refs: 1,
    store: {
      consume(key: string, period: string, max: number, periodEnd: number): number {
        const row = upsert.get(key, period, periodEnd + 86_400_000, max) as { used: number } | undefined;
        return row === undefined ? -1 : row.used;
      },
      used(key: string, period: string): number {
        return (read.get(key, period) as { used: number } | undefined)?.used ?? 0;
      },
      release() {
        if (--entry.refs > 0) return;
        sqliteStores.delete(path);
        clearInterval(sweepTimer);
        db.close();
      },
    },
  };
  sqliteStores.set(path, entry);
  return entry.store;
}

// ---- Redis --------------------------------------------------------------------------

const QUOTA_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return -1 end
used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return used
`;

interface QuotaRedis extends Redis {
  northgateQuota(numKeys: number, key: string, max: number, expireAt: number): Promise<number>;
}

export function redisQuotaStore(redis: Redis, prefix: string, timeoutMs: number, release: () => void): QuotaStore {
  const r = redis as QuotaRedis;
  if (typeof r.northgateQuota !== 'function') redis.defineCommand('northgateQuota', { numberOfKeys: 1, lua: QUOTA_SCRIPT });
  const run = r.northgateQuota.bind(r) as unknown as (k: string, m: number, e: number) => Promise<number>;
  // The client fails fast while disconnected (no offline queue); a quota counts, so while
  // the first connection is being made a request waits for it, bounded by the timeout.
  let ready: Promise<void> | null = null;
  const whenReady = (): Promise<void> =>
    (ready ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        ready = null;
        if (err) reject(err);
        else resolve();
      };
      const onReady = () => done();
      const timer = setTimeout(() => done(new Error('Redis is not connected')), timeoutMs);
      redis.on('ready', onReady);
    }));
  return {
    // The hour of grace lets a node whose clock lags still find the period's counter.
    consume: (key, period, max, periodEnd) => {
      const k = `${prefix}{${key}}:${period}`;
      const e = periodEnd + 3_600_000;
      if (redis.status === 'ready' || redis.status === 'end') {
        coalesceWrites(redis);
        return run(k, max, e);
      }
      // A new client's first connection is waited for up to its connect timeout, not only `timeout`.
      const first = whileFirstConnecting(redis);
      return (first ?? whenReady()).then(() => run(k, max, e));
    },
    used: async (key, period) => {
      const k = `${prefix}{${key}}:${period}`;
      if (redis.status !== 'ready' && redis.status !== 'end') await (whileFirstConnecting(redis) ?? whenReady());
      return Number((await redis.get(k)) ?? 0);
    },
    release,
    ready: (signal) => redisReady(redis, signal),
  };
}

// ---- PostgreSQL ---------------------------------------------------------------------

const pgDatabases = new Map<string, { db: PostgresDatabase; refs: number; ready: Map<string, Promise<void>> }>();

function postgresDatabase(url: string, timeoutMs: number): { db: PostgresDatabase; ready: Map<string, Promise<void>>; release(): void } {
  const key = `${url}|${timeoutMs}`;
  let entry = pgDatabases.get(key);
  if (!entry) {
    const db = new PostgresDatabase(plainPostgresSpec(url), { max: 4, connectTimeoutMs: Math.max(1000, timeoutMs), queryTimeoutMs: timeoutMs });
    entry = { db, refs: 0, ready: new Map() };
    pgDatabases.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  return {
    db: e.db,
    ready: e.ready,
    release() {
      if (--e.refs > 0) return;
      pgDatabases.delete(key);
      void e.db.close().catch(() => undefined);
    },
  };
}

export function postgresQuotaStore(url: string, table: string, timeoutMs: number): QuotaStore {
  let shared: ReturnType<typeof postgresDatabase> | null = null;
  let released = false;
  const sql = `INSERT INTO ${table} (key, period, used, expires_at) VALUES (?, ?, 1, ?)
    ON CONFLICT (key, period) DO UPDATE SET used = ${table}.used + 1 WHERE ${table}.used < ? RETURNING used`;
  const read = `SELECT used FROM ${table} WHERE key = ? AND period = ?`;
  const ensure = async (): Promise<PostgresDatabase> => {
    if (released) throw new Error('quota store closed');
    shared ??= postgresDatabase(url, timeoutMs);
    const { db, ready } = shared;
    let p = ready.get(table);
    if (p === undefined) {
      p = migrate(db, `quota:${table}`, quotaMigrations(table));
      // A failed attempt (database away) is retried by the next request.
      p.catch(() => ready.delete(table));
      ready.set(table, p);
    }
    await p;
    return db;
  };
  return {
    async consume(key, period, max, periodEnd) {
      const db = await ensure();
      const row = await db.get<{ used: string }>(sql, [key, period, periodEnd + 86_400_000, max]);
      return row === undefined ? -1 : Number(row.used);
    },
    async used(key, period) {
      const db = await ensure();
      return Number((await db.get<{ used: string }>(read, [key, period]))?.used ?? 0);
    },
    release() {
      released = true;
      shared?.release();
    },
    async ready(signal) {
      // Until the table is there (the database answered), retried every 250 ms while waited for.
      for (let attempt = 0; attempt < 240; attempt++) {
        try {
          await ensure();
          return;
        } catch (err) {
          if (signal.aborted || released) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      throw new Error('PostgreSQL did not answer');
    },
  };
}
