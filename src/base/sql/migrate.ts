// Versioned schema migrations for every component that keeps tables (the config store, the
// portal, each metering table, each quota table): one version table, ng_schema_migrations,
// keyed by component, in the database (and PostgreSQL schema) the tables live in. Pending
// migrations run in order inside one write transaction, serialised between processes (SQLite:
// the write lock; PostgreSQL: an advisory lock), so nodes that start together migrate once.
// A released migration is never edited, only followed by a new one.
//
// Releases before this table kept one version table per component (`legacyTable`): the first
// migration of such a database copies its rows over and leaves the old table as it is, so a
// node of the older release that shares the database still starts.
import type { Dialect, SqlDatabase, SqlQueries } from './database.js';
import type { PostgresDatabase } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Plain SQL, or per dialect where the two differ (column types). */
  readonly sql: readonly string[] | ((dialect: Dialect) => readonly string[]);
}

export interface MigrateOptions {
  /** Apply migrations only up to this version (tests build an older schema with it). */
  readonly target?: number;
  /** The component's own version table of earlier releases, adopted when the shared one has no row for it. */
  readonly legacyTable?: string;
}

export const VERSION_TABLE = 'ng_schema_migrations';

const VERSION_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))`;

/** Serialises migrations of processes that open one PostgreSQL database at once (an arbitrary constant). */
const MIGRATION_LOCK = 7_150_400;

export function pending(migrations: readonly Migration[], applied: ReadonlySet<number>, target = Infinity): Migration[] {
  return migrations.filter((m) => !applied.has(m.version) && m.version <= target);
}

/** Brings `component`'s tables up to date (or up to `opts.target`). */
export async function migrate(db: SqlDatabase, component: string, migrations: readonly Migration[], opts: MigrateOptions = {}): Promise<void> {
  if (db instanceof SqliteDatabase) return migrateSqlite(db, component, migrations, opts);
  const pg = db as PostgresDatabase;
  await pg.tx(async (q) => {
    await q.run('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    if (pg.schema !== null && pg.schema !== 'public') await q.run(`CREATE SCHEMA IF NOT EXISTS ${pg.schema}`);
    await q.run(VERSION_TABLE_SQL);
    await apply(q, 'postgres', component, migrations, opts, async (t) => (await q.get<{ t: string | null }>('SELECT to_regclass(?)::text AS t', [t]))?.t != null);
  });
}

/** The same, synchronously: for SQLite stores opened on a synchronous path. */
export function migrateSqlite(db: SqliteDatabase, component: string, migrations: readonly Migration[], opts: MigrateOptions = {}): void {
  const h = db.handle;
  h.transaction(() => {
    h.exec(VERSION_TABLE_SQL);
    const applied = adoptSync(db, component, opts.legacyTable);
    for (const m of pending(migrations, applied, opts.target)) {
      for (const sql of statements(m, 'sqlite')) h.exec(sql);
      h.prepare(`INSERT INTO ${VERSION_TABLE} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`).run(component, m.version, m.name, new Date().toISOString());
    }
  }).immediate();
}

/**
 * The versions applied to `component`, read without creating or changing anything (a reader
 * that must not migrate); null when neither the version table nor the legacy one exists.
 */
export async function appliedVersions(db: SqlDatabase, component: string, legacyTable?: string): Promise<Set<number> | null> {
  const exists = async (t: string): Promise<boolean> =>
    db instanceof SqliteDatabase ? db.hasTable(t) : (await db.get<{ t: string | null }>('SELECT to_regclass(?)::text AS t', [t]))?.t != null;
  let out: Set<number> | null = null;
  if (await exists(VERSION_TABLE)) out = new Set((await db.all<{ version: number }>(`SELECT version FROM ${VERSION_TABLE} WHERE component = ?`, [component])).map((r) => Number(r.version)));
  if ((out === null || out.size === 0) && legacyTable !== undefined && (await exists(legacyTable))) out = new Set((await db.all<{ version: number }>(`SELECT version FROM ${legacyTable}`)).map((r) => Number(r.version)));
  return out;
}

async function apply(q: SqlQueries, dialect: Dialect, component: string, migrations: readonly Migration[], opts: MigrateOptions, exists: (table: string) => Promise<boolean>): Promise<void> {
  const read = async () => new Set((await q.all<{ version: number }>(`SELECT version FROM ${VERSION_TABLE} WHERE component = ?`, [component])).map((r) => Number(r.version)));
  let applied = await read();
  if (applied.size === 0 && opts.legacyTable !== undefined && (await exists(opts.legacyTable))) {
    await q.run(`INSERT INTO ${VERSION_TABLE} (component, version, name, applied_at) SELECT ?, version, name, applied_at FROM ${opts.legacyTable}`, [component]);
    applied = await read();
  }
  for (const m of pending(migrations, applied, opts.target)) {
    for (const sql of statements(m, dialect)) await q.run(sql);
    await q.run(`INSERT INTO ${VERSION_TABLE} (component, version, name, applied_at) VALUES (?, ?, ?, ?)`, [component, m.version, m.name, new Date().toISOString()]);
  }
}

function adoptSync(db: SqliteDatabase, component: string, legacyTable: string | undefined): Set<number> {
  const read = () => new Set((db.handle.prepare(`SELECT version FROM ${VERSION_TABLE} WHERE component = ?`).all(component) as Array<{ version: number }>).map((r) => r.version));
  const applied = read();
  if (applied.size > 0 || legacyTable === undefined || !db.hasTable(legacyTable)) return applied;
  db.handle.prepare(`INSERT INTO ${VERSION_TABLE} (component, version, name, applied_at) SELECT ?, version, name, applied_at FROM ${legacyTable}`).run(component);
  return read();
}

function statements(m: Migration, dialect: Dialect): readonly string[] {
  return typeof m.sql === 'function' ? m.sql(dialect) : m.sql;
}
