// The portal's database: SQLite (a file the processes of a node share) or PostgreSQL (shared
// by nodes), opened through base/sql and migrated at open (migrations.ts).
import type { SqlDatabase, SqlQueries } from '../../base/sql/database.js';
import { migrate } from '../../base/sql/migrate.js';
import { openSql } from '../../base/sql/open.js';
import { isPostgresUrl, postgresSpec, sqliteSpec } from '../../base/sql/spec.js';
import { LEGACY_VERSION_TABLE, PORTAL_MIGRATIONS } from './migrations.js';

export { isUniqueViolation } from '../../base/sql/database.js';

export type Queries = SqlQueries;
export type PortalDb = SqlDatabase;

/** Opens (and migrates) the database a portal store URL names: `sqlite:PATH` or `postgres://…[?schema=NAME]`. */
export async function openPortalDb(url: string): Promise<PortalDb> {
  let db: SqlDatabase;
  if (isPostgresUrl(url)) db = openSql(postgresSpec(url, 'portal store'));
  else if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new Error('a sqlite portal store needs a path: sqlite:./northgate-portal.db');
    db = openSql(sqliteSpec(path));
  } else throw new Error(`unsupported portal store "${url}": use sqlite:PATH or postgres://...`);
  try {
    await migrate(db, 'portal', PORTAL_MIGRATIONS, { legacyTable: LEGACY_VERSION_TABLE });
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
