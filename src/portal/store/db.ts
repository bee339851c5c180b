// The portal's database: one small interface over SQLite (better-sqlite3, WAL, shared by the
// processes of a node) and PostgreSQL (pg, shared by nodes). Statements are written once with
// `?` placeholders (numbered for pg). Migrations run at open (portal/store/migrations.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { lazyRequire } from '../../base/lazy-require.js';
import type pg from 'pg';
import type { inTransaction as InTransaction } from '../../store/postgres.js';
import { PORTAL_MIGRATIONS_TABLE, pendingPortal } from './migrations.js';

const sqlite = lazyRequire<typeof Database>('better-sqlite3');

export type Param = string | number | null;

export interface Queries {
  all<T>(sql: string, params?: readonly Param[]): Promise<T[]>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params?: readonly Param[]): Promise<number>;
}

export interface PortalDb extends Queries {
  readonly kind: 'sqlite' | 'postgres';
  /** `sqlite:PATH` or the PostgreSQL URL without its password. */
  readonly description: string;
  /**
   * Runs `fn` in one transaction (serialised with this process's other statements on SQLite).
   * `read`: statements that only read see one state (SQLite: a deferred transaction, which
   * takes no write lock; PostgreSQL: REPEATABLE READ READ ONLY).
   */
  tx<T>(fn: (q: Queries) => Promise<T>, mode?: 'write' | 'read'): Promise<T>;
  close(): Promise<void>;
}

/** A unique constraint refused the row (an email or OIDC identity taken). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Opens (and migrates) the database a portal store URL names: `sqlite:PATH` or `postgres://…[?schema=NAME]`. */
export async function openPortalDb(url: string): Promise<PortalDb> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return PostgresPortalDb.open(url);
  if (url.startsWith('sqlite:')) return SqlitePortalDb.open(url.slice('sqlite:'.length));
  throw new Error(`unsupported portal store "${url}": use sqlite:PATH or postgres://...`);
}

class SqlitePortalDb implements PortalDb {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Statements of this process run one at a time, so a transaction's awaits never interleave with another's. */
  #queue: Promise<unknown> = Promise.resolve();
  #direct: Queries;

  private constructor(path: string, db: Database.Database) {
    this.description = `sqlite:${path}`;
    this.#db = db;
    this.#direct = {
      all: async <T>(sql: string, params: readonly Param[] = []) => this.#prepare(sql).all(...params) as T[],
      run: async (sql: string, params: readonly Param[] = []) => this.#prepare(sql).run(...params).changes,
    };
  }

  static open(path: string): SqlitePortalDb {
    if (path === '') throw new Error('a sqlite portal store needs a path: sqlite:./northgate-portal.db');
    mkdirSync(dirname(path), { recursive: true });
    const db = new (sqlite())(path, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.exec(PORTAL_MIGRATIONS_TABLE);
    db.transaction(() => {
      const applied = new Set((db.prepare('SELECT version FROM ng_portal_migrations').all() as Array<{ version: number }>).map((r) => r.version));
      for (const m of pendingPortal(applied)) {
        for (const sql of m.sql) db.exec(sql);
        db.prepare('INSERT INTO ng_portal_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      }
    }).immediate();
    return new SqlitePortalDb(path, db);
  }

  #prepare(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (s === undefined) this.#statements.set(sql, (s = this.#db.prepare(sql)));
    return s;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const out = this.#queue.then(fn, fn);
    this.#queue = out.catch(() => undefined);
    return out;
  }

  all<T>(sql: string, params?: readonly Param[]): Promise<T[]> {
    return this.#serial(() => this.#direct.all<T>(sql, params));
  }

  run(sql: string, params?: readonly Param[]): Promise<number> {
    return this.#serial(() => this.#direct.run(sql, params));
  }

  tx<T>(fn: (q: Queries) => Promise<T>, mode: 'write' | 'read' = 'write'): Promise<T> {
    return this.#serial(async () => {
      this.#db.exec(mode === 'read' ? 'BEGIN DEFERRED' : 'BEGIN IMMEDIATE');
      try {
        const out = await fn(this.#direct);
        this.#db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.#queue;
    this.#db.close();
  }
}

/** Serialises migrations of portal stores opened at once by several nodes (an arbitrary constant). */
const MIGRATION_LOCK = 7_150_410;

class PostgresPortalDb implements PortalDb {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #inTransaction: typeof InTransaction;

  private constructor(pool: pg.Pool, description: string, inTransaction: typeof InTransaction) {
    this.#pool = pool;
    this.#inTransaction = inTransaction;
    this.description = description;
  }

  static async open(url: string): Promise<PostgresPortalDb> {
    const u = new URL(url);
    const schema = u.searchParams.get('schema') ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`portal store schema "${schema}" must be a lower-case SQL identifier`);
    u.searchParams.delete('schema');
    // pg is loaded only for a PostgreSQL portal store.
    const [{ default: pg }, { inTransaction }] = await Promise.all([import('pg'), import('../../store/postgres.js')]);
    const pool = new pg.Pool({ connectionString: u.toString(), max: 4, options: `-c search_path=${schema}`, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => undefined);
    if (u.password) u.password = '***';
    const db = new PostgresPortalDb(pool, u.toString() + (schema === 'public' ? '' : ` (schema ${schema})`), inTransaction);
    try {
      await db.tx(async (q) => {
        await q.run('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
        await q.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await q.run(PORTAL_MIGRATIONS_TABLE);
        const applied = new Set((await q.all<{ version: number }>('SELECT version FROM ng_portal_migrations')).map((r) => Number(r.version)));
        for (const m of pendingPortal(applied)) {
          for (const sql of m.sql) await q.run(sql);
          await q.run('INSERT INTO ng_portal_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
        }
      });
    } catch (err) {
      await pool.end();
      throw err;
    }
    return db;
  }

  async all<T>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return (await this.#pool.query(numbered(sql), params as Param[])).rows as T[];
  }

  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    return (await this.#pool.query(numbered(sql), params as Param[])).rowCount ?? 0;
  }

  tx<T>(fn: (q: Queries) => Promise<T>, mode: 'write' | 'read' = 'write'): Promise<T> {
    return this.#inTransaction(
      this.#pool,
      (c) =>
        fn({
          all: async <R>(sql: string, params: readonly Param[] = []) => (await c.query(numbered(sql), params as Param[])).rows as R[],
          run: async (sql: string, params: readonly Param[] = []) => (await c.query(numbered(sql), params as Param[])).rowCount ?? 0,
        }),
      mode === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN',
    );
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

const numberedCache = new Map<string, string>();

/** `?` placeholders as pg's `$1, $2…` (the statements hold no `?` in literals). */
function numbered(sql: string): string {
  let out = numberedCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    numberedCache.set(sql, out);
  }
  return out;
}
