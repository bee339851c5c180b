// The console's sign-in sessions: the admin token is exchanged once for a random session id
// (an HttpOnly, SameSite=Strict cookie) and a CSRF token the page keeps in memory. Records
// stay in this process, keyed by a SHA-256 of the id, bounded in number, idle time and age;
// a restart signs everyone out, which is what an operator expects of an admin token change.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'northgate_console';
export const CSRF_HEADER = 'x-csrf-token';
export const MAX_SESSIONS = 64;
export const IDLE_MS = 30 * 60_000;
export const MAX_AGE_MS = 12 * 3600_000;
/** Wrong tokens accepted per window before sign-in answers 429 without checking. */
export const MAX_FAILED_SIGN_INS = 10;
export const FAILED_WINDOW_MS = 60_000;

export interface ConsoleSession {
  readonly csrf: string;
  readonly createdAt: number;
  seenAt: number;
}

const digest = (id: string): string => createHash('sha256').update(id).digest('base64');

export class ConsoleSessions {
  /** Insertion order is last-use order: the first entry is the one to evict. */
  readonly #byDigest = new Map<string, ConsoleSession>();
  #failures = 0;
  #failuresResetAt = 0;

  /** A new session with a fresh id: an id the browser already had is never adopted (no fixation). */
  create(now = Date.now()): { id: string; session: ConsoleSession } {
    this.#sweep(now);
    if (this.#byDigest.size >= MAX_SESSIONS) this.#byDigest.delete(this.#byDigest.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { csrf: randomBytes(32).toString('base64url'), createdAt: now, seenAt: now };
    this.#byDigest.set(digest(id), session);
    return { id, session };
  }

  /** The live session the request's cookie names, or null; a use extends its idle time. */
  fromRequest(req: IncomingMessage, now = Date.now()): ConsoleSession | null {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id === null || id.length > 128) return null;
    const key = digest(id);
    const s = this.#byDigest.get(key);
    if (s === undefined) return null;
    if (now - s.seenAt > IDLE_MS || now - s.createdAt > MAX_AGE_MS) {
      this.#byDigest.delete(key);
      return null;
    }
    s.seenAt = now;
    this.#byDigest.delete(key);
    this.#byDigest.set(key, s);
    return s;
  }

  destroy(req: IncomingMessage): void {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id !== null) this.#byDigest.delete(digest(id));
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** Seconds until sign-in may be tried again, or 0. */
  throttled(now = Date.now()): number {
    if (now >= this.#failuresResetAt) return 0;
    return this.#failures >= MAX_FAILED_SIGN_INS ? Math.ceil((this.#failuresResetAt - now) / 1000) : 0;
  }

  failed(now = Date.now()): void {
    if (now >= this.#failuresResetAt) {
      this.#failures = 0;
      this.#failuresResetAt = now + FAILED_WINDOW_MS;
    }
    this.#failures++;
  }

  #sweep(now: number): void {
    for (const [k, s] of this.#byDigest) if (now - s.seenAt > IDLE_MS || now - s.createdAt > MAX_AGE_MS) this.#byDigest.delete(k);
  }
}

/** The CSRF header matches the session's token (compared in constant time). */
export function csrfMatches(csrf: string, req: IncomingMessage): boolean {
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string' || given.length !== csrf.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(csrf));
}

export function sessionCookie(id: string): string {
  // Not `Secure`: the admin listener speaks plain HTTP (loopback or a private network).
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${MAX_AGE_MS / 1000}`;
}

export const CLEARED_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;

function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
