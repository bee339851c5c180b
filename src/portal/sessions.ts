// Server-side sessions: the cookie carries only a random id; the record (account, CSRF token,
// expiry, pending OIDC state) stays here. Bounded in count; expired records are swept.
import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  readonly id: string;
  accountId: string | null;
  readonly csrf: string;
  expiresAt: number;
  /** PKCE verifier, state and nonce of a sign-in through OIDC in progress. */
  oidc: { verifier: string; state: string; nonce: string } | null;
}

export interface SessionStore {
  create(accountId: string | null, ttlMs: number): Session;
  get(id: string): Session | null;
  destroy(id: string): void;
}

export const MAX_SESSIONS = 100_000;

export class MemorySessionStore implements SessionStore {
  /** Keyed by a digest of the id, so a dump of memory holds no usable cookie. */
  readonly #sessions = new Map<string, Session>();
  #sweepAt = 0;

  create(accountId: string | null, ttlMs: number): Session {
    this.#sweep();
    if (this.#sessions.size >= MAX_SESSIONS) this.#evict();
    const s: Session = { id: randomBytes(32).toString('base64url'), accountId, csrf: randomBytes(32).toString('base64url'), expiresAt: Date.now() + ttlMs, oidc: null };
    this.#sessions.set(digest(s.id), s);
    return s;
  }

  get(id: string): Session | null {
    if (id.length > 128) return null;
    const s = this.#sessions.get(digest(id));
    if (s === undefined) return null;
    if (s.expiresAt <= Date.now()) {
      this.#sessions.delete(digest(id));
      return null;
    }
    return s;
  }

  destroy(id: string): void {
    this.#sessions.delete(digest(id));
  }

  /** Full: the oldest anonymous session goes first (a flood of visitors cannot sign people out), else the oldest. */
  #evict(): void {
    let scanned = 0;
    for (const [k, s] of this.#sessions) {
      if (s.accountId === null) {
        this.#sessions.delete(k);
        return;
      }
      if (++scanned >= 1000) break;
    }
    this.#sessions.delete(this.#sessions.keys().next().value!);
  }

  #sweep(): void {
    const now = Date.now();
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 60_000;
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(k);
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64');
}
