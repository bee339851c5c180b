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

/** Whether header name `n` is "cookie", in any case: a lower-case copy only of a name that starts with a "c". */
export function isCookieName(n: string): boolean {
  return n.length === 6 && (n === 'cookie' || n === 'Cookie' || ((n.charCodeAt(0) | 0x20) === 0x63 && n.toLowerCase() === 'cookie'));
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
    if (isCookieName(name)) out = out === undefined ? raw[i + 1]! : `${out}; ${raw[i + 1]!}`;
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

/** A session cookie value whose signature held, and the store's key of its id. */
interface Verified {
  readonly value: string;
  readonly key: string;
}

/**
 * The bucket of a cookie value in the memo: 30 bits of its first 5 characters (the start of
 * the random id, 6 bits a base64url character). Cheaper to find than any hash of the value,
 * and all that the time of a lookup can tell of a remembered cookie: which bucket holds one.
 */
function bucketOf(header: string, from: number): number {
  return ((header.charCodeAt(from) & 63) << 24) | ((header.charCodeAt(from + 1) & 63) << 18) | ((header.charCodeAt(from + 2) & 63) << 12) | ((header.charCodeAt(from + 3) & 63) << 6) | (header.charCodeAt(from + 4) & 63);
}

/**
 * Whether header[from, end) is `value`, in a time that depends on the lengths only: every
 * character is compared, none ends the comparison early (a valid cookie's value is not
 * learnt character by character from how long a refusal takes).
 */
function sameValue(header: string, from: number, end: number, value: string): boolean {
  const n = value.length;
  if (end - from !== n) return false;
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= header.charCodeAt(from + i) ^ value.charCodeAt(i);
  return diff === 0;
}

/** Where the value of the first cookie `prefix` ("name=") of `header` starts, or -1 (the rules of cookieValues). */
function firstValueAt(header: string, prefix: string): number {
  let at = header.indexOf(prefix);
  while (at >= 0) {
    let before = at - 1;
    while (before >= 0 && header.charCodeAt(before) === 0x20) before--;
    const c = before >= 0 ? header.charCodeAt(before) : -1;
    if (at === 0 || c === 0x3b || c === 0x2c) return at + prefix.length;
    at = header.indexOf(prefix, at + prefix.length);
  }
  return -1;
}

/** Where the cookie value starting at `from` ends: the next ";" or ",", or the end. */
function valueEnd(header: string, from: number): number {
  let end = header.length;
  const semi = header.indexOf(';', from);
  if (semi >= 0) end = semi;
  const comma = header.indexOf(',', from);
  if (comma >= 0 && comma < end) end = comma;
  return end;
}

/**
 * The session cookie of a request, as the store's key of its session. A value whose
 * signature held once is remembered, so that the requests of a browser cost a comparison of
 * the value instead of an HMAC and a SHA-256, read in place in the Cookie header (no slice of
 * it, no hash): the memo is found by the value's first characters (bucketOf) and the value is
 * then compared with the remembered one in full, in constant time (sameValue). The memo holds
 * the values themselves, as the requests' headers do while they last. A forged or altered value
 * never matches a remembered one, and is checked as if nothing were remembered. The key of a
 * signed id never changes, so nothing here needs to be forgotten but for room (a logout ends
 * the session in the store and its copies; the cookie then names nothing).
 */
export class SessionCookieReader {
  readonly #c: CookieSettings;
  readonly #prefix: string;
  readonly #max: number;
  /** bucketOf(value) → the value remembered there. Insertion order is age order. */
  readonly #verified = new Map<number, Verified>();

  constructor(c: CookieSettings, max = VERIFIED_COOKIES) {
    this.#c = c;
    this.#prefix = `${c.name}=`;
    this.#max = max;
  }

  /** The store key of the first session cookie in `header` whose signature holds, else null. */
  sessionKey(header: string | undefined): string | null {
    if (header === undefined) return null;
    // The browser's own cookie, first of its name, remembered: no allocation, no hash.
    const from = firstValueAt(header, this.#prefix);
    if (from < 0) return null;
    const end = valueEnd(header, from);
    if (end - from >= 5) {
      const known = this.#verified.get(bucketOf(header, from));
      if (known !== undefined && sameValue(header, from, end, known.value)) return known.key;
    }
    return this.#check(header);
  }

  /** Every value of the cookie, in order, until one verifies (remembered or by its signature). */
  #check(header: string): string | null {
    for (const v of cookieValues(header, this.#c.name)) {
      const bucket = v.length >= 5 ? bucketOf(v, 0) : -1;
      const known = bucket < 0 ? undefined : this.#verified.get(bucket);
      if (known !== undefined && sameValue(v, 0, v.length, known.value)) return known.key;
      const id = verify(this.#c, 'session', v);
      if (id === null) continue;
      const key = sessionKey(id);
      if (bucket >= 0) {
        // Two ids in one bucket (one chance in 2^30 per pair): the later one is remembered.
        this.#verified.delete(bucket);
        if (this.#verified.size >= this.#max) this.#verified.delete(this.#verified.keys().next().value!);
        this.#verified.set(bucket, { value: v, key });
      }
      return key;
    }
    return null;
  }
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, Secure unless configured off; maxAge 0 deletes. */
export function setCookie(c: CookieSettings, name: string, value: string, maxAgeS: number): string {
  return `${name}=${value}; Path=${c.path}; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${c.secure ? '; Secure' : ''}`;
}


/** Whether `field` (a Cookie header) may hold one of `names`: a substring test, so that most fields are left as they are. */
function mayHold(field: string, names: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) if (field.includes(names[i]!)) return true;
  return false;
}

/** `kept` ("a=1; b=2" or "") with the cookies of `field` not named in `names` added. */
function keptCookies(field: string, names: readonly string[], kept: string): string {
  let at = 0;
  while (at <= field.length) {
    let semi = field.indexOf(';', at);
    if (semi < 0) semi = field.length;
    const eq = field.indexOf('=', at);
    const nameEnd = eq >= 0 && eq < semi ? eq : semi;
    if (semi > at && !names.includes(field.slice(at, nameEnd))) {
      const part = field.slice(at, semi);
      kept = kept === '' ? part : `${kept}; ${part}`;
    }
    // "; *": the spaces after a ";" belong to no cookie.
    at = semi + 1;
    while (at < field.length && field.charCodeAt(at) === 0x20) at++;
    if (semi === field.length) break;
  }
  return kept;
}

/**
 * Removes our cookies from the Cookie fields the upstream gets (the session id is the
 * gateway's, not the application's): the fields become one, without ours, or none. Fields
 * that cannot hold ours are left as they are.
 */
export function stripCookies(headers: HeaderList, names: readonly string[]): void {
  const raw = headers.raw;
  let ours = false;
  for (let i = 0; i < raw.length && !ours; i += 2) if (isCookieName(raw[i]!) && mayHold(raw[i + 1]!, names)) ours = true;
  if (!ours) return;
  let kept = '';
  let w = 0;
  for (let r = 0; r < raw.length; r += 2) {
    const n = raw[r]!;
    if (isCookieName(n)) {
      kept = keptCookies(raw[r + 1]!, names, kept);
      continue;
    }
    if (w !== r) {
      raw[w] = n;
      raw[w + 1] = raw[r + 1]!;
    }
    w += 2;
  }
  raw.length = w;
  if (kept !== '') raw.push('cookie', kept);
}
