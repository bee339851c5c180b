// The introspection answers one plugin instance remembers: a bounded LRU whose entries each
// carry their own end of life. Keys are salted SHA-256 digests of the token (tokenKey), so
// the tokens themselves are never held by the cache and a heap dump does not reveal them.
import { hash, randomBytes } from 'node:crypto';

/** Per process: digests cannot be matched against digests computed elsewhere. */
const SALT = randomBytes(16).toString('base64');

/** The cache key of a token. */
export function tokenKey(token: string): string {
  return hash('sha256', SALT + token, 'base64url');
}

interface Entry<V> {
  readonly value: V;
  readonly until: number;
}

export class AnswerCache<V> {
  readonly #max: number;
  readonly #entries = new Map<string, Entry<V>>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value while `now` is before its end of life; a hit becomes the most recently used. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.until) return undefined;
    // A Map iterates in insertion order: re-inserting moves the entry to the young end.
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Remembers `value` until `until` (ms since the epoch), evicting the least recently used entry when full. */
  set(key: string, value: V, until: number, now: number): void {
    if (this.#max === 0 || until <= now) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until });
  }
}
