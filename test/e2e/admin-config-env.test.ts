// The admin API speaks its own language. POST /config refuses ${VAR} references with what
// to do instead (resolving them would hand the gateway's own environment, its secrets
// included, to whoever can post a document); `northgate config apply` resolves them from
// its environment as the file loader does. Conflicts name entities (`route users`), never
// positions in a document assembled from the store that nobody has seen.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { http, runCli, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';
import { openStore } from '../../src/store/store.js';

let upstream: Upstream;
let gw: CliGateway;
let api: Api;
let storeUrl: string;

const SECRET = 'gateway-secret-value-0123456789';

before(async () => {
  upstream = await startEchoUpstream();
  storeUrl = `sqlite:${join(tempDir('northgate-env-'), 'northgate.db')}`;
  gw = await startCli(['-c', writeConfig(nodeConfig(storeUrl))], { NG_TEST_GATEWAY_SECRET: SECRET, NG_TEST_UP: 'http://127.0.0.1:1' });
  api = adminClient(adminUrlOf(gw));
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

const yaml = (r: string) => api('POST', '/config', r, { 'content-type': 'application/yaml' });

test('POST /config refuses ${VAR} in every spelling, located, with what to do; the gateway environment never leaks', async () => {
  const version = (await api('GET', '/status')).json.config_version;
  const docs: Array<[string, string]> = [
    [`_format_version: "1"\nservices:\n  - name: s\n    url: \${NG_TEST_UP}\n`, 'body:4:10 services[0].url: ${NG_TEST_UP}: '],
    [`_format_version: "1"\nservices:\n  - name: s\n    url: "\${NG_TEST_UP}"\n`, 'body:4:10 services[0].url: ${NG_TEST_UP}: '],
    [`_format_version: "1"\nservices:\n  - name: s\n    url: "http://\${HOST:-127.0.0.1}:\${PORT:-80}"\n`, 'body:4:10 services[0].url: ${HOST:-127.0.0.1}, ${PORT:-80}: '],
    [`_format_version: "1"\nplugins:\n  headers: { response: { set: { x-leak: "\${NG_TEST_GATEWAY_SECRET}" } } }\n`, 'body:3:41 plugins.headers.response.set.x-leak: ${NG_TEST_GATEWAY_SECRET}: '],
    [`_format_version: "1"\nconsumers:\n  - username: eve\n    credentials: { key-auth: [{ key: "\${NG_TEST_GATEWAY_SECRET}" }] }\n`, 'body:4:38 consumers[0].credentials.key-auth[0].key: ${NG_TEST_GATEWAY_SECRET}: '],
  ];
  for (const [doc, start] of docs) {
    const r = await yaml(doc);
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.type, 'urn:northgate:problem:invalid-config');
    assert.equal(r.json.problems.length, 1, r.body);
    assert.ok(r.json.problems[0].startsWith(start), `${r.json.problems[0]}\n  should start with ${start}`);
    assert.match(r.json.problems[0], /the admin API does not resolve environment references.*envsubst.*northgate config apply --store URL -c FILE/);
    assert.ok(!r.body.includes(SECRET));
  }
  // JSON bodies too.
  const r = await api('POST', '/config', JSON.stringify({ _format_version: '1', services: [{ name: 's', url: '${NG_TEST_UP}' }] }));
  assert.equal(r.status, 400);
  assert.match(r.json.problems[0], /^body:1:\d+ services\[0\]\.url: \$\{NG_TEST_UP\}: the admin API does not resolve/);
  assert.equal((await api('GET', '/status')).json.config_version, version, 'nothing was written');
  assert.ok(!(await api('GET', '/plugins')).body.includes(SECRET));
  // "${" that is not a reference stays text, as in a file.
  const plain = await yaml(`_format_version: "1"\nservices:\n  - name: s\n    url: ${upstream.url}\n    routes: [{ name: lit, paths: ["/lit"], plugins: { headers: { response: { set: { x-t: "\${not a ref}" } } } } }]\n`);
  assert.equal(plain.status, 200, plain.body);
  assert.equal((await http(`${gw.url}/lit`)).headers['x-t'], '${not a ref}');
});

test('northgate config apply resolves ${VAR} from its environment, like the file loader; a missing one is located', async () => {
  const file = writeConfig(`_format_version: "1"
services:
  - name: applied
    url: \${APPLY_UP}
    routes: [{ name: applied-r, paths: ["/applied"], plugins: { headers: { response: { set: { x-from: "\${APPLY_TAG:-default-tag}" } } } } }]
consumers:
  - username: carol
    credentials: { key-auth: [{ key: "\${APPLY_KEY}" }] }
`, 'apply.yaml');
  const missing = await runCli(['config', 'apply', '--store', storeUrl, '-c', file], { env: { APPLY_UP: upstream.url } });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /apply\.yaml:8:38 \(root\): environment variable APPLY_KEY is not set/);
  const done = await runCli(['config', 'apply', '--store', storeUrl, '-c', file], { env: { APPLY_UP: upstream.url, APPLY_KEY: 'carol-key-12345678' } });
  assert.equal(done.code, 0, done.stderr);
  // The reload of the applied version (earlier tests' store reloads are in the log too).
  const applied = (await api('GET', '/status')).json.store_version;
  gw.child.kill('SIGHUP');
  await gw.waitFor((l) => l['type'] === 'reload' && l['trigger'] === 'store' && l['store_version'] === applied);
  const res = await http(`${gw.url}/applied`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-from'], 'default-tag');
  assert.equal((await api('GET', '/services/applied')).json.url, upstream.url);
  assert.equal((await api('GET', '/consumers/carol')).status, 200);
});

test('conflicts name the other entity: `route v1`, `key-auth credential ... of consumer carol`, not document positions', async () => {
  assert.equal((await api('POST', '/services', { name: 'conf', url: upstream.url })).status, 201);
  assert.equal((await api('POST', '/routes', { service: 'conf', name: 'conf-a', paths: ['/same'] })).status, 201);
  for (const path of ['/same', '/same/']) {
    const r = await api('POST', '/routes', { service: 'conf', name: 'conf-b', paths: [path] });
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json.problems[0].message, 'matches exactly the same requests as route conf-a; one of them could never be chosen');
    assert.doesNotMatch(r.body, /services\[\d+\]/);
  }
  // A change to one entity that clashes with another: the other is named in the detail too.
  assert.equal((await api('POST', '/routes', { service: 'conf', name: 'conf-c', paths: ['/other'] })).status, 201);
  const moved = await api('PATCH', '/routes/conf-a', { paths: ['/other'] });
  assert.equal(moved.status, 400);
  assert.doesNotMatch(moved.body, /services\[\d+\]/);
  assert.match(moved.body, /route conf-(a|c)/);

  assert.equal((await api('POST', '/consumers', { username: 'dan' })).status, 201);
  const dup = await api('POST', '/credentials', { consumer: 'dan', type: 'key-auth', key: 'carol-key-12345678' });
  assert.equal(dup.status, 400, dup.body);
  assert.match(dup.json.problems[0].message, /^duplicate key \(same as key-auth credential carol\/key-auth\/0 of consumer carol\)/);
  assert.doesNotMatch(dup.body, /consumers\[\d+\]/);
});

test('a store document that does not validate stops the start naming entities, not FILE:1:1 of a file that does not exist', async () => {
  const url = `sqlite:${join(tempDir('northgate-env-bad-'), 'northgate.db')}`;
  const store = await openStore(url);
  try {
    const now = new Date().toISOString();
    const row = (kind: 'services' | 'routes', id: string, key: string, body: Record<string, unknown>) => ({ op: 'put' as const, row: { kind, id, key, version: 1, body, tags: [], created_at: now, updated_at: now } });
    const state = await store.read();
    const v = await store.commit(state.version, [
      row('services', 's-1', 'users-svc', { name: 'users-svc', url: upstream.url }),
      row('routes', 'r-1', 'users', { service: 'users-svc', name: 'users', paths: ['/u'] }),
      row('routes', 'r-2', 'users-again', { service: 'users-svc', name: 'users-again', paths: ['/u'] }),
    ]);
    assert.notEqual(v, null);
  } finally {
    await store.close();
  }
  const r = await runCli(['start', '-c', writeConfig(nodeConfig(url), 'node.yaml')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^sqlite:.*northgate\.db: route users(-again)?: paths: matches exactly the same requests as route users(-again)?; one of them could never be chosen$/m);
  assert.doesNotMatch(r.stderr, /:1:1 |services\[\d+\]/);
});
