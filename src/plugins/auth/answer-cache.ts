// The key under which introspection remembers a token's answer (in an ExpiringLru from
// base/): a salted SHA-256 digest, so the tokens themselves are never held by the cache and
// a heap dump does not reveal them.
import { hash, randomBytes } from 'node:crypto';

/** Per process: digests cannot be matched against digests computed elsewhere. */
const SALT = randomBytes(16).toString('base64');

/** The cache key of a token. */
export function tokenKey(token: string): string {
  return hash('sha256', SALT + token, 'base64url');
}
