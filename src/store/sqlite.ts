// The embedded store: one SQLite file (better-sqlite3, WAL), shared by the processes of one
// node. Other processes' commits are seen by polling the version (no notifications).
import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { appliedVersions, migrateSqlite, pending } from '../base/sql/migrate.js';
import { SqliteDatabase } from '../base/sql/sqlite.js';
import type { EntityRow } from './document.js';
import { COMPONENT, LEGACY_VERSION_TABLE, MIGRATIONS } from './migrations.js';
import { rowFromRecord, StoreMissing, type NodeInfo, type OpenOptions, type Store, type StoreState, type Write } from './store.js';

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly description: string;
  readonly #sql: SqliteDatabase;
  /** Transactions here are synchronous: better-sqlite3's own. */
  readonly #db: Database.Database;

  private constructor(sql: SqliteDatabase) {
    this.description = sql.description;
    this.#sql = sql;
    this.#db = sql.handle;
  }

  static async open(path: string, opts: OpenOptions = {}): Promise<SqliteStore> {
    if (path === '') throw new Error('sqlite store URL needs a path: sqlite:./northgate.db');
    if (opts.mustExist) return SqliteStore.#openExisting(path);
    const sql = new SqliteDatabase(path);
    try {
      migrateSqlite(sql, COMPONENT, MIGRATIONS, { legacyTable: LEGACY_VERSION_TABLE, ...(opts.migrateTo !== undefined ? { target: opts.migrateTo } : {}) });
    } catch (err) {
      await sql.close();
      throw err;
    }
    return new SqliteStore(sql);
  }

  static async #openExisting(path: string): Promise<SqliteStore> {
    if (!existsSync(path)) throw new StoreMissing(`no config store at ${path} (a gateway in mode: database or "northgate config apply" creates it)`);
    const sql = new SqliteDatabase(path, { readonly: true });
    const applied = await appliedVersions(sql, COMPONENT, LEGACY_VERSION_TABLE);
    if (applied === null || applied.size === 0 || pending(MIGRATIONS, applied).length > 0) {
      await sql.close();
      throw new StoreMissing(applied === null || applied.size === 0 ? `${path} is not a Northgate config store (no migrations table)` : `the config store ${path} has an older schema: start a gateway on it or run "northgate config apply" to migrate it`);
    }
    return new SqliteStore(sql);
  }

  async version(): Promise<number> {
    return Number((this.#db.prepare(`SELECT value FROM ng_state WHERE name = 'config_version'`).get() as { value: number }).value);
  }

  async read(): Promise<StoreState> {
    return this.#db
      .transaction(() => {
        const version = Number((this.#db.prepare(`SELECT value FROM ng_state WHERE name = 'config_version'`).get() as { value: number }).value);
        const rows = (this.#db.prepare('SELECT * FROM ng_entities').all() as Array<Record<string, unknown>>).map(rowFromRecord);
        return { version, rows };
      })
      .deferred();
  }

  async commit(base: number, writes: readonly Write[]): Promise<number | null> {
    return this.#db
      .transaction(() => {
        const current = Number((this.#db.prepare(`SELECT value FROM ng_state WHERE name = 'config_version'`).get() as { value: number }).value);
        if (current !== base) return null;
        const put = this.#db.prepare(
          `INSERT INTO ng_entities (kind, id, key, version, body, tags, created_at, updated_at) VALUES (@kind, @id, @key, @version, @body, @tags, @created_at, @updated_at)
           ON CONFLICT (kind, id) DO UPDATE SET key = excluded.key, version = excluded.version, body = excluded.body, tags = excluded.tags, updated_at = excluded.updated_at`,
        );
        const del = this.#db.prepare('DELETE FROM ng_entities WHERE kind = ? AND id = ?');
        // Deletes first, so that a key freed by a delete can be taken in the same change set.
        for (const w of writes) if (w.op === 'delete') del.run(w.kind, w.id);
        for (const w of writes) if (w.op === 'put') put.run(record(w.row));
        this.#db.prepare(`UPDATE ng_state SET value = value + 1 WHERE name = 'config_version'`).run();
        return current + 1;
      })
      .immediate();
  }

  async heartbeat(node: NodeInfo): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO ng_nodes (id, hostname, pid, started_at, seen_at, config_version) VALUES (@id, @hostname, @pid, @started_at, @seen_at, @config_version)
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, config_version = excluded.config_version`,
      )
      .run(node);
  }

  async nodes(maxAgeMs: number): Promise<NodeInfo[]> {
    const since = new Date(Date.now() - maxAgeMs).toISOString();
    return (this.#db.prepare('SELECT * FROM ng_nodes WHERE seen_at >= ? ORDER BY id').all(since) as NodeInfo[]).map((n) => ({ ...n, pid: Number(n.pid), config_version: Number(n.config_version) }));
  }

  async listen(): Promise<void> {}

  async close(): Promise<void> {
    await this.#sql.close();
  }
}

export function record(row: EntityRow): Record<string, unknown> {
  return { kind: row.kind, id: row.id, key: row.key, version: row.version, body: JSON.stringify(row.body), tags: JSON.stringify(row.tags), created_at: row.created_at, updated_at: row.updated_at };
}
