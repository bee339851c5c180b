// The shared store for a cluster of gateway nodes: PostgreSQL (pg). A commit bumps the config
// version and sends NOTIFY in the same transaction, so every node's LISTEN connection hears
// of it when (and only when) it is visible. `?schema=NAME` in the URL puts the tables in
// their own schema (created if missing).
import type pg from 'pg';
import { appliedVersions, migrate, pending } from '../base/sql/migrate.js';
import { PostgresDatabase } from '../base/sql/postgres.js';
import { postgresSpec } from '../base/sql/spec.js';
import type { EntityRow } from './document.js';
import { COMPONENT, LEGACY_VERSION_TABLE, MIGRATIONS } from './migrations.js';
import { rowFromRecord, StoreMissing, type NodeInfo, type OpenOptions, type Store, type StoreState, type Write } from './store.js';

export const NOTIFY_CHANNEL = 'northgate_config';

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly #db: PostgresDatabase;
  readonly #schema: string;
  #listener: pg.Client | null = null;
  #closed = false;

  private constructor(db: PostgresDatabase) {
    this.#db = db;
    this.#schema = db.schema ?? 'public';
    this.description = db.description;
  }

  static async open(url: string, opts: OpenOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(new PostgresDatabase(postgresSpec(url, 'store')));
    try {
      if (opts.mustExist) await store.#checkExists();
      else await migrate(store.#db, COMPONENT, MIGRATIONS, { legacyTable: LEGACY_VERSION_TABLE, ...(opts.migrateTo !== undefined ? { target: opts.migrateTo } : {}) });
    } catch (err) {
      await store.#db.close();
      throw err;
    }
    return store;
  }

  /** For read-only commands: the schema and its tables are there and current; nothing is created. */
  async #checkExists(): Promise<void> {
    const applied = await appliedVersions(this.#db, COMPONENT, LEGACY_VERSION_TABLE);
    if (applied === null || applied.size === 0) throw new StoreMissing(`no config store in ${this.description} (a gateway in mode: database or "northgate config apply" creates it)`);
    if (pending(MIGRATIONS, applied).length > 0) throw new StoreMissing(`the config store ${this.description} has an older schema: start a gateway on it or run "northgate config apply" to migrate it`);
  }

  async version(): Promise<number> {
    const r = await this.#db.get<{ value: string }>(`SELECT value FROM ng_state WHERE name = 'config_version'`);
    return Number(r!.value);
  }

  async read(): Promise<StoreState> {
    // One statement: the version and the rows come from the same MVCC snapshot.
    const rows = await this.#db.all<Record<string, unknown>>(`SELECT e.*, s.value AS config_version FROM ng_state s LEFT JOIN ng_entities e ON true WHERE s.name = 'config_version'`);
    const version = Number(rows[0]?.['config_version'] ?? 0);
    return { version, rows: rows.filter((x) => x['id'] !== null).map(rowFromRecord) };
  }

  async commit(base: number, writes: readonly Write[]): Promise<number | null> {
    return this.#db.tx(async (q) => {
      const r = await q.get<{ value: string }>(`SELECT value FROM ng_state WHERE name = 'config_version' FOR UPDATE`);
      const current = Number(r!.value);
      if (current !== base) return null;
      for (const w of writes) if (w.op === 'delete') await q.run('DELETE FROM ng_entities WHERE kind = ? AND id = ?', [w.kind, w.id]);
      for (const w of writes) {
        if (w.op !== 'put') continue;
        const row: EntityRow = w.row;
        await q.run(
          `INSERT INTO ng_entities (kind, id, key, version, body, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (kind, id) DO UPDATE SET key = EXCLUDED.key, version = EXCLUDED.version, body = EXCLUDED.body, tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at`,
          [row.kind, row.id, row.key, row.version, JSON.stringify(row.body), JSON.stringify(row.tags), row.created_at, row.updated_at],
        );
      }
      await q.run(`UPDATE ng_state SET value = value + 1 WHERE name = 'config_version'`);
      await q.run('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, `${this.#schema}:${current + 1}`]);
      return current + 1;
    });
  }

  async heartbeat(node: NodeInfo): Promise<void> {
    await this.#db.run(
      `INSERT INTO ng_nodes (id, hostname, pid, started_at, seen_at, config_version) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, config_version = EXCLUDED.config_version`,
      [node.id, node.hostname, node.pid, node.started_at, node.seen_at, node.config_version],
    );
  }

  async nodes(maxAgeMs: number): Promise<NodeInfo[]> {
    const since = new Date(Date.now() - maxAgeMs).toISOString();
    const rows = await this.#db.all<NodeInfo>('SELECT * FROM ng_nodes WHERE seen_at >= ? ORDER BY id', [since]);
    return rows.map((n) => ({ ...n, pid: Number(n.pid), config_version: Number(n.config_version) }));
  }

  /** A dedicated LISTEN connection, reconnected (with backoff) when it drops; the version poll covers the gap. */
  async listen(onVersion: (version: number) => void): Promise<void> {
    let delay = 250;
    const connect = async (): Promise<void> => {
      if (this.#closed) return;
      const client = this.#db.client();
      let retried = false;
      const retry = () => {
        // 'error' and a failed connect can both report one failure: reconnect once.
        if (retried) return;
        retried = true;
        if (this.#listener === client) this.#listener = null;
        client.removeAllListeners('notification');
        void client.end().catch(() => undefined);
        if (this.#closed) return;
        delay = Math.min(delay * 2, 10_000);
        setTimeout(() => void connect(), delay).unref();
      };
      client.on('error', retry);
      client.on('notification', (msg) => {
        const [schema, version] = (msg.payload ?? '').split(':');
        if (schema === this.#schema) onVersion(Number(version));
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        this.#listener = client;
        delay = 250;
      } catch {
        retry();
      }
    };
    await connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listener?.end().catch(() => undefined);
    this.#listener = null;
    await this.#db.close();
  }
}
