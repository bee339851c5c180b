// The two cookies of `openid-connect`: the session cookie (a random id of 256 bits) and,
// while a sign-in is at the provider, the login cookie (its state), which binds the callback
// to the browser that started it. Both are signed with HMAC-SHA256 so that a forged or
// guessed value is refused without a store lookup. The store never sees the session id
// itself, only its SHA-256 (sessionKey): a copy of the store does not sign anyone in.
import { createHmac, createSecretKey, hash, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { HeaderList } from '../../sdk/header-list.js';

export interface CookieSettings {
  readonly name: string;
  readonly loginName: string;
  readonly path: string;
  readonly secure: boolean;
  readonly secret: string;
}

/** A new session id: 32 random bytes, base64url. */
export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** The store's key for a session id. */
export function sessionKey(id: string): string {
  return hash('sha256', id, 'base64url');
}

/** Key objects by secret: createHmac with a string imports the key again on every call, a third of a signature check. */
const keys = new Map<string, KeyObject>();

function mac(secret: string, purpose: string, value: string): string {
  let key = keys.get(secret);
  if (key === undefined) {
    // A handful of secrets per process; a config that changes its secret often must not grow this.
    if (keys.size >= 64) keys.clear();
    keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  }
  return createHmac('sha256', key).update(`${purpose}.${value}`).digest('base64url');
}

export function sign(c: CookieSettings, purpose: string, value: string): string {
  return `${value}.${mac(c.secret, purpose, value)}`;
}

/** The value of a signed cookie whose signature holds, else null. */
export function verify(c: CookieSettings, purpose: string, signed: string): string | null {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return null;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  const expected = Buffer.from(mac(c.secret, purpose, value));
  return given.length === expected.length && timingSafeEqual(given, expected) ? value : null;
}

/**
 * The request's Cookie fields joined with "; " (HTTP/2 sends each cookie as a field of its
 * own), read from the raw header list: building the headers object costs more than the
 * session's own checks.
 */
export function cookieField(raw: readonly string[]): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 6 && name.toLowerCase() === 'cookie') out = out === undefined ? raw[i + 1]! : `${out}; ${raw[i + 1]!}`;
  }
  return out;
}

/**
 * The values of cookie `name` in a Cookie header (HTTP/2 and several fields arrive joined
 * by ", "; our values never hold a comma), at most 8. A cookie starts the header or follows
 * a ";" or "," and spaces; its value ends at the next ";" or ",". Found with indexOf rather
 * than by splitting the header: a browser sends every cookie of the site, and ours is one.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const prefix = `${name}=`;
  let at = header.indexOf(prefix);
  if (at < 0) return [];
  const out: string[] = [];
  while (at >= 0 && out.length < 8) {
    let before = at - 1;
    while (before >= 0 && header.charCodeAt(before) === 0x20) before--;
    const c = before >= 0 ? header.charCodeAt(before) : -1;
    const from = at + prefix.length;
    if (at === 0 || c === 0x3b || c === 0x2c) {
      let end = header.length;
      const semi = header.indexOf(';', from);
      if (semi >= 0) end = semi;
      const comma = header.indexOf(',', from);
      if (comma >= 0 && comma < end) end = comma;
      out.push(header.slice(from, end));
    }
    at = header.indexOf(prefix, from);
  }
  return out;
}

/** The first value of cookie `name` that carries a valid signature for `purpose`. */
export function signedCookie(c: CookieSettings, header: string | undefined, name: string, purpose: string): string | null {
  for (const v of cookieValues(header, name)) {
    const value = verify(c, purpose, v);
    if (value !== null) return value;
  }
  return null;
}

/** Session cookies remembered per reader; beyond it the oldest gives way. */
export const VERIFIED_COOKIES = 10_000;

/**
 * The session cookie of a request, as the store's key of its session. A value whose signature
 * held once is remembered, so that the requests of a browser cost one SHA-256 instead of an
 * HMAC and a SHA-256. It is remembered by its own SHA-256, never by the value: the lookup
 * of an attacker's value takes no time that depends on how much of a valid one it matches.
 * The key of a signed id never changes, so nothing here needs to be forgotten but for room.
 */
export class SessionCookieReader {
  readonly #c: CookieSettings;
  readonly #max: number;
  /** SHA-256 of a signed value → the store's key of its id. Insertion order is age order. */
  readonly #verified = new Map<string, string>();

  constructor(c: CookieSettings, max = VERIFIED_COOKIES) {
    this.#c = c;
    this.#max = max;
  }

  /** The store key of the first session cookie in `header` whose signature holds, else null. */
  sessionKey(header: string | undefined): string | null {
    for (const v of cookieValues(header, this.#c.name)) {
      const digest = hash('sha256', v, 'base64url');
      const known = this.#verified.get(digest);
      if (known !== undefined) return known;
      const id = verify(this.#c, 'session', v);
      if (id === null) continue;
      const key = sessionKey(id);
      if (this.#verified.size >= this.#max) this.#verified.delete(this.#verified.keys().next().value!);
      this.#verified.set(digest, key);
      return key;
    }
    return null;
  }
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, Secure unless configured off; maxAge 0 deletes. */
export function setCookie(c: CookieSettings, name: string, value: string, maxAgeS: number): string {
  return `${name}=${value}; Path=${c.path}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${c.secure ? '; Secure' : ''}`;
}

/** Removes our cookies from the Cookie fields the upstream gets (the session id is the gateway's, not the application's). */
export function stripCookies(headers: HeaderList, names: readonly string[]): void {
  const fields = headers.getAll('cookie');
  if (fields.length === 0 || !fields.some((f) => names.some((n) => f.includes(n)))) return;
  const kept: string[] = [];
  for (const field of fields)
    for (const part of field.split(/; */)) {
      const eq = part.indexOf('=');
      if (part !== '' && !names.includes(eq < 0 ? part : part.slice(0, eq))) kept.push(part);
    }
  headers.remove('cookie');
  if (kept.length > 0) headers.append('cookie', kept.join('; '));
}
