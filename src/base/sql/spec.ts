// Where a database is: `sqlite:PATH` or a postgres:// URL. `?schema=NAME` on a PostgreSQL
// URL puts the tables in their own schema (created by migrate.ts when missing); it is not a
// libpq parameter, so it is taken off the URL. The description never shows the password:
// it goes to logs and error messages.

export interface SqliteSpec {
  readonly dialect: 'sqlite';
  readonly path: string;
  readonly description: string;
}

export interface PostgresSpec {
  readonly dialect: 'postgres';
  readonly url: string;
  /** Put first on the search path of every connection; null: the server's default. */
  readonly schema: string | null;
  readonly description: string;
}

export type SqlSpec = SqliteSpec | PostgresSpec;

export const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function isPostgresUrl(text: string): boolean {
  return text.startsWith('postgres://') || text.startsWith('postgresql://');
}

export function sqliteSpec(path: string): SqliteSpec {
  return { dialect: 'sqlite', path, description: `sqlite:${path}` };
}

/** `label` names the setting in errors ("store", "portal store"). */
export function postgresSpec(url: string, label = 'database'): PostgresSpec {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? 'public';
  if (!SQL_IDENTIFIER.test(schema)) throw new Error(`${label} schema "${schema}" must be a lower-case SQL identifier`);
  u.searchParams.delete('schema');
  const plain = u.toString();
  if (u.password) u.password = '***';
  return { dialect: 'postgres', url: plain, schema, description: u.toString() + (schema === 'public' ? '' : ` (schema ${schema})`) };
}

/** A PostgreSQL URL used as it is (no `schema` parameter of ours): metering and quota tables. */
export function plainPostgresSpec(url: string): PostgresSpec {
  return { dialect: 'postgres', url, schema: null, description: redactUrl(url) };
}

/** A URL with its password masked, for a message about a URL that may not even parse. */
export function redactUrl(text: string): string {
  return text.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
}
