// PostgreSQL through pg (loaded on first use: it costs start-up time a config without
// PostgreSQL never pays). One pool per database opened; its connections put the spec's
// schema first on the search path, so statements name tables without a schema.
import type pg from 'pg';
import { lazyRequire } from '../lazy-require.js';
import type { SqlDatabase, SqlParam, SqlQueries } from './database.js';
import type { PostgresSpec } from './spec.js';

const pgModule = lazyRequire<typeof pg>('pg');

export interface PostgresOptions {
  /** Pool size (default 4). */
  readonly max?: number;
  /** Connecting gives up after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** A statement gives up after this long (default: no limit). */
  readonly queryTimeoutMs?: number;
}

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly description: string;
  readonly schema: string | null;
  readonly pool: pg.Pool;
  readonly #url: string;

  constructor(spec: PostgresSpec, opts: PostgresOptions = {}) {
    this.description = spec.description;
    this.schema = spec.schema;
    this.#url = spec.url;
    this.pool = new (pgModule().Pool)({
      connectionString: spec.url,
      max: opts.max ?? 4,
      ...(spec.schema === null ? {} : { options: `-c search_path=${spec.schema}` }),
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      ...(opts.queryTimeoutMs !== undefined ? { query_timeout: opts.queryTimeoutMs } : {}),
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its connection must not crash the process.
    this.pool.on('error', () => undefined);
  }

  /** A connection of its own, outside the pool (a LISTEN session). */
  client(): pg.Client {
    return new (pgModule().Client)({ connectionString: this.#url, connectionTimeoutMillis: 10_000 });
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return (await this.pool.query(numbered(sql), params as SqlParam[])).rows as T[];
  }

  async get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return (await this.pool.query(numbered(sql), params as SqlParam[])).rows[0] as T | undefined;
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return (await this.pool.query(numbered(sql), params as SqlParam[])).rowCount ?? 0;
  }

  tx<T>(fn: (q: SqlQueries) => Promise<T>, mode: 'write' | 'read' = 'write'): Promise<T> {
    return inTransaction(this.pool, (c) => fn(queriesOn(c)), mode === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function queriesOn(c: pg.PoolClient): SqlQueries {
  return {
    all: async <R>(sql: string, params: readonly SqlParam[] = []) => (await c.query(numbered(sql), params as SqlParam[])).rows as R[],
    get: async <R>(sql: string, params: readonly SqlParam[] = []) => (await c.query(numbered(sql), params as SqlParam[])).rows[0] as R | undefined,
    run: async (sql: string, params: readonly SqlParam[] = []) => (await c.query(numbered(sql), params as SqlParam[])).rowCount ?? 0,
  };
}

/** Runs `fn` on one pooled client inside BEGIN…COMMIT (ROLLBACK when it throws). */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(begin);
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const numberedCache = new Map<string, string>();
/** Longer statements (multi-row inserts of varying length) are numbered every time, not cached. */
const CACHED_LENGTH = 4096;

/** `?` placeholders as pg's `$1, $2…` (statements hold no `?` in literals). */
export function numbered(sql: string): string {
  let out = numberedCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (sql.length <= CACHED_LENGTH) numberedCache.set(sql, out);
  }
  return out;
}
