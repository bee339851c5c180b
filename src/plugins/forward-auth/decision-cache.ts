// The keys and lifetimes of remembered decisions (kept in an ExpiringLru from base/): a
// SHA-256 of the values the decision depends on, so that neither a token nor a cookie is
// kept as a key.
// Every value is length-prefixed and an absent header differs from an empty one: two
// different requests cannot be made to hash the same by moving bytes between fields.
import { createHash, type Hash } from 'node:crypto';

/** Builds one cache key from the parts of a request, in a fixed order. */
export class KeyHasher {
  readonly #hash: Hash = createHash('sha256');

  /** A value, or its absence. */
  add(value: string | undefined): this {
    if (value === undefined) this.#hash.update('-');
    else this.#hash.update(`+${Buffer.byteLength(value)}:`).update(value);
    return this;
  }

  bytes(value: Buffer | null): this {
    if (value === null) this.#hash.update('-');
    else this.#hash.update(`+${value.length}:`).update(value);
    return this;
  }

  digest(): string {
    return this.#hash.digest('base64');
  }
}

/** The lifetime the service allows an answer: `no-store`/`no-cache`/`max-age=0` → 0, a smaller max-age wins over `ttlMs`. */
export function cacheLifetime(cacheControl: string | string[] | undefined, ttlMs: number): number {
  if (cacheControl === undefined) return ttlMs;
  const text = (Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl).toLowerCase();
  if (/(?:^|,)\s*(?:no-store|no-cache|private)\s*(?:,|=|$)/.test(text)) return 0;
  const m = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*"?(\d+)/.exec(text);
  return m === null ? ttlMs : Math.min(ttlMs, Number(m[1]) * 1000);
}
