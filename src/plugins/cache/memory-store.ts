// The in-process store: an LRU bounded by bytes (a recency list through the items), with
// indexes by tag and by path for purges. A lookup is synchronous and moves the entry to the
// head of the list (O(1) pointer updates). Shared across reloads by an identical config, so a
// reload does not empty the cache; registered for the status listener's purge endpoint.
import type { CacheEntry, CacheStore, PurgeRequest, Stored } from './store.js';
import { isEntry } from './store.js';
import { TEXT_BODY_MAX } from './hit.js';

/**
 * What one entry costs beyond its strings and bytes, measured on Node 20 x64 (heap plus
 * external memory per entry over 50,000 entries, test/plugins/cache.test.ts checks it): the
 * store's item and the entry objects, their arrays, the body's Buffer object and backing
 * store, the hit form's objects, and the slots of the Map and the path index.
 */
const ENTRY_OVERHEAD = 720;
/** A V8 string's own header (keys, header names and values and paths are one-byte strings: 1 byte per char). */
const STRING_OVERHEAD = 24;

function sizeOf(key: string, s: Stored): number {
  let n = ENTRY_OVERHEAD + STRING_OVERHEAD + key.length;
  if (isEntry(s)) {
    n += s.body.length + STRING_OVERHEAD + s.path.length + s.varyValues.length;
    // The hit form keeps a short ASCII body a second time, as text.
    if (s.body.length <= TEXT_BODY_MAX) n += s.body.length + STRING_OVERHEAD;
    // Each header string, and its slot in the stored list and in the hit form's.
    for (const h of s.headers) n += h.length + STRING_OVERHEAD + 16;
    for (const t of s.tags) n += t.length + STRING_OVERHEAD + 8;
  } else for (const v of s.vary) n += v.length + STRING_OVERHEAD + 8;
  return n;
}

/** An entry in the recency list: most recently used at the head, evicted from the tail. */
interface Item {
  readonly key: string;
  readonly stored: Stored;
  readonly size: number;
  /** Towards the head (more recent) and towards the tail (less recent). */
  newer: Item | null;
  older: Item | null;
}

export class MemoryStore implements CacheStore {
  readonly maxBytes: number;
  bytes = 0;
  /**
   * Key → item, and the recency order as a list through the items: a hit moves its item to
   * the head and eviction takes the tail, both O(1), with no Map delete/insert per move and
   * no Map iteration (Map order with a fresh keys() iterator stepped over deleted slots; a
   * kept iterator pinned V8's retired hash tables).
   */
  readonly #items = new Map<string, Item>();
  #newest: Item | null = null;
  #oldest: Item | null = null;
  readonly #byTag = new Map<string, Set<string>>();
  readonly #byPath = new Map<string, Set<string>>();
  refs = 0;
  readonly #id: string;

  constructor(id: string, maxBytes: number) {
    this.#id = id;
    this.maxBytes = maxBytes;
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): Stored | undefined {
    const item = this.#items.get(key);
    if (item === undefined) return undefined;
    if (item.stored.expiresAt <= Date.now()) {
      this.#delete(key);
      return undefined;
    }
    if (item !== this.#newest) {
      this.#unlink(item);
      this.#pushNewest(item);
    }
    return item.stored;
  }

  set(key: string, entry: CacheEntry, primary: string | null): void {
    if (primary !== null) this.#put(primary, { vary: entry.vary, expiresAt: entry.expiresAt });
    this.#put(key, entry);
    for (const t of entry.tags) index(this.#byTag, t, key);
    index(this.#byPath, entry.path, key);
  }

  purge(req: PurgeRequest): number {
    let n = 0;
    for (const [list, map] of [
      [req.tags, this.#byTag],
      [req.paths, this.#byPath],
    ] as const) {
      for (const name of list ?? []) {
        const keys = map.get(name);
        if (keys === undefined) continue;
        for (const k of [...keys]) if (this.#delete(k)) n++;
        map.delete(name);
      }
    }
    return n;
  }

  release(): void {
    if (--this.refs === 0) {
      if (live.get(this.#id) === this) live.delete(this.#id);
      this.#items.clear();
      this.#newest = null;
      this.#oldest = null;
      this.#byTag.clear();
      this.#byPath.clear();
      this.bytes = 0;
    }
  }

  #put(key: string, stored: Stored): void {
    this.#delete(key);
    const size = sizeOf(key, stored);
    if (size > this.maxBytes) return;
    const item: Item = { key, stored, size, newer: null, older: null };
    this.#items.set(key, item);
    this.#pushNewest(item);
    this.bytes += size;
    // Evict least recently used until within bounds.
    while (this.bytes > this.maxBytes && this.#oldest !== null) this.#delete(this.#oldest.key);
  }

  #pushNewest(item: Item): void {
    item.older = this.#newest;
    item.newer = null;
    if (this.#newest !== null) this.#newest.newer = item;
    this.#newest = item;
    if (this.#oldest === null) this.#oldest = item;
  }

  #unlink(item: Item): void {
    if (item.newer !== null) item.newer.older = item.older;
    else this.#newest = item.older;
    if (item.older !== null) item.older.newer = item.newer;
    else this.#oldest = item.newer;
    item.newer = null;
    item.older = null;
  }

  #delete(key: string): boolean {
    const item = this.#items.get(key);
    if (item === undefined) return false;
    this.#items.delete(key);
    this.#unlink(item);
    this.bytes -= item.size;
    if (isEntry(item.stored)) {
      for (const t of item.stored.tags) unindex(this.#byTag, t, key);
      unindex(this.#byPath, item.stored.path, key);
    }
    return true;
  }
}

function index(map: Map<string, Set<string>>, name: string, key: string): void {
  let set = map.get(name);
  if (set === undefined) map.set(name, (set = new Set()));
  set.add(key);
}

function unindex(map: Map<string, Set<string>>, name: string, key: string): void {
  const set = map.get(name);
  if (set === undefined) return;
  set.delete(key);
  if (set.size === 0) map.delete(name);
}

/** Memory stores of this process by identity (scope + config), shared across snapshots. */
const live = new Map<string, MemoryStore>();

export function acquireMemoryStore(id: string, maxBytes: number): MemoryStore {
  let store = live.get(id);
  if (store === undefined || store.maxBytes !== maxBytes) {
    store = new MemoryStore(id, maxBytes);
    live.set(id, store);
  }
  store.refs++;
  return store;
}

/** Purges every memory store of this process (the status listener's POST /cache/purge). */
export function purgeMemoryStores(req: PurgeRequest): number {
  let n = 0;
  for (const s of live.values()) n += s.purge(req);
  return n;
}
