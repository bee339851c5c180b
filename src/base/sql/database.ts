// One small interface over the two databases Northgate keeps state in: SQLite (a file the
// processes of a node share) and PostgreSQL (shared by nodes). A statement is written once
// with `?` placeholders; the PostgreSQL side numbers them. The config store, the portal's
// store, metering and the quota counters all open their database through this folder and
// migrate it with migrate.ts.

export type Dialect = 'sqlite' | 'postgres';

export type SqlParam = string | number | bigint | null;

export interface SqlQueries {
  all<T>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /** Runs a statement; the number of rows it changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
}

export interface SqlDatabase extends SqlQueries {
  readonly dialect: Dialect;
  /** `sqlite:PATH` or the PostgreSQL URL without its password (and its schema in parentheses). */
  readonly description: string;
  /**
   * Runs `fn` in one transaction. `write` takes the write lock at once (SQLite: BEGIN
   * IMMEDIATE); `read` sees one state without a write lock (SQLite: a deferred
   * transaction; PostgreSQL: REPEATABLE READ READ ONLY).
   */
  tx<T>(fn: (q: SqlQueries) => Promise<T>, mode?: 'write' | 'read'): Promise<T>;
  close(): Promise<void>;
}

/** A unique constraint refused the row. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
