// The portal's tables, migrated as component "portal" (base/sql/migrate.ts): the portal may
// share the config store's database (mode: database) or live in a file of its own. Plain SQL
// both SQLite and PostgreSQL accept; a released migration is never edited, only followed by
// a new one. Releases before the shared version table recorded these in ng_portal_migrations.
import type { Migration } from '../../base/sql/migrate.js';

export const LEGACY_VERSION_TABLE = 'ng_portal_migrations';

export const PORTAL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'accounts, keys, access requests, sessions, version',
    sql: [
      // Emails are stored lower-cased; an OIDC identity is `issuer|subject`.
      `CREATE TABLE ng_portal_accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, role TEXT NOT NULL, password_hash TEXT, oidc_subject TEXT UNIQUE, created_at TEXT NOT NULL)`,
      // A key is kept as its SHA-256 digest only (`sha256:BASE64`, the key-auth `key_digest` form).
      // An access request is a key in status `pending`; `decided_at` records the operator's answer.
      `CREATE TABLE ng_portal_keys (id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES ng_portal_accounts (id) ON DELETE CASCADE, name TEXT NOT NULL, prefix TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, plan TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL, rotated_at TEXT, revoked_at TEXT, decided_at TEXT)`,
      `CREATE INDEX ng_portal_keys_account ON ng_portal_keys (account_id)`,
      // Keyed by a SHA-256 of the cookie's id: the table holds no usable cookie.
      `CREATE TABLE ng_portal_sessions (id_digest TEXT PRIMARY KEY, account_id TEXT, csrf TEXT NOT NULL, oidc TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)`,
      `CREATE INDEX ng_portal_sessions_expiry ON ng_portal_sessions (expires_at)`,
      // Bumped by every change to accounts or keys: the other processes poll it.
      `CREATE TABLE ng_portal_state (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
      `INSERT INTO ng_portal_state (name, value) VALUES ('version', 0)`,
    ],
  },
];
