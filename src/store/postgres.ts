// The shared store for a cluster of gateway nodes: PostgreSQL (pg). A commit bumps the config
// version and sends NOTIFY in the same transaction, so every node's LISTEN connection hears
// of it when (and only when) it is visible. `?schema=NAME` in the URL puts the tables in
// their own schema (created if missing).
import pg from 'pg';
import type { EntityRow } from './document.js';
import { MIGRATIONS_TABLE, pending } from './migrations.js';
import { rowFromRecord, StoreMissing, type NodeInfo, type OpenOptions, type Store, type StoreState, type Write } from './store.js';

export const NOTIFY_CHANNEL = 'northgate_config';
/** Serialises migrations of concurrently starting nodes (an arbitrary constant). */
const MIGRATION_LOCK = 7_150_401;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly description: string;
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #schema: string;
  #listener: pg.Client | null = null;
  #closed = false;

  private constructor(url: string, schema: string) {
    const u = new URL(url);
    u.searchParams.delete('schema');
    this.#url = u.toString();
    this.#schema = schema;
    if (u.password) u.password = '***';
    this.description = u.toString() + (schema === 'public' ? '' : ` (schema ${schema})`);
    this.#pool = new pg.Pool({ connectionString: this.#url, max: 4, options: `-c search_path=${schema}`, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
    // An idle client that loses its connection must not crash the process.
    this.#pool.on('error', () => undefined);
  }

  static async open(url: string, opts: OpenOptions = {}): Promise<PostgresStore> {
    const schema = new URL(url).searchParams.get('schema') ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`store schema "${schema}" must be a lower-case SQL identifier`);
    const store = new PostgresStore(url, schema);
    try {
      if (opts.mustExist) await store.#checkExists();
      else await store.#migrate(opts.migrateTo);
    } catch (err) {
      await store.#pool.end();
      throw err;
    }
    return store;
  }

  #tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.#pool, fn);
  }

  /** For read-only commands: the schema and its tables are there and current; nothing is created. */
  async #checkExists(): Promise<void> {
    const table = await this.#pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${this.#schema}.ng_migrations`]);
    if (table.rows[0]?.t == null) throw new StoreMissing(`no config store in ${this.description} (a gateway in mode: database or "northgate config apply" creates it)`);
    const applied = new Set((await this.#pool.query<{ version: number }>(`SELECT version FROM ${this.#schema}.ng_migrations`)).rows.map((r) => Number(r.version)));
    if (pending(applied).length > 0) throw new StoreMissing(`the config store ${this.description} has an older schema: start a gateway on it or run "northgate config apply" to migrate it`);
  }

  async #migrate(target?: number): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
      await c.query(MIGRATIONS_TABLE);
      const applied = new Set((await c.query<{ version: number }>('SELECT version FROM ng_migrations')).rows.map((r) => Number(r.version)));
      for (const m of pending(applied, target)) {
        for (const sql of m.sql) await c.query(sql);
        await c.query('INSERT INTO ng_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      }
    });
  }

  async version(): Promise<number> {
    const r = await this.#pool.query<{ value: string }>(`SELECT value FROM ng_state WHERE name = 'config_version'`);
    return Number(r.rows[0]!.value);
  }

  async read(): Promise<StoreState> {
    // One statement: the version and the rows come from the same MVCC snapshot.
    const r = await this.#pool.query<Record<string, unknown>>(
      `SELECT e.*, s.value AS config_version FROM ng_state s LEFT JOIN ng_entities e ON true WHERE s.name = 'config_version'`,
    );
    const version = Number(r.rows[0]?.['config_version'] ?? 0);
    return { version, rows: r.rows.filter((x) => x['id'] !== null).map(rowFromRecord) };
  }

  async commit(base: number, writes: readonly Write[]): Promise<number | null> {
    return this.#tx(async (c) => {
      const r = await c.query<{ value: string }>(`SELECT value FROM ng_state WHERE name = 'config_version' FOR UPDATE`);
      const current = Number(r.rows[0]!.value);
      if (current !== base) return null;
      for (const w of writes) if (w.op === 'delete') await c.query('DELETE FROM ng_entities WHERE kind = $1 AND id = $2', [w.kind, w.id]);
      for (const w of writes) {
        if (w.op !== 'put') continue;
        const row: EntityRow = w.row;
        await c.query(
          `INSERT INTO ng_entities (kind, id, key, version, body, tags, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (kind, id) DO UPDATE SET key = EXCLUDED.key, version = EXCLUDED.version, body = EXCLUDED.body, tags = EXCLUDED.tags, updated_at = EXCLUDED.updated_at`,
          [row.kind, row.id, row.key, row.version, JSON.stringify(row.body), JSON.stringify(row.tags), row.created_at, row.updated_at],
        );
      }
      await c.query(`UPDATE ng_state SET value = value + 1 WHERE name = 'config_version'`);
      await c.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, `${this.#schema}:${current + 1}`]);
      return current + 1;
    });
  }

  async heartbeat(node: NodeInfo): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ng_nodes (id, hostname, pid, started_at, seen_at, config_version) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, config_version = EXCLUDED.config_version`,
      [node.id, node.hostname, node.pid, node.started_at, node.seen_at, node.config_version],
    );
  }

  async nodes(maxAgeMs: number): Promise<NodeInfo[]> {
    const since = new Date(Date.now() - maxAgeMs).toISOString();
    const r = await this.#pool.query<NodeInfo>('SELECT * FROM ng_nodes WHERE seen_at >= $1 ORDER BY id', [since]);
    return r.rows.map((n) => ({ ...n, pid: Number(n.pid), config_version: Number(n.config_version) }));
  }

  /** A dedicated LISTEN connection, reconnected (with backoff) when it drops; the version poll covers the gap. */
  async listen(onVersion: (version: number) => void): Promise<void> {
    let delay = 250;
    const connect = async (): Promise<void> => {
      if (this.#closed) return;
      const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 10_000 });
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
    await this.#pool.end();
  }
}

/** Runs `fn` on one pooled client inside BEGIN…COMMIT (ROLLBACK when it throws); the config and portal stores share it. */
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
