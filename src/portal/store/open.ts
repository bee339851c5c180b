// Where the portal keeps accounts, keys and sessions (`portal.store`), and opening it.
// Default: the config store's database in `mode: database` (so the nodes that share a config
// share the portal), else a SQLite file `northgate-portal.db` next to the config file (the
// working directory without one): zero configuration for a single node.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { RawConfig } from '../../config/types.js';
import { DEFAULT_STORE_URL } from '../../config/defaults.js';
import type { PortalDirectory } from '../directory.js';
import type { SessionStore } from '../sessions.js';
import type { RawPortal } from '../../config/types.js';
import { openPortalDb } from './db.js';
import { DatabaseDirectory } from './directory.js';
import { DatabaseSessionStore } from './sessions.js';

export const DEFAULT_PORTAL_FILE = 'northgate-portal.db';

/** `sqlite:ABSOLUTE_PATH` or a postgres:// URL. Relative SQLite paths of `portal.store` are relative to the config file. */
export function portalStoreUrl(config: RawConfig, configFile: string | null): string {
  const base = configFile === null ? process.cwd() : dirname(resolve(configFile));
  const raw = (config as { portal?: RawPortal }).portal?.store;
  if (raw !== undefined) {
    if (raw.startsWith('postgres://') || raw.startsWith('postgresql://')) return raw;
    const path = raw.startsWith('sqlite:') ? raw.slice('sqlite:'.length) : raw;
    return 'sqlite:' + (isAbsolute(path) ? path : resolve(base, path));
  }
  if (config.mode === 'database') {
    // The very database the config store opens (its SQLite path is relative to the working directory).
    const url = config.store?.url ?? DEFAULT_STORE_URL;
    return url.startsWith('sqlite:') ? 'sqlite:' + resolve(url.slice('sqlite:'.length)) : url;
  }
  return 'sqlite:' + resolve(base, DEFAULT_PORTAL_FILE);
}

export interface PortalData {
  readonly directory: PortalDirectory;
  readonly sessions: SessionStore;
  /** `sqlite:PATH` or the PostgreSQL URL without its password. */
  readonly description: string;
  close(): Promise<void>;
}

export async function openPortalData(url: string, opts: { pollMs?: number; onError?: (err: unknown) => void } = {}): Promise<PortalData> {
  const db = await openPortalDb(url);
  let directory: DatabaseDirectory;
  try {
    directory = await DatabaseDirectory.open(db, opts);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { directory, sessions: new DatabaseSessionStore(db), description: db.description, close: () => directory.close() };
}
