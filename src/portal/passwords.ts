// Portal passwords: scrypt with the consumers' cost (RFC 7914 interactive figure), a salt per
// password, compared in constant time. Hashing runs on the thread pool.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { SCRYPT } from '../consumers/index.js';

export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 1024;

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, SCRYPT.keylen, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt:N:r:p:SALT:HASH` (base64), the format of `password_hash` in the config store. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt);
  return `scrypt:${SCRYPT.N}:${SCRYPT.r}:${SCRYPT.p}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

/** A hash to compare against for unknown accounts, so that the answer takes as long either way. */
let dummy: Promise<string> | null = null;

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const text = stored ?? (await (dummy ??= hashPassword(randomBytes(16).toString('hex'))));
  const [, n, r, p, salt, hash] = text.split(':');
  if (Number(n) !== SCRYPT.N || Number(r) !== SCRYPT.r || Number(p) !== SCRYPT.p || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const derived = await derive(password, Buffer.from(salt, 'base64'));
  return derived.length === expected.length && timingSafeEqual(derived, expected) && stored !== null;
}
