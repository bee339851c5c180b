// Sessions in SQL: a SQLite file (the workers of one node) or PostgreSQL (every node). One
// table holds the three kinds of entries under prefixed keys (s: sessions by the SHA-256 of
// their id, l: pending sign-ins by state, m: markers), each with its expiry; the session
// columns iss/sid/sub let a logout find every session of a provider session or subject.
import type { Dialect, SqlDatabase } from '../../base/sql/database.js';
import { migrate, migrateSqlite, type Migration } from '../../base/sql/migrate.js';
import { SqliteDatabase } from '../../base/sql/sqlite.js';
import type { PendingLogin, SessionData, SessionStore, StoreLimits } from './session-store.js';

function migrations(table: string): Migration[] {
  const int: Record<Dialect, string> = { sqlite: 'INTEGER', postgres: 'BIGINT' };
  return [
    {
      version: 1,
      name: 'openid-connect sessions, pending sign-ins and markers',
      sql: (d) => [
        `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, kind TEXT NOT NULL, iss TEXT, sid TEXT, sub TEXT, data TEXT NOT NULL, expires_at ${int[d]} NOT NULL)`,
        `CREATE INDEX IF NOT EXISTS ${table}_sid ON ${table} (iss, sid)`,
        `CREATE INDEX IF NOT EXISTS ${table}_sub ON ${table} (iss, sub)`,
        `CREATE INDEX IF NOT EXISTS ${table}_expiry ON ${table} (kind, expires_at)`,
      ],
    },
  ];
}

export class SqlSessionStore implements SessionStore {
  readonly description: string;
  readonly #db: SqlDatabase;
  readonly #t: string;
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #onClose: () => void;
  #migrated: Promise<void> | null = null;
  /** SQLite: the lookup of every request is one synchronous statement on the local file, no promise. */
  readonly #readNow: ((key: string, now: number) => { data: string } | undefined) | null = null;

  constructor(db: SqlDatabase, table: string, limits: StoreLimits, now: () => number, onClose: () => void) {
    this.#db = db;
    this.#t = table;
    this.#limits = limits;
    this.#now = now;
    this.#onClose = onClose;
    this.description = db.description;
    if (db instanceof SqliteDatabase) {
      migrateSqlite(db, `openid-connect:${table}`, migrations(table));
      this.#migrated = Promise.resolve();
      const read = db.handle.prepare(`SELECT data FROM ${table} WHERE key = ? AND expires_at > ?`);
      this.#readNow = (key, at) => read.get(key, at) as { data: string } | undefined;
    }
  }

  /** The table, created on first use; a failed attempt (database away) is retried by the next call. */
  #ready(): Promise<void> {
    if (this.#migrated === null) {
      const p = migrate(this.#db, `openid-connect:${this.#t}`, migrations(this.#t));
      p.catch(() => {
        if (this.#migrated === p) this.#migrated = null;
      });
      this.#migrated = p;
    }
    return this.#migrated;
  }

  get(key: string): SessionData | null | Promise<SessionData | null> {
    if (this.#readNow === null) return this.#read(key);
    const row = this.#readNow(`s:${key}`, this.#now());
    return row === undefined ? null : (JSON.parse(row.data) as SessionData);
  }

  async #read(key: string): Promise<SessionData | null> {
    await this.#ready();
    const row = await this.#db.get<{ data: string }>(`SELECT data FROM ${this.#t} WHERE key = ? AND expires_at > ?`, [`s:${key}`, this.#now()]);
    return row === undefined ? null : (JSON.parse(row.data) as SessionData);
  }

  async create(key: string, s: SessionData): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    return this.#db.tx(async (q) => {
      await q.run(`DELETE FROM ${this.#t} WHERE kind = 's' AND expires_at <= ?`, [now]);
      const n = await q.get<{ n: number | string }>(`SELECT count(*) AS n FROM ${this.#t} WHERE kind = 's'`);
      if (Number(n?.n ?? 0) >= this.#limits.maxSessions) return false;
      await q.run(`INSERT INTO ${this.#t} (key, kind, iss, sid, sub, data, expires_at) VALUES (?, 's', ?, ?, ?, ?, ?)`, [`s:${key}`, s.iss, s.sid, s.sub, JSON.stringify(s), s.expiresAt]);
      return true;
    });
  }

  async update(key: string, s: SessionData): Promise<void> {
    await this.#ready();
    await this.#db.run(`UPDATE ${this.#t} SET data = ?, expires_at = ? WHERE key = ?`, [JSON.stringify(s), s.expiresAt, `s:${key}`]);
  }

  async delete(key: string): Promise<void> {
    await this.#ready();
    await this.#db.run(`DELETE FROM ${this.#t} WHERE key = ?`, [`s:${key}`]);
  }

  async endSessions(iss: string, by: { sid: string } | { sub: string }): Promise<number> {
    await this.#ready();
    return 'sid' in by
      ? this.#db.run(`DELETE FROM ${this.#t} WHERE kind = 's' AND iss = ? AND sid = ?`, [iss, by.sid])
      : this.#db.run(`DELETE FROM ${this.#t} WHERE kind = 's' AND iss = ? AND sub = ?`, [iss, by.sub]);
  }

  async putLogin(state: string, login: PendingLogin): Promise<void> {
    await this.#ready();
    const now = this.#now();
    await this.#db.tx(async (q) => {
      await q.run(`DELETE FROM ${this.#t} WHERE kind = 'l' AND expires_at <= ?`, [now]);
      const n = Number((await q.get<{ n: number | string }>(`SELECT count(*) AS n FROM ${this.#t} WHERE kind = 'l'`))?.n ?? 0);
      const over = n - this.#limits.maxPendingLogins + 1;
      if (over > 0) await q.run(`DELETE FROM ${this.#t} WHERE key IN (SELECT key FROM ${this.#t} WHERE kind = 'l' ORDER BY expires_at LIMIT ?)`, [over]);
      await q.run(`INSERT INTO ${this.#t} (key, kind, data, expires_at) VALUES (?, 'l', ?, ?)`, [`l:${state}`, JSON.stringify(login), login.expiresAt]);
    });
  }

  async takeLogin(state: string): Promise<PendingLogin | null> {
    await this.#ready();
    const row = await this.#db.get<{ data: string }>(`DELETE FROM ${this.#t} WHERE key = ? RETURNING data`, [`l:${state}`]);
    if (row === undefined) return null;
    const login = JSON.parse(row.data) as PendingLogin;
    return login.expiresAt > this.#now() ? login : null;
  }

  async claim(name: string, expiresAt: number): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    // Markers are written only by refreshes and logouts: the sweep of old ones rides along.
    await this.#db.run(`DELETE FROM ${this.#t} WHERE kind = 'm' AND expires_at <= ?`, [now]);
    const row = await this.#db.get<{ key: string }>(
      `INSERT INTO ${this.#t} (key, kind, data, expires_at) VALUES (?, 'm', '', ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE ${this.#t}.expires_at <= ? RETURNING key`,
      [`m:${name}`, expiresAt, now],
    );
    return row !== undefined;
  }

  async release(name: string): Promise<void> {
    await this.#ready();
    await this.#db.run(`DELETE FROM ${this.#t} WHERE key = ?`, [`m:${name}`]);
  }

  async ready(signal: AbortSignal): Promise<void> {
    // Until the table is there (the database answered), retried every 250 ms while waited for.
    for (let attempt = 0; attempt < 240; attempt++) {
      try {
        return await this.#ready();
      } catch (err) {
        if (signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  close(): void {
    this.#onClose();
  }
}
