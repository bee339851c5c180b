// The config store: entity rows plus one config version, behind two backends (embedded
// SQLite, shared PostgreSQL). Writes are change sets committed against the version they
// were computed from: a concurrent change makes commit() return null and the caller
// recomputes (validation always sees the state it commits on top of).
import type { EntityRow } from './document.js';
import { isPostgresUrl } from '../base/sql/spec.js';
import type { KindName } from './kinds.js';

export type Write = { op: 'put'; row: EntityRow } | { op: 'delete'; kind: KindName; id: string };

export interface StoreState {
  version: number;
  rows: EntityRow[];
}

export interface NodeInfo {
  id: string;
  hostname: string;
  pid: number;
  started_at: string;
  seen_at: string;
  config_version: number;
}

export interface Store {
  /** `sqlite:PATH` or the PostgreSQL URL without its password. */
  readonly description: string;
  readonly kind: 'sqlite' | 'postgres';
  version(): Promise<number>;
  read(): Promise<StoreState>;
  /** Applies the writes atomically if the config version is still `base`; the new version, or null. */
  commit(base: number, writes: readonly Write[]): Promise<number | null>;
  heartbeat(node: NodeInfo): Promise<void>;
  /** Nodes whose last heartbeat is younger than `maxAgeMs`. */
  nodes(maxAgeMs: number): Promise<NodeInfo[]>;
  /** Calls `onVersion` on every change notification (PostgreSQL LISTEN); no-op for SQLite. */
  listen(onVersion: (version: number) => void): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply migrations only up to this version (tests build an older schema with it). */
  readonly migrateTo?: number;
  /**
   * Open an existing store without creating or migrating anything (`config dump`, `diff`,
   * `apply --dry-run`): a missing file or schema is an error, never an empty store.
   */
  readonly mustExist?: boolean;
}

/** The store a read-only command was pointed at does not exist (or is not a store). */
export class StoreMissing extends Error {}

export { DEFAULT_STORE_URL } from '../config/defaults.js';

export class StoreConflict extends Error {}

export function rowFromRecord(r: Record<string, unknown>): EntityRow {
  return {
    kind: r['kind'] as KindName,
    id: String(r['id']),
    key: String(r['key']),
    version: Number(r['version']),
    body: JSON.parse(String(r['body'])) as Record<string, unknown>,
    tags: JSON.parse(String(r['tags'] ?? '[]')) as string[],
    created_at: String(r['created_at']),
    updated_at: String(r['updated_at']),
  };
}

/** Opens (and migrates) the store a URL names. */
export async function openStore(url: string, opts: OpenOptions = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const { SqliteStore } = await import('./sqlite.js');
    return SqliteStore.open(url.slice('sqlite:'.length), opts);
  }
  if (isPostgresUrl(url)) {
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open(url, opts);
  }
  throw new Error(`unsupported store URL "${url}": use sqlite:PATH or postgres://...`);
}
