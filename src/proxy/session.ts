// Session persistence (`routes[].session_persistence`): the gateway hands the client a value
// naming the backend and target it was sent to, in a cookie or a response header, and sends
// the requests that carry it back there while that target is available. The value is signed
// (HMAC-SHA256 with `session_persistence.secret`, checked in constant time) and carries its
// expiry, so a client can replay what it was given but cannot name a target of its choice;
// a value that is unknown, expired, tampered with or names a target gone away gets a fresh
// choice. The ids are hashes, so no target address reaches the client.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { stableId } from '../upstream/backends.js';
import type { Target } from '../upstream/target.js';

export interface SessionPersistence {
  readonly type: 'cookie' | 'header';
  /** The cookie name as written, or the header name in lower case. */
  readonly name: string;
  /** How long a value is honoured from its issue (0: as long as the client keeps it). */
  readonly ttlMs: number;
  readonly secret: Buffer;
}

/** What a valid value names: a backend id ("-" for a route without backends) and a target id. */
export interface SessionPin {
  readonly backend: string;
  readonly target: string;
}

/** Longer values are not read (a real one is about 50 characters). */
const MAX_VALUE_LENGTH = 128;
const MAC_LENGTH = 22;

const targetIds = new WeakMap<Target, string>();

/** A target's id in session values, computed once per target. */
export function targetId(t: Target): string {
  let id = targetIds.get(t);
  if (id === undefined) targetIds.set(t, (id = stableId(t.url)));
  return id;
}

/** The pin a request carries, or null (none, malformed, forged, expired). */
export function readPin(s: SessionPersistence, raw: string | undefined, nowMs: number): SessionPin | null {
  if (raw === undefined) return null;
  const value = s.type === 'cookie' ? cookieValue(raw, s.name) : raw.trim();
  if (value === undefined || value.length > MAX_VALUE_LENGTH) return null;
  const parts = value.split('.');
  if (parts.length !== 4) return null;
  const [backend, target, expires, mac] = parts as [string, string, string, string];
  if (mac.length !== MAC_LENGTH) return null;
  const expected = Buffer.from(sign(s.secret, backend, target, expires));
  // A non-ASCII character makes the bytes longer than the characters: timingSafeEqual needs equal lengths.
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(expected, given)) return null;
  if (expires !== '0' && parseInt(expires, 36) * 1000 <= nowMs) return null;
  return { backend, target };
}

/** A value naming `backend` and `target`, expiring `ttlMs` from now when the route has a ttl. */
export function issueValue(s: SessionPersistence, backend: string, target: Target, nowMs: number): string {
  const expires = s.ttlMs === 0 ? '0' : Math.ceil((nowMs + s.ttlMs) / 1000).toString(36);
  const t = targetId(target);
  return `${backend}.${t}.${expires}.${sign(s.secret, backend, t, expires)}`;
}

/** The Set-Cookie line for a value (Secure on TLS listeners; Max-Age with a ttl). */
export function cookieLine(s: SessionPersistence, value: string, secure: boolean): string {
  return `${s.name}=${value}; Path=/; HttpOnly; SameSite=Lax${s.ttlMs === 0 ? '' : `; Max-Age=${Math.ceil(s.ttlMs / 1000)}`}${secure ? '; Secure' : ''}`;
}

function sign(secret: Buffer, backend: string, target: string, expires: string): string {
  return createHmac('sha256', secret).update(`${backend}.${target}.${expires}`).digest('base64url').slice(0, MAC_LENGTH);
}

/** The value of cookie `name` in a Cookie header (the first one when repeated). */
function cookieValue(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) return header.slice(eq + 1, end).trim();
    start = end + 1;
  }
  return undefined;
}
