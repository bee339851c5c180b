// Rows <-> config document: a file's entities survive disassemble -> assemble unchanged,
// problems map back to the entity that owns their path, and the in-memory plans
// (cascade, merge patch, replace-all) do what the admin API promises.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/compiler/validate.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { fileRows } from '../../src/store/control.js';
import { assemble, disassemble, mapProblems } from '../../src/store/document.js';
import { canonical, EntityError, mergePatch, planDelete, planReplaceAll } from '../../src/store/entities.js';
import { KIND_BY_NAME } from '../../src/store/kinds.js';

const doc = {
  _format_version: '1',
  upstreams: [{ name: 'pool', targets: [{ url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2', weight: 3 }] }],
  services: [
    { name: 'a', upstream: 'pool', plugins: { headers: {} }, routes: [{ name: 'a-r', paths: ['/a'], plugins: { cors: { origins: ['*'] } } }, { paths: ['/a2'] }] },
    { name: 'b', url: 'http://127.0.0.1:3' },
  ],
  consumers: [{ username: 'alice', groups: ['g'], credentials: { 'key-auth': [{ key: 'alice-key-1234' }] } }],
  plugins: { headers: { response: { set: { x: '1' } } } },
};

test('a document survives disassemble -> rows -> assemble, with defaults made explicit', () => {
  const registry = defaultRegistry();
  assert.deepEqual(validateConfig(doc, registry).problems, []);
  const rows = fileRows(doc);
  const kinds = rows.map((r) => r.kind);
  assert.deepEqual([...new Set(kinds)], ['upstreams', 'targets', 'services', 'plugins', 'routes', 'consumers', 'credentials']);
  assert.ok(rows.some((r) => r.kind === 'routes' && r.key === 'a-1'), 'an unnamed route gets the file default name');
  const { doc: back } = assemble(rows);
  assert.deepEqual(validateConfig(back, registry).problems, []);
  const sorted = (d: Record<string, unknown>) => disassemble(d).map(canonical).sort();
  assert.deepEqual(sorted(back), sorted(doc));
});

test('problems map to the owning entity with an entity-relative path', () => {
  const rows = fileRows(doc);
  // Assembled in key order: a-1 comes before a-r.
  const { owners } = assemble(rows);
  const mapped = mapProblems(
    [
      { path: ['services', 0, 'routes', 1, 'paths', 0], message: 'bad path' },
      { path: ['services', 0, 'routes', 1, 'plugins', 'cors', 'origins'], message: 'bad origins' },
      { path: ['upstreams', 0, 'targets', 1, 'weight'], message: 'bad weight' },
      { path: ['consumers', 0, 'credentials', 'key-auth', 0, 'key'], message: 'bad key' },
      { path: ['listen'], message: 'node setting' },
    ],
    owners,
  );
  const id = (kind: string, key: string) => rows.find((r) => r.kind === kind && r.key === key)!.id;
  assert.deepEqual(mapped, [
    { kind: 'routes', id: id('routes', 'a-r'), path: ['paths', 0], message: 'bad path' },
    { kind: 'plugins', id: id('plugins', 'route:a-r/cors'), path: ['config', 'origins'], message: 'bad origins' },
    { kind: 'targets', id: id('targets', 'pool http://127.0.0.1:2'), path: ['weight'], message: 'bad weight' },
    { kind: 'credentials', id: 'alice/key-auth/0', path: ['key'], message: 'bad key' },
    { path: ['listen'], message: 'node setting' },
  ]);
});

test('delete: 409 while referenced, cascade follows references recursively', () => {
  const state = { version: 1, rows: fileRows(doc) };
  assert.throws(() => planDelete(state, KIND_BY_NAME.get('upstreams')!, 'pool', false), (e: unknown) => e instanceof EntityError && e.code === 'entity-conflict' && /used by 2 targets, 1 service/.test(e.message));
  const planned = planDelete(state, KIND_BY_NAME.get('upstreams')!, 'pool', true);
  const gone = planned.writes.map((w) => (w.op === 'delete' ? w.kind : '')).sort();
  assert.deepEqual(gone, ['plugins', 'plugins', 'routes', 'routes', 'services', 'targets', 'targets', 'upstreams']);
});

test('replace-all keeps unchanged rows, and plaintext keys compare by digest', () => {
  const state = { version: 1, rows: planReplaceAll({ version: 0, rows: [] }, disassemble(doc)).rows };
  const again = planReplaceAll(state, disassemble(doc));
  assert.deepEqual([again.created.length, again.changed.length, again.deleted.length], [0, 0, 0]);
  const cred = state.rows.find((r) => r.kind === 'credentials')!;
  assert.equal(cred.body['key'], undefined);
  assert.match(String(cred.body['key_digest']), /^sha256:/);
  const changed = planReplaceAll(state, disassemble({ ...doc, services: [doc.services[1]] }));
  assert.deepEqual(changed.deleted.map((r) => r.kind).sort(), ['plugins', 'plugins', 'routes', 'routes', 'services']);
});

test('JSON merge patch (RFC 7396)', () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: null, e: 4 }, f: [1] }), { b: { d: 3, e: 4 }, f: [1] });
});
