// The resources the controller knows, by kind and namespace/name, fed by a source (the API
// server's informers, or a manifests directory). Changes are coalesced: a burst of events
// yields one snapshot, `quietMs` after the last change and at most `maxDelayMs` after the
// first, and no snapshot is made before every kind has had its first full list.
import type { Kind, KubeObject } from './resources.js';
import { KINDS, keyOf } from './resources.js';

export interface ResourceSnapshot {
  /** Increases by one per snapshot. */
  readonly version: number;
  /** Objects per kind, sorted by namespace/name (a stable order for translation). */
  get(kind: Kind): readonly KubeObject[];
}

export interface StoreOptions {
  /** Wait this long after the last change before a snapshot. */
  readonly quietMs: number;
  /** Never wait longer than this after the first change of a burst. */
  readonly maxDelayMs: number;
}

export const STORE_DEFAULTS: StoreOptions = { quietMs: 50, maxDelayMs: 500 };

export class ResourceStore {
  readonly #objects = new Map<Kind, Map<string, KubeObject>>(KINDS.map((k) => [k.kind, new Map()]));
  readonly #synced = new Set<Kind>();
  readonly #listeners: Array<(s: ResourceSnapshot) => void> = [];
  readonly #opts: StoreOptions;
  #version = 0;
  #dirty = false;
  #firstChangeAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: Partial<StoreOptions> = {}) {
    this.#opts = { ...STORE_DEFAULTS, ...opts };
  }

  /** Called with each new snapshot. */
  onSnapshot(listener: (s: ResourceSnapshot) => void): void {
    this.#listeners.push(listener);
  }

  upsert(kind: Kind, o: KubeObject): void {
    const map = this.#objects.get(kind)!;
    const key = keyOf(o);
    const before = map.get(key);
    if (before !== undefined && before.metadata.resourceVersion !== undefined && before.metadata.resourceVersion === o.metadata.resourceVersion) return;
    map.set(key, o);
    this.#changed();
  }

  remove(kind: Kind, o: { metadata: { name: string; namespace?: string } }): void {
    if (this.#objects.get(kind)!.delete(keyOf(o))) this.#changed();
  }

  /** A full list of a kind: replaces what was known of it, and marks the kind synced. */
  replace(kind: Kind, objects: readonly KubeObject[]): void {
    const map = this.#objects.get(kind)!;
    const next = new Map(objects.map((o) => [keyOf(o), o]));
    const same = map.size === next.size && [...next].every(([k, o]) => sameObject(map.get(k), o));
    this.#objects.set(kind, next);
    const first = !this.#synced.has(kind);
    this.#synced.add(kind);
    if (!same || first) this.#changed();
  }

  get ready(): boolean {
    return this.#synced.size === KINDS.length;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #changed(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (!this.#dirty) this.#firstChangeAt = now;
    this.#dirty = true;
    if (!this.ready) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#opts.quietMs, this.#firstChangeAt + this.#opts.maxDelayMs - now));
    this.#timer = setTimeout(() => this.#emit(), wait);
  }

  #emit(): void {
    this.#timer = null;
    if (!this.#dirty || this.#closed) return;
    this.#dirty = false;
    const snapshot = this.#freeze(++this.#version);
    for (const l of this.#listeners) l(snapshot);
  }

  #freeze(version: number): ResourceSnapshot {
    const lists = new Map<Kind, readonly KubeObject[]>();
    for (const [kind, map] of this.#objects) lists.set(kind, [...map.keys()].sort().map((k) => map.get(k)!));
    return { version, get: (kind) => lists.get(kind)! };
  }
}

/** Same resource version, or (manifests carry none) the same content. */
function sameObject(a: KubeObject | undefined, b: KubeObject): boolean {
  if (a === undefined) return false;
  if (a === b) return true;
  const rv = b.metadata.resourceVersion;
  if (rv !== undefined) return a.metadata.resourceVersion === rv;
  return JSON.stringify(a) === JSON.stringify(b);
}
