// A bounded LRU whose entries each carry their own end of life: the remembered answers of
// an authorization service (forward-auth decisions, introspection results). A Map iterates
// in insertion order, so re-inserting a hit moves it to the young end and the first key is
// the least recently used.

interface Entry<V> {
  readonly value: V;
  readonly until: number;
}

export class ExpiringLru<V> {
  readonly #max: number;
  readonly #entries = new Map<string, Entry<V>>();

  /** `maxEntries` 0: nothing is remembered. */
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
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Remembers `value` until `until` (the clock `get` is given), evicting the least recently used entry when full. */
  set(key: string, value: V, until: number, now: number): void {
    if (this.#max === 0 || until <= now) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until });
  }
}
