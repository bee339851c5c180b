// The in-process store: an LRU bounded by bytes (Map insertion order = recency), with
// indexes by tag and by path for purges. A lookup is synchronous and moves the entry to the
// recent end only when it is not already among the newest quarter of the order (a hot entry
// is not re-inserted on every hit; eviction order is off by at most that quarter). Shared across reloads by an identical config, so a
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

interface Item {
  readonly stored: Stored;
  readonly size: number;
  tick: number;
}

export class MemoryStore implements CacheStore {
  readonly maxBytes: number;
  bytes = 0;
  readonly #items = new Map<string, Item>();
  /** Counts insertions and moves; an item's `tick` is the count when it last went to the recent end. */
  #tick = 0;
  /**
   * Where eviction stopped: a keys() iterator kept across calls. A Map iterator stays valid
   * while entries are added and deleted, and every live entry lies ahead of it (it only ever
   * passes entries it evicted; moved and new ones go to the end), so each eviction resumes
   * here. A fresh iterator per eviction would first step over every deleted slot at the
   * front of V8's table, which grows with the churn: O(deleted) per insert once the store is full.
   */
  #oldest: IterableIterator<string> | null = null;
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
    // Most recently used last (unless it is among the newest quarter already).
    if (this.#tick - item.tick > this.#items.size >> 2) {
      this.#items.delete(key);
      item.tick = ++this.#tick;
      this.#items.set(key, item);
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
    this.#items.set(key, { stored, size, tick: ++this.#tick });
    this.bytes += size;
    // Evict least recently used until within bounds.
    while (this.bytes > this.maxBytes && this.#evictOldest());
  }

  /** Deletes the least recently used entry; false when there is none. */
  #evictOldest(): boolean {
    for (let fresh = 0; fresh < 2; fresh++) {
      this.#oldest ??= this.#items.keys();
      const next = this.#oldest.next();
      if (next.done !== true) return this.#delete(next.value);
      // Ran off the end: a done iterator stays done, so the next pass starts a new one.
      this.#oldest = null;
    }
    return false;
  }

  #delete(key: string): boolean {
    const item = this.#items.get(key);
    if (item === undefined) return false;
    this.#items.delete(key);
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
