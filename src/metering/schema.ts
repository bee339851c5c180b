// The usage table, versioned like the config store's and the portal's tables: a list of
// migrations in plain SQL that SQLite and PostgreSQL both accept, recorded per usage table
// (the table name is configurable and several may share a database) by base/sql/migrate.ts.
// A released migration is never edited, only followed by a new one.
//
// Version 1 is the table of the first metering release (`CREATE TABLE IF NOT EXISTS`, so a
// database made by that release, which has no migrations table, takes it as applied).
// Version 2 adds the credential to the key and one count column per latency bucket
// (histogram.ts). Columns rather than one encoded value, so that both databases sum a
// histogram over any rows in SQL (`SUM(ms_le_5)`) and the adding upsert adds it; a zero
// costs SQLite no storage. The key changes, so the table is rebuilt (SQLite cannot alter a
// primary key): old rows get credential '' and an empty histogram.
// Version 3 adds the drift table (`TABLE_drift`): OpenAPI contract violations per hour ×
// service × operation × kind × status, fed from the `northgate:openapi:violation` channel.
import { HISTOGRAM_COLUMNS } from './histogram.js';

export type Dialect = 'sqlite' | 'postgres';

export interface UsageMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: (table: string, dialect: Dialect) => readonly string[];
}

const BIGINT = { sqlite: 'INTEGER', postgres: 'BIGINT' } as const;
const REAL = { sqlite: 'REAL', postgres: 'DOUBLE PRECISION' } as const;

/** The columns a usage row is written with, in order (the current version). */
export const ROW_COLUMNS: readonly string[] = ['minute', 'consumer', 'credential', 'service', 'route', 'status_class', 'requests', 'bytes_in', 'bytes_out', 'latency_ms_sum', ...HISTOGRAM_COLUMNS];
export const KEY_COLUMNS: readonly string[] = ['minute', 'consumer', 'credential', 'service', 'route', 'status_class'];
/** The columns the adding upsert adds to. */
export const SUM_COLUMNS: readonly string[] = ROW_COLUMNS.slice(KEY_COLUMNS.length);

/** The drift table of a usage table (version 3). */
export function driftTable(table: string): string {
  return `${table}_drift`;
}
export const DRIFT_KEY_COLUMNS: readonly string[] = ['hour', 'service', 'operation', 'kind', 'status'];

const V1_COLUMNS = 'minute, consumer, service, route, status_class, requests, bytes_in, bytes_out, latency_ms_sum';

export const USAGE_MIGRATIONS: readonly UsageMigration[] = [
  {
    version: 1,
    name: 'usage per minute × consumer × service × route × status class',
    sql: (t, d) => [
      `CREATE TABLE IF NOT EXISTS ${t} (
        minute ${BIGINT[d]} NOT NULL, consumer TEXT NOT NULL, service TEXT NOT NULL, route TEXT NOT NULL, status_class TEXT NOT NULL,
        requests ${BIGINT[d]} NOT NULL, bytes_in ${BIGINT[d]} NOT NULL, bytes_out ${BIGINT[d]} NOT NULL, latency_ms_sum ${REAL[d]} NOT NULL,
        PRIMARY KEY (minute, consumer, service, route, status_class))`,
      `CREATE INDEX IF NOT EXISTS ${t}_consumer ON ${t} (consumer, minute)`,
    ],
  },
  {
    version: 2,
    name: 'credential in the key; latency histogram (one column per bucket)',
    sql: (t, d) => [
      `CREATE TABLE ${t}_v2 (
        minute ${BIGINT[d]} NOT NULL, consumer TEXT NOT NULL, credential TEXT NOT NULL DEFAULT '', service TEXT NOT NULL, route TEXT NOT NULL, status_class TEXT NOT NULL,
        requests ${BIGINT[d]} NOT NULL, bytes_in ${BIGINT[d]} NOT NULL, bytes_out ${BIGINT[d]} NOT NULL, latency_ms_sum ${REAL[d]} NOT NULL,
        ${HISTOGRAM_COLUMNS.map((c) => `${c} ${BIGINT[d]} NOT NULL DEFAULT 0`).join(', ')},
        PRIMARY KEY (${KEY_COLUMNS.join(', ')}))`,
      `INSERT INTO ${t}_v2 (${V1_COLUMNS}) SELECT ${V1_COLUMNS} FROM ${t}`,
      `DROP TABLE ${t}`,
      `ALTER TABLE ${t}_v2 RENAME TO ${t}`,
      `CREATE INDEX ${t}_consumer ON ${t} (consumer, minute)`,
    ],
  },
  {
    version: 3,
    name: 'OpenAPI drift: contract violations per hour × service × operation × kind × status',
    sql: (t, d) => [
      `CREATE TABLE ${driftTable(t)} (
        hour ${BIGINT[d]} NOT NULL, service TEXT NOT NULL, operation TEXT NOT NULL, kind TEXT NOT NULL, status INTEGER NOT NULL,
        violations ${BIGINT[d]} NOT NULL,
        PRIMARY KEY (${DRIFT_KEY_COLUMNS.join(', ')}))`,
    ],
  },
];

export const CURRENT_VERSION = USAGE_MIGRATIONS[USAGE_MIGRATIONS.length - 1]!.version;

/**
 * What a reader selects from when the table may be of an older version (a reader never
 * migrates): the table itself, or for a version-1 table a subquery that gives its rows
 * credential '' and an empty histogram.
 */
export function readSource(table: string, current: boolean): string {
  if (current) return table;
  return `(SELECT ${V1_COLUMNS.replace('consumer,', "consumer, '' AS credential,")}, ${HISTOGRAM_COLUMNS.map((c) => `0 AS ${c}`).join(', ')} FROM ${table}) AS v1`;
}
