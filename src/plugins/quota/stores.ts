// Durable quota counters, one per (key, period). Each store answers one question
// atomically: "count one more request if fewer than `max` were counted; how many now?"
// (-1: the quota is used up). Denied requests are not counted.
// - sqlite (default): one upsert on a local file in WAL mode; the workers of a node share
//   the file (SQLite serializes writers, busy_timeout waits for the lock). Synchronous.
// - redis: one Lua script (GET, INCR, PEXPIREAT at the period's end + 1 h): cluster-wide.
// - postgres: one upsert round trip: cluster-wide, for a site that already runs PostgreSQL.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { lazyRequire } from '../../base/lazy-require.js';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { coalesceWrites, redisReady, whileFirstConnecting } from '../../base/redis.js';

const sqlite = lazyRequire<typeof Database>('better-sqlite3');

export interface QuotaStore {
  consume(key: string, period: string, max: number, periodEnd: number): number | Promise<number>;
  /** How many requests were counted for the key in the period (0 when none): read-only, for usage pages. */
  used(key: string, period: string): number | Promise<number>;
  release(): void;
  /** A remote store: resolves once it answers (start-up readiness), rejects when `signal` aborts. */
  ready?(signal: AbortSignal): Promise<void>;
}

// ---- SQLite -------------------------------------------------------------------------

const sqliteStores = new Map<string, { store: QuotaStore; refs: number }>();

export function openSqliteFile(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new (sqlite())(path, { timeout: 2000 });
  db.pragma('journal_mode = WAL');
  // WAL + NORMAL: a commit survives a process crash; only an OS crash can lose the last ones.
  db.pragma('synchronous = NORMAL');
  return db;
}

export function sqliteQuotaStore(file: string): QuotaStore {
  const path = resolve(file);
  const shared = sqliteStores.get(path);
  if (shared) {
    shared.refs++;
    return shared.store;
  }
  const db = openSqliteFile(path);
  db.exec(`CREATE TABLE IF NOT EXISTS northgate_quota (
    key TEXT NOT NULL, period TEXT NOT NULL, used INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, period)) WITHOUT ROWID`);
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

const pgPools = new Map<string, { pool: pg.Pool; refs: number; ready: Map<string, Promise<void>> }>();
/** pg is loaded only by a config that uses PostgreSQL (it costs start-up time otherwise). */
let pgModule: typeof pg | null = null;

export async function loadPg(): Promise<typeof pg> {
  return (pgModule ??= (await import('pg')).default);
}

function postgresPool(pgm: typeof pg, url: string, timeoutMs: number): { pool: pg.Pool; ready: Map<string, Promise<void>>; release(): void } {
  const key = `${url}|${timeoutMs}`;
  let entry = pgPools.get(key);
  if (!entry) {
    const pool = new pgm.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: Math.max(1000, timeoutMs), query_timeout: timeoutMs, idleTimeoutMillis: 30_000 });
    pool.on('error', () => undefined);
    entry = { pool, refs: 0, ready: new Map() };
    pgPools.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  return {
    pool: e.pool,
    ready: e.ready,
    release() {
      if (--e.refs > 0) return;
      pgPools.delete(key);
      void e.pool.end().catch(() => undefined);
    },
  };
}

export function postgresQuotaStore(url: string, table: string, timeoutMs: number): QuotaStore {
  let shared: ReturnType<typeof postgresPool> | null = null;
  let released = false;
  const sql = `INSERT INTO ${table} (key, period, used, expires_at) VALUES ($1, $2, 1, $3)
    ON CONFLICT (key, period) DO UPDATE SET used = ${table}.used + 1 WHERE ${table}.used < $4 RETURNING used`;
  const ensure = async (): Promise<pg.Pool> => {
    const pgm = await loadPg();
    if (released) throw new Error('quota store closed');
    shared ??= postgresPool(pgm, url, timeoutMs);
    const { pool, ready } = shared;
    let p = ready.get(table);
    if (p === undefined) {
      p = pool
        .query(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT NOT NULL, period TEXT NOT NULL, used BIGINT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (key, period))`)
        .then(
          () => undefined,
          (err: { code?: string }) => {
            // Two processes creating the table at once: the loser sees a duplicate type.
            if (err.code !== '23505' && err.code !== '42P07') throw err;
          },
        );
      // A failed attempt (database away) is retried by the next request.
      p.catch(() => ready.delete(table));
      ready.set(table, p);
    }
    await p;
    return pool;
  };
  return {
    async consume(key, period, max, periodEnd) {
      const pool = await ensure();
      const r = await pool.query<{ used: string }>(sql, [key, period, periodEnd + 86_400_000, max]);
      return r.rows.length === 0 ? -1 : Number(r.rows[0]!.used);
    },
    async used(key, period) {
      const pool = await ensure();
      const r = await pool.query<{ used: string }>(`SELECT used FROM ${table} WHERE key = $1 AND period = $2`, [key, period]);
      return Number(r.rows[0]?.used ?? 0);
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
