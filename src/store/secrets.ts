// Credential secrets are write-only. The store keeps an API key as its SHA-256 digest (and
// a short prefix to recognise it) and a password as an scrypt hash: the forms the config
// accepts as `key_digest` / `password_hash`, so a dump can be applied again without
// revealing anything. JWT secrets must stay usable to verify tokens: kept as given, never
// shown by the API (dump writes them, as it must for a round trip).
import { createHash } from 'node:crypto';
import { hashPassword, verifyPasswordHash } from '../consumers/index.js';
import type { Body } from './document.js';

export const KEY_PREFIX_LENGTH = 4;

/** The form a credential body is stored in. `previous` (the stored body) lets an unchanged password keep its hash. */
export function storedCredential(body: Body, previous?: Body): Body {
  const out: Body = { ...body };
  if (typeof out['key'] === 'string') {
    const key = out['key'];
    delete out['key'];
    out['key_digest'] = `sha256:${createHash('sha256').update(key).digest('base64')}`;
    out['key_prefix'] = key.slice(0, KEY_PREFIX_LENGTH);
  }
  if (typeof out['password'] === 'string') {
    const password = out['password'];
    delete out['password'];
    const old = previous?.['password_hash'];
    out['password_hash'] = typeof old === 'string' && verifyPasswordHash(password, old) ? old : hashPassword(password);
  }
  return out;
}

/** What a GET shows: a key's prefix and a short hash id, never the key, its digest, a password hash or a JWT secret. */
export function publicCredential(body: Body): Body {
  const out: Body = { ...body };
  // A file-mode credential still has its plaintext: shown the same way as a stored one.
  if (typeof out['key'] === 'string') Object.assign(out, storedCredential({ key: out['key'] }));
  delete out['key'];
  if ('password' in out) {
    delete out['password'];
    out['password_set'] = true;
  }
  if (typeof out['key_digest'] === 'string') {
    out['key_hash'] = createHash('sha256').update(out['key_digest']).digest('hex').slice(0, 12);
    delete out['key_digest'];
  }
  if ('password_hash' in out) {
    delete out['password_hash'];
    out['password_set'] = true;
  }
  if ('secret' in out) {
    delete out['secret'];
    out['secret_set'] = true;
  }
  return out;
}
