// Opening the database a spec names. The PostgreSQL pool connects on its first statement.
import type { SqlDatabase } from './database.js';
import { PostgresDatabase, type PostgresOptions } from './postgres.js';
import type { SqlSpec } from './spec.js';
import { SqliteDatabase, type SqliteOptions } from './sqlite.js';

export function openSql(spec: SqlSpec, opts: SqliteOptions & PostgresOptions = {}): SqlDatabase {
  return spec.dialect === 'sqlite' ? new SqliteDatabase(spec.path, opts) : new PostgresDatabase(spec, opts);
}
