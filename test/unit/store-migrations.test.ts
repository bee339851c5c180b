// Versioned migrations on a real SQLite file and a real PostgreSQL schema: a fresh store is
// migrated, a second start is a no-op, an older schema upgrades and keeps its rows; and the
// commit contract (a stale base version commits nothing).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/store.js';
import type { EntityRow } from '../../src/store/document.js';
import { tempDir } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
const schema = `ng_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const pgUrl = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;
const pgSkip = await postgresSkipReason();

after(async () => {
  if (pgSkip !== undefined) return;
  const c = new pg.Client(DATABASE_URL);
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

const row = (id: string, name: string): EntityRow => ({ kind: 'services', id, key: name, version: 1, body: { name, url: 'http://127.0.0.1:1' }, tags: [], created_at: 'now', updated_at: 'now' });

test('SQLite: fresh store migrates to the latest version; a second open is a no-op', async () => {
  const file = join(tempDir(), 'store.db');
  const s1 = await openStore(`sqlite:${file}`);
  assert.equal(await s1.commit(0, [{ op: 'put', row: row('a', 'svc-a') }]), 1);
  await s1.close();
  const s2 = await openStore(`sqlite:${file}`);
  const state = await s2.read();
  assert.equal(state.version, 1);
  assert.deepEqual(state.rows.map((r) => r.key), ['svc-a']);
  await s2.close();
  const db = new Database(file);
  const applied = db.prepare(`SELECT version FROM ng_schema_migrations WHERE component = 'config' ORDER BY version`).all() as Array<{ version: number }>;
  assert.deepEqual(applied.map((a) => a.version), MIGRATIONS.map((m) => m.version), 'each migration recorded once');
  db.close();
});

test('SQLite: a version-1 schema upgrades to the latest and keeps its rows', async () => {
  const file = join(tempDir(), 'old.db');
  const old = await openStore(`sqlite:${file}`, { migrateTo: 1 });
  await old.close();
  const db = new Database(file);
  db.prepare(`INSERT INTO ng_entities (kind, id, key, version, body, created_at, updated_at) VALUES ('services', 'old-1', 'legacy', 3, '{"name":"legacy","url":"http://127.0.0.1:1"}', 't0', 't0')`).run();
  db.prepare(`UPDATE ng_state SET value = 7 WHERE name = 'config_version'`).run();
  assert.throws(() => db.prepare('SELECT tags FROM ng_entities').all(), /no such column: tags/);
  db.close();
  const s = await openStore(`sqlite:${file}`);
  const state = await s.read();
  assert.equal(state.version, 7);
  assert.deepEqual(state.rows.map((r) => [r.id, r.key, r.version, r.tags]), [['old-1', 'legacy', 3, []]]);
  assert.deepEqual(await s.nodes(60_000), [], 'the nodes table of version 2 exists');
  await s.close();
});

test('SQLite: a commit on a stale base version writes nothing', async () => {
  const s = await openStore(`sqlite:${join(tempDir(), 'c.db')}`);
  assert.equal(await s.commit(0, [{ op: 'put', row: row('a', 'one') }]), 1);
  assert.equal(await s.commit(0, [{ op: 'put', row: row('b', 'two') }]), null);
  assert.deepEqual((await s.read()).rows.map((r) => r.key), ['one']);
  assert.equal(await s.commit(1, [{ op: 'delete', kind: 'services', id: 'a' }, { op: 'put', row: row('b', 'one') }]), 2, 'a key freed by a delete is reusable in the same commit');
  await s.close();
});

test('PostgreSQL: migrations in a schema of their own, idempotent, upgrading an old schema', { skip: pgSkip }, async () => {
  const old = await openStore(pgUrl, { migrateTo: 1 });
  await old.close();
  const c = new pg.Client(DATABASE_URL);
  await c.connect();
  try {
    await c.query(`INSERT INTO ${schema}.ng_entities (kind, id, key, version, body, created_at, updated_at) VALUES ('services', 'p1', 'pg-legacy', 1, '{"name":"pg-legacy"}', 't0', 't0')`);
    await c.query(`UPDATE ${schema}.ng_state SET value = 1 WHERE name = 'config_version'`);
    const cols = await c.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'ng_entities'`, [schema]);
    assert.ok(!cols.rows.some((r) => r.column_name === 'tags'), 'version 1 has no tags column');
    // Two nodes starting at once: the advisory lock serialises them.
    const [a, b] = await Promise.all([openStore(pgUrl), openStore(pgUrl)]);
    const state = await a.read();
    assert.equal(state.version, 1);
    assert.deepEqual(state.rows.map((r) => [r.key, r.tags]), [['pg-legacy', []]]);
    assert.equal(await b.commit(0, [{ op: 'put', row: row('p2', 'x') }]), null);
    assert.equal(await b.commit(1, [{ op: 'put', row: row('p2', 'x') }]), 2);
    await Promise.all([a.close(), b.close()]);
    const again = await openStore(pgUrl);
    await again.close();
    const applied = await c.query(`SELECT version FROM ${schema}.ng_schema_migrations WHERE component = 'config' ORDER BY version`);
    assert.deepEqual(applied.rows.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version));
    assert.equal(Number((await c.query(`SELECT count(*) AS n FROM ${schema}.ng_entities`)).rows[0].n), 2);
    assert.equal(LATEST, 2);
  } finally {
    await c.end();
  }
});

test('PostgreSQL: a commit notifies listeners of the new version', { skip: pgSkip }, async () => {
  const a = await openStore(pgUrl);
  const b = await openStore(pgUrl);
  try {
    let resolveHeard!: (v: number) => void;
    const heard = new Promise<number>((resolve) => (resolveHeard = resolve));
    // LISTEN is in place once listen() resolves.
    await b.listen((v) => resolveHeard(v));
    const base = await a.version();
    const v = await a.commit(base, [{ op: 'put', row: row('n1', 'notified') }]);
    assert.equal(await heard, v);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
