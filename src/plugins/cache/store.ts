// What the cache keeps, and the interface both stores implement.
import type { HitForm } from './hit.js';

/** A stored response. */
export interface CacheEntry {
  readonly status: number;
  /** Flat [name, value, ...] as the upstream sent them (less hop-by-hop, Age, Set-Cookie, X-Request-Id). */
  readonly headers: readonly string[];
  readonly body: Buffer;
  /** Epoch ms when stored, and when it stops being fresh. */
  readonly storedAt: number;
  readonly expiresAt: number;
  /** The upstream's Age when stored, in seconds. */
  readonly initialAge: number;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  /** The Vary header names (lower-case, sorted) and this variant's values, for collapsed followers. */
  readonly vary: readonly string[];
  readonly varyValues: string;
  readonly tags: readonly string[];
  /** The request path (without query), for purge by path. */
  readonly path: string;
  /** What a hit writes, prebuilt (this process only: never encoded into Redis). */
  hit?: HitForm;
}

/** Stored at the primary key of a response with Vary: the names whose values pick the variant. */
export interface VaryRecord {
  readonly vary: readonly string[];
  readonly expiresAt: number;
}

export type Stored = CacheEntry | VaryRecord;

export const isEntry = (s: Stored): s is CacheEntry => (s as CacheEntry).body !== undefined;

export interface PurgeRequest {
  readonly tags?: readonly string[];
  readonly paths?: readonly string[];
}

export interface CacheStore {
  get(key: string): Stored | undefined | Promise<Stored | undefined>;
  /** Stores an entry (and, for a Vary response, the VaryRecord at its primary key). */
  set(key: string, entry: CacheEntry, primary: string | null): void | Promise<void>;
  /** Removes every entry with one of the tags or paths; resolves to how many. */
  purge(req: PurgeRequest): number | Promise<number>;
  release(): void;
}
