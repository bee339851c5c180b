// The shared version table (ng_schema_migrations, keyed by component) on real SQLite files and
// a real PostgreSQL schema: a database made by the releases that kept one version table per
// component (ng_migrations, ng_portal_migrations, <table>_migrations, none for quota counters)
// opens with its rows, runs nothing twice and leaves the old tables in place; components of
// one database migrate independently.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrate, type Migration } from '../../src/base/sql/migrate.js';
import { openSql } from '../../src/base/sql/open.js';
import { sqliteSpec } from '../../src/base/sql/spec.js';
import { sqliteUsageStore } from '../../src/metering/store.js';
import { sqliteQuotaStore } from '../../src/plugins/quota/stores.js';
import { openPortalDb } from '../../src/portal/store/db.js';
import { PORTAL_MIGRATIONS } from '../../src/portal/store/migrations.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const schema = `ng_up_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const pgSkip = await postgresSkipReason();

after(async () => {
  if (pgSkip !== undefined) return;
  const c = new pg.Client(DATABASE_URL);
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

/** What the earlier releases did at open: their tables, and their versions in a table of their own. */
function legacySqlite(file: string, table: string, migrations: readonly Migration[]): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  for (const m of migrations) {
    for (const sql of typeof m.sql === 'function' ? m.sql('sqlite') : m.sql) db.exec(sql);
    db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, 't0');
  }
  db.close();
}

test('SQLite: a config store and a portal of the earlier release keep working; their version rows are adopted', async () => {
  const file = join(tempDir(), 'legacy.db');
  legacySqlite(file, 'ng_migrations', MIGRATIONS);
  legacySqlite(file, 'ng_portal_migrations', PORTAL_MIGRATIONS);
  const raw = new Database(file);
  raw.prepare(`INSERT INTO ng_entities (kind, id, key, version, body, tags, created_at, updated_at) VALUES ('services', 's1', 'kept', 1, '{"name":"kept"}', '[]', 't0', 't0')`).run();
  raw.prepare(`UPDATE ng_state SET value = 4 WHERE name = 'config_version'`).run();
  raw.close();

  // A read-only command on a database no new release has opened yet.
  const readOnly = await openStore(`sqlite:${file}`, { mustExist: true });
  assert.equal(await readOnly.version(), 4);
  await readOnly.close();

  // Opening runs no migration again (each would fail: CREATE TABLE without IF NOT EXISTS).
  const store = await openStore(`sqlite:${file}`);
  assert.deepEqual((await store.read()).rows.map((r) => r.key), ['kept']);
  await store.close();
  const portal = await openPortalDb(`sqlite:${file}`);
  assert.equal((await portal.get<{ value: number }>(`SELECT value FROM ng_portal_state WHERE name = 'version'`))?.value, 0);
  await portal.close();

  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT component, version, applied_at FROM ng_schema_migrations ORDER BY component, version').all();
  assert.deepEqual(rows, [
    ...MIGRATIONS.map((m) => ({ component: 'config', version: m.version, applied_at: 't0' })),
    ...PORTAL_MIGRATIONS.map((m) => ({ component: 'portal', version: m.version, applied_at: 't0' })),
  ]);
  assert.equal((db.prepare('SELECT count(*) AS n FROM ng_migrations').get() as { n: number }).n, MIGRATIONS.length, 'the old table is left for nodes of the earlier release');
  db.close();
});

test('SQLite: quota counters of the earlier release (no version table) keep their counts', async () => {
  const dir = tempDir();
  const file = join(dir, 'quota.sqlite');
  const raw = new Database(file);
  raw.exec(`CREATE TABLE northgate_quota (key TEXT NOT NULL, period TEXT NOT NULL, used INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key, period)) WITHOUT ROWID`);
  raw.prepare('INSERT INTO northgate_quota VALUES (?, ?, ?, ?)').run('k', 'p', 5, Date.now() + 60_000);
  raw.close();
  const quota = sqliteQuotaStore(file);
  try {
    assert.equal(quota.used('k', 'p'), 5);
    assert.equal(quota.consume('k', 'p', 10, Date.now()), 6);
  } finally {
    quota.release();
  }
  const db = new Database(file, { readonly: true });
  assert.deepEqual(db.prepare('SELECT component, version FROM ng_schema_migrations').all(), [{ component: 'quota:northgate_quota', version: 1 }]);
  db.close();
});

test('SQLite: components of one database migrate independently, up to a target', async () => {
  const file = join(tempDir(), 'parts.db');
  const a: Migration[] = [
    { version: 1, name: 'one', sql: ['CREATE TABLE a1 (x INTEGER)'] },
    { version: 2, name: 'two', sql: (d) => [`CREATE TABLE a2 (x ${d === 'sqlite' ? 'INTEGER' : 'BIGINT'})`] },
  ];
  const db = openSql(sqliteSpec(file));
  await migrate(db, 'a', a, { target: 1 });
  await migrate(db, 'b', [{ version: 1, name: 'one', sql: ['CREATE TABLE b1 (x INTEGER)'] }]);
  await migrate(db, 'a', a);
  await migrate(db, 'a', a);
  assert.deepEqual(await db.all('SELECT component, version FROM ng_schema_migrations ORDER BY component, version'), [
    { component: 'a', version: 1 },
    { component: 'a', version: 2 },
    { component: 'b', version: 1 },
  ]);
  await db.close();
  // A metering writer on the same file is one more component.
  const usage = sqliteUsageStore(file, 'northgate_usage');
  await usage.close();
});

test('PostgreSQL: a config store and a portal of the earlier release keep working', { skip: pgSkip }, async () => {
  const c = new pg.Client(DATABASE_URL);
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`SET search_path = ${schema}`);
    for (const [table, migrations] of [['ng_migrations', MIGRATIONS], ['ng_portal_migrations', PORTAL_MIGRATIONS]] as const) {
      await c.query(`CREATE TABLE ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
      for (const m of migrations) {
        for (const sql of typeof m.sql === 'function' ? m.sql('postgres') : m.sql) await c.query(sql);
        await c.query(`INSERT INTO ${table} (version, name, applied_at) VALUES ($1, $2, 't0')`, [m.version, m.name]);
      }
    }
    await c.query(`UPDATE ng_state SET value = 3 WHERE name = 'config_version'`);
    const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;
    const readOnly = await openStore(url, { mustExist: true });
    assert.equal(await readOnly.version(), 3);
    await readOnly.close();
    // Two nodes at once, as a cluster restarting on the new release.
    const stores = await Promise.all([openStore(url), openStore(url)]);
    await Promise.all(stores.map((s) => s.close()));
    const portal = await openPortalDb(url);
    await portal.close();
    const rows = await c.query(`SELECT component, version FROM ${schema}.ng_schema_migrations ORDER BY component, version`);
    assert.deepEqual(
      rows.rows.map((r) => [r.component, Number(r.version)]),
      [...MIGRATIONS.map((m) => ['config', m.version]), ...PORTAL_MIGRATIONS.map((m) => ['portal', m.version])],
    );
  } finally {
    await c.end();
  }
});
