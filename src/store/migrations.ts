// The config store's tables, for both backends (plain SQL both accept), applied at start by
// base/sql/migrate.ts as component "config". Releases before the shared version table
// recorded these in ng_migrations (adopted on the first start).
import type { Migration } from '../base/sql/migrate.js';

export const COMPONENT = 'config';
export const LEGACY_VERSION_TABLE = 'ng_migrations';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'entities and config version',
    sql: [
      `CREATE TABLE ng_entities (kind TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (kind, id), UNIQUE (kind, key))`,
      `CREATE TABLE ng_state (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
      `INSERT INTO ng_state (name, value) VALUES ('config_version', 0)`,
    ],
  },
  {
    version: 2,
    name: 'entity tags and node heartbeats',
    sql: [
      `ALTER TABLE ng_entities ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'`,
      `CREATE TABLE ng_nodes (id TEXT PRIMARY KEY, hostname TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL, seen_at TEXT NOT NULL, config_version BIGINT NOT NULL)`,
    ],
  },
];
