// Commands that only read (`config dump`, `config diff`, `config apply --dry-run`, `usage`)
// never create a store: pointed at one that does not exist they fail with one line, and the
// file or PostgreSQL schema is still absent afterwards. (An empty store created by a dump
// would print an empty document, which `apply` would turn into deleting everything.)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir, writeConfig } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const CONFIG = `_format_version: "1"
services:
  - name: api
    url: "http://127.0.0.1:9"
    routes: [{ name: api, paths: ["/"] }]
`;

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, stderr);
  assert.doesNotMatch(stderr, /^\s+at /m);
  return lines[0]!;
}

test('config dump, diff and apply --dry-run on a SQLite path that does not exist: exit 2, nothing created', async () => {
  const dir = tempDir();
  const db = join(dir, 'missing.db');
  const file = writeConfig(CONFIG);
  for (const args of [['dump'], ['diff', '-c', file], ['apply', '-c', file, '--dry-run']]) {
    const r = await runCli(['config', ...args, '--store', `sqlite:${db}`]);
    assert.equal(r.code, 2, `config ${args[0]}: ${r.stderr}`);
    assert.equal(r.stdout, '', `config ${args[0]} prints no document`);
    assert.match(oneLine(r.stderr), new RegExp(`no config store at ${db.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.ok(!existsSync(db), `config ${args[0]} did not create ${db}`);
  }
  // apply is the command that creates it.
  const applied = await runCli(['config', 'apply', '-c', file, '--store', `sqlite:${db}`]);
  assert.equal(applied.code, 0, applied.stderr);
  const dump = await runCli(['config', 'dump', '--store', `sqlite:${db}`, '--format', 'json']);
  assert.equal(dump.code, 0, dump.stderr);
  assert.equal((JSON.parse(dump.stdout) as { services: Array<{ name: string }> }).services[0]!.name, 'api');
});

test('usage on a SQLite path that does not exist: exit 1, nothing created', async () => {
  const db = join(tempDir(), 'missing-metering.sqlite');
  const r = await runCli(['usage', '--store', db]);
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /no usage store at/);
  assert.ok(!existsSync(db));
});

test('config dump and diff on a PostgreSQL schema that does not exist: exit 2, the schema is not created', async (t) => {
  const skip = await postgresSkipReason();
  if (skip !== undefined) return t.skip(skip);
  const { default: pg } = await import('pg');
  const schema = `ng_missing_${process.pid}_${Date.now() % 100000}`;
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  const file = writeConfig(CONFIG);
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    for (const args of [['dump'], ['diff', '-c', file]]) {
      const r = await runCli(['config', ...args, '--store', url]);
      assert.equal(r.code, 2, `config ${args[0]}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(oneLine(r.stderr), new RegExp(`no config store in .*schema ${schema}`));
    }
    const found = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
    assert.equal(found.rowCount, 0, 'no schema was created');
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});
