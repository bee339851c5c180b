// Versioned schema migrations, shared by both backends (plain SQL both accept). Applied in
// order at start inside one transaction, each recorded in ng_migrations; a migration is
// never edited once released, only followed by a new one, so no data is lost.
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: readonly string[];
}

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

export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS ng_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;

/** The migrations still to apply after `applied`, up to `target` (tests stop early to build an old schema). */
export function pending(applied: ReadonlySet<number>, target = Infinity): Migration[] {
  return MIGRATIONS.filter((m) => !applied.has(m.version) && m.version <= target);
}
