// Sessions in the portal's database (table ng_portal_sessions), so that a signed-in visitor
// stays signed in across restarts and whichever process serves the portal. Expired rows are
// swept at most once a minute; past MAX_SESSIONS the oldest anonymous sessions go first (a
// flood of visitors cannot sign people out), then the oldest.
import { MAX_SESSIONS, newSession, plausibleSessionId, sessionDigest, type Session, type SessionStore } from '../sessions.js';
import type { PortalDb } from './db.js';

interface SessionRow {
  account_id: string | null;
  csrf: string;
  oidc: string | null;
  expires_at: number | string;
}

export class DatabaseSessionStore implements SessionStore {
  readonly #db: PortalDb;
  readonly #max: number;
  #sweepAt = 0;

  constructor(db: PortalDb, opts: { maxSessions?: number } = {}) {
    this.#db = db;
    this.#max = opts.maxSessions ?? MAX_SESSIONS;
  }

  async create(accountId: string | null, ttlMs: number): Promise<Session> {
    await this.#sweep();
    const s = newSession(accountId, ttlMs);
    await this.#db.run('INSERT INTO ng_portal_sessions (id_digest, account_id, csrf, oidc, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [sessionDigest(s.id), accountId, s.csrf, null, Date.now(), s.expiresAt]);
    return s;
  }

  async get(id: string): Promise<Session | null> {
    if (!plausibleSessionId(id)) return null;
    const r = (await this.#db.all<SessionRow>('SELECT account_id, csrf, oidc, expires_at FROM ng_portal_sessions WHERE id_digest = ?', [sessionDigest(id)]))[0];
    if (r === undefined) return null;
    const expiresAt = Number(r.expires_at);
    if (expiresAt <= Date.now()) {
      await this.destroy(id);
      return null;
    }
    return { id, accountId: r.account_id, csrf: r.csrf, expiresAt, oidc: r.oidc === null ? null : (JSON.parse(r.oidc) as Session['oidc']) };
  }

  async save(session: Session): Promise<void> {
    await this.#db.run('UPDATE ng_portal_sessions SET account_id = ?, oidc = ? WHERE id_digest = ?', [session.accountId, session.oidc === null ? null : JSON.stringify(session.oidc), sessionDigest(session.id)]);
  }

  async destroy(id: string): Promise<void> {
    if (plausibleSessionId(id)) await this.#db.run('DELETE FROM ng_portal_sessions WHERE id_digest = ?', [sessionDigest(id)]);
  }

  async #sweep(): Promise<void> {
    const now = Date.now();
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 60_000;
    await this.#db.run('DELETE FROM ng_portal_sessions WHERE expires_at <= ?', [now]);
    const count = Number((await this.#db.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM ng_portal_sessions'))[0]?.n ?? 0);
    const excess = count - this.#max + Math.ceil(this.#max / 100);
    if (excess <= 0) return;
    // Room for the next minute's sessions: anonymous ones first, then the oldest.
    await this.#db.run('DELETE FROM ng_portal_sessions WHERE id_digest IN (SELECT id_digest FROM ng_portal_sessions WHERE account_id IS NULL ORDER BY created_at LIMIT ?)', [excess]);
    const left = Number((await this.#db.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM ng_portal_sessions'))[0]?.n ?? 0) - this.#max + Math.ceil(this.#max / 100);
    if (left > 0) await this.#db.run('DELETE FROM ng_portal_sessions WHERE id_digest IN (SELECT id_digest FROM ng_portal_sessions ORDER BY created_at LIMIT ?)', [left]);
  }
}
