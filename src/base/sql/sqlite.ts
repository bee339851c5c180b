// SQLite through better-sqlite3 (loaded on first use), in WAL mode so that the processes of
// a node share one file: readers never wait for the writer, writers wait for each other up
// to the busy timeout. better-sqlite3 is synchronous: code on the request path (the quota
// counter) or in a synchronous transaction (the config store) uses `handle` directly; the
// asynchronous SqlDatabase methods run one at a time, so that a transaction's awaits never
// interleave with another statement of this process.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { lazyRequire } from '../lazy-require.js';
import type { SqlDatabase, SqlParam, SqlQueries } from './database.js';

const sqlite = lazyRequire<typeof Database>('better-sqlite3');

export interface SqliteOptions {
  /** Open for reading only; the file must exist (nothing is created). */
  readonly readonly?: boolean;
  /** How long a statement waits for another process's write lock (default 5 s). */
  readonly timeoutMs?: number;
}

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  readonly path: string;
  /** The better-sqlite3 connection, for synchronous statements. */
  readonly handle: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  #queue: Promise<unknown> = Promise.resolve();
  readonly #direct: SqlQueries;

  constructor(path: string, opts: SqliteOptions = {}) {
    if (!opts.readonly) mkdirSync(dirname(path), { recursive: true });
    const timeout = opts.timeoutMs ?? 5000;
    this.handle = opts.readonly ? new (sqlite())(path, { readonly: true, fileMustExist: true, timeout }) : new (sqlite())(path, { timeout });
    this.path = path;
    this.description = `sqlite:${path}`;
    if (!opts.readonly) {
      this.handle.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives a process crash; only an OS crash can lose the last ones.
      this.handle.pragma('synchronous = NORMAL');
      this.handle.pragma('foreign_keys = ON');
    }
    this.#direct = {
      all: async <T>(sql: string, params: readonly SqlParam[] = []) => this.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: readonly SqlParam[] = []) => this.prepare(sql).get(...params) as T | undefined,
      run: async (sql: string, params: readonly SqlParam[] = []) => this.prepare(sql).run(...params).changes,
    };
  }

  /** A prepared statement, cached per SQL text. */
  prepare(sql: string): Database.Statement {
    let s = this.#statements.get(sql);
    if (s === undefined) this.#statements.set(sql, (s = this.handle.prepare(sql)));
    return s;
  }

  /** Whether a table of this name exists. */
  hasTable(name: string): boolean {
    return this.handle.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const out = this.#queue.then(fn, fn);
    this.#queue = out.catch(() => undefined);
    return out;
  }

  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]> {
    return this.#serial(() => this.#direct.all<T>(sql, params));
  }

  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined> {
    return this.#serial(() => this.#direct.get<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlParam[]): Promise<number> {
    return this.#serial(() => this.#direct.run(sql, params));
  }

  tx<T>(fn: (q: SqlQueries) => Promise<T>, mode: 'write' | 'read' = 'write'): Promise<T> {
    return this.#serial(async () => {
      this.handle.exec(mode === 'read' ? 'BEGIN DEFERRED' : 'BEGIN IMMEDIATE');
      try {
        const out = await fn(this.#direct);
        this.handle.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.handle.inTransaction) this.handle.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.#queue;
    this.handle.close();
  }
}
