// Opening the session store a config names. Stores are shared, counted by reference: by
// every route whose plugin names the same one, and across a reload (the new snapshot opens
// before the old one closes), so that sessions outlive a config change, the memory store's
// included. A shared store (sqlite, redis, postgres) comes with the process's copies of the
// sessions it read (session-cache.ts), one set per store, so that a logout through any route
// drops the copy every route of the process would use.
import { resolve } from 'node:path';
import { clock } from '../../base/clock.js';
import { parseDuration } from '../../base/duration.js';
import { acquireRedis, redactRedisUrl, releaseRedis } from '../../base/redis.js';
import { PostgresDatabase } from '../../base/sql/postgres.js';
import { plainPostgresSpec } from '../../base/sql/spec.js';
import { SqliteDatabase } from '../../base/sql/sqlite.js';
import { RedisSessionStore } from './redis-store.js';
import { DEFAULTS, type OpenidConnectConfig } from './schema.js';
import { CachingSessionStore } from './session-cache.js';
import { MemorySessionStore, type SessionStore, type StoreLimits } from './session-store.js';
import { SqlSessionStore } from './sql-store.js';

const shared = new Map<string, { store: SessionStore; refs: number }>();

/**
 * The store of `config`, with a release function. `memoryScope` tells memory stores apart:
 * two plugins of one process with the same provider, client and cookie share sessions.
 */
export function openSessionStore(config: OpenidConnectConfig, limits: StoreLimits, memoryScope: string): { store: SessionStore; release: () => void } {
  const s = config.session ?? {};
  const kind = s.store ?? DEFAULTS.store;
  const now = () => clock.now();
  let key: string;
  let open: (onClose: () => void) => SessionStore;
  if (kind === 'redis') {
    const r = s.redis!;
    const timeoutMs = parseDuration(r.timeout ?? DEFAULTS.redisTimeout)!;
    const prefix = r.prefix ?? DEFAULTS.redisPrefix;
    key = `redis|${r.url}|${timeoutMs}|${prefix}`;
    open = (onClose) => {
      const redis = acquireRedis(r.url, timeoutMs);
      return new CachingSessionStore(
        new RedisSessionStore(redis, `redis ${redactRedisUrl(r.url)}`, prefix, limits, now, () => {
          onClose();
          releaseRedis(redis);
        }),
        now,
      );
    };
  } else if (kind === 'postgres') {
    const p = s.postgres!;
    const timeoutMs = parseDuration(p.timeout ?? DEFAULTS.pgTimeout)!;
    const table = p.table ?? DEFAULTS.pgTable;
    key = `postgres|${p.url}|${timeoutMs}|${table}`;
    open = (onClose) => {
      const db = new PostgresDatabase(plainPostgresSpec(p.url), { max: 4, connectTimeoutMs: Math.max(1000, timeoutMs), queryTimeoutMs: timeoutMs });
      return new CachingSessionStore(
        new SqlSessionStore(db, table, limits, now, () => {
          onClose();
          void db.close().catch(() => undefined);
        }),
        now,
      );
    };
  } else if (kind === 'sqlite') {
    const path = resolve(s.path ?? DEFAULTS.sqlitePath);
    key = `sqlite|${path}`;
    open = (onClose) => {
      const db = new SqliteDatabase(path, { timeoutMs: 2000 });
      return new CachingSessionStore(
        new SqlSessionStore(db, 'northgate_oidc_sessions', limits, now, () => {
          onClose();
          void db.close().catch(() => undefined);
        }),
        now,
      );
    };
  } else {
    key = `memory|${memoryScope}`;
    open = (onClose) => new MemorySessionStore(limits, now, onClose);
  }
  let entry = shared.get(key);
  if (entry === undefined) {
    entry = { store: open(() => shared.delete(key)), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    store: e.store,
    release: () => {
      if (released) return;
      released = true;
      if (--e.refs === 0) e.store.close();
    },
  };
}
