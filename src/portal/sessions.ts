// Server-side sessions: the cookie carries only a random id; the record (account, CSRF token,
// expiry, pending OIDC state) stays in the store, keyed by a SHA-256 of the id.
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
  create(accountId: string | null, ttlMs: number): Promise<Session>;
  get(id: string): Promise<Session | null>;
  /** Stores the session's changed fields (its pending OIDC sign-in). */
  save(session: Session): Promise<void>;
  destroy(id: string): Promise<void>;
}

export const MAX_SESSIONS = 100_000;

export function newSession(accountId: string | null, ttlMs: number): Session {
  return { id: randomBytes(32).toString('base64url'), accountId, csrf: randomBytes(32).toString('base64url'), expiresAt: Date.now() + ttlMs, oidc: null };
}

export function sessionDigest(id: string): string {
  return createHash('sha256').update(id).digest('base64');
}

/** A cookie value that can name a session at all (longer ones are not looked up). */
export function plausibleSessionId(id: string): boolean {
  return id.length > 0 && id.length <= 128;
}
