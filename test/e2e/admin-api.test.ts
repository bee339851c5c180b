// The admin API on a real gateway (the CLI) with a real SQLite store file: CRUD for every
// kind, validation with paths, ETags, cascades, secrets, key rotation, restart, POST /config,
// auth, limits, file mode, and the OpenAPI document against the router and the responses.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv } from 'ajv';
import { buildRoutes } from '../../src/admin/routes.js';
import { ADMIN_TOKEN, adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { http, runCli, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

let upstream: Upstream;
let dir: string;
let storeUrl: string;
let nodeFile: string;
let gw: CliGateway;
let api: Api;

before(async () => {
  upstream = await startEchoUpstream();
  dir = tempDir('northgate-admin-');
  storeUrl = `sqlite:${join(dir, 'northgate.db')}`;
  nodeFile = writeConfig(nodeConfig(storeUrl));
  gw = await startCli(['-c', nodeFile]);
  api = adminClient(adminUrlOf(gw));
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

test('every request needs the bearer token: 401 problem+json without it or with a wrong one', async () => {
  for (const token of [null, 'wrong-token-wrong-token']) {
    const r = await adminClient(adminUrlOf(gw), token)('GET', '/status');
    assert.equal(r.status, 401);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.json.type, 'urn:northgate:problem:unauthorized');
    assert.match(String(r.headers['www-authenticate']), /^Bearer/);
  }
});

test('CRUD for every kind; the gateway serves what the API wrote, at once', async () => {
  let r = await api('POST', '/upstreams', { name: 'echo-up', tags: ['team-a'], targets: 'none' });
  assert.equal(r.status, 400);
  assert.equal(r.json.problems[0].path, 'targets');
  r = await api('POST', '/services', { name: 'svc', url: upstream.url, routes: [] });
  assert.deepEqual(r.json.problems, [{ path: 'routes', message: 'routes are entities of their own: use /routes' }]);

  // A service on a URL first, then the upstream with its target once the target can exist.
  r = await api('POST', '/services', { name: 'svc', url: upstream.url, tags: ['team-a'] });
  assert.equal(r.status, 201);
  assert.equal(r.headers['etag'], '"1"');
  assert.match(String(r.headers['location']), /^\/services\//);
  const svcId = r.json.id;

  r = await api('POST', '/routes', { service: 'svc', name: 'r1', paths: ['/crud'] });
  assert.equal(r.status, 201);
  let res = await http(`${gw.url}/crud/x`);
  assert.equal(res.status, 200, 'the route serves as soon as the POST answered');
  assert.equal(JSON.parse(res.body).url, '/crud/x');

  r = await api('GET', '/routes/r1');
  assert.equal(r.status, 200);
  assert.equal(r.json.name, 'r1');
  r = await api('PATCH', '/routes/r1', { strip_path: true });
  assert.equal(r.status, 200);
  assert.equal(r.json.version, 2);
  res = await http(`${gw.url}/crud/x`);
  assert.equal(JSON.parse(res.body).url, '/x');

  r = await api('PUT', `/services/${svcId}`, { name: 'svc', url: `${upstream.url}/base`, tags: ['team-a'] });
  assert.equal(r.status, 200);
  res = await http(`${gw.url}/crud/x`);
  assert.equal(JSON.parse(res.body).url, '/base/x');

  // Plugins at each scope.
  r = await api('POST', '/plugins', { name: 'headers', config: { response: { set: { 'x-global': 'g' } } } });
  assert.equal(r.status, 201);
  assert.equal(r.json.scope, 'global');
  const globalId = r.json.id;
  r = await api('POST', '/plugins', { name: 'headers', service: 'svc', config: { response: { set: { 'x-scope': 'service' } } } });
  assert.equal(r.status, 201);
  r = await api('POST', '/plugins', { name: 'headers', route: 'r1', config: { response: { set: { 'x-scope': 'route' } } } });
  assert.equal(r.status, 201);
  assert.equal(r.json.scope, 'route');
  res = await http(`${gw.url}/crud/x`);
  assert.equal(res.headers['x-scope'], 'route', 'the route scope wins');
  r = await api('GET', '/plugins?scope=service');
  assert.equal(r.json.total, 1);
  r = await api('DELETE', `/plugins/${globalId}`);
  assert.equal(r.status, 204);

  // Upstream and targets.
  r = await api('POST', '/targets', { upstream: 'nope', url: upstream.url });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json.problems, [{ path: 'upstream', message: 'no upstream named "nope"' }]);

  // Consumers and credentials; plans are a kind too (their schema comes with the limits issue).
  r = await api('POST', '/consumers', { username: 'carol', groups: ['g1'] });
  assert.equal(r.status, 201);
  r = await api('POST', '/credentials', { consumer: 'carol', type: 'basic-auth', username: 'carol', password: 'pa55word' });
  assert.equal(r.status, 201);
  assert.equal(r.json.password, undefined);
  assert.equal(r.json.password_hash, undefined);
  assert.equal(r.json.password_set, true);
  r = await api('GET', '/credentials?consumer=carol&type=basic-auth');
  assert.equal(r.json.total, 1);
  assert.ok(!JSON.stringify(r.json).includes('pa55word'));
  assert.ok(!JSON.stringify(r.json).includes('scrypt:'));

  r = await api('GET', '/services?tag=team-a');
  assert.equal(r.json.total, 1);
  r = await api('DELETE', '/routes/r1');
  assert.equal(r.status, 409, 'its route plugin still uses it');
  assert.match(r.json.detail, /used by 1 plugin/);
  r = await api('DELETE', '/routes/r1?cascade=true');
  assert.equal(r.status, 204);
  res = await http(`${gw.url}/crud/x`);
  assert.equal(res.status, 404);
  r = await api('GET', '/routes/r1');
  assert.equal(r.status, 404);
  assert.equal(r.json.type, 'urn:northgate:problem:entity-not-found');
});

test('upstreams take their first targets inline; targets are entities of their own', async () => {
  let r = await api('POST', '/services', { name: 'lb', upstream: 'pool-a' });
  assert.equal(r.status, 400);
  assert.match(r.json.problems[0].message, /no upstream named "pool-a"/);
  r = await api('POST', '/upstreams', { name: 'pool-a', targets: [{ url: 'http://127.0.0.1:1/x' }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.problems[0].path, 'url');
  assert.match(r.json.problems[0].entity, /^targets\//);
  assert.match(r.json.problems[0].message, /a target is an origin/);
  r = await api('POST', '/upstreams', { name: 'pool-a', targets: [{ url: upstream.url }] });
  assert.equal(r.status, 201);
  assert.equal(r.json.targets, undefined);
  r = await api('GET', '/targets?upstream=pool-a');
  assert.equal(r.json.total, 1);
  const first = r.json.data[0].id;
  r = await api('POST', '/targets', { upstream: 'pool-a', url: 'http://127.0.0.1:1', weight: 0 });
  assert.equal(r.status, 400);
  assert.equal(r.json.problems[0].path, 'weight');
  r = await api('POST', '/services', { name: 'lb', upstream: 'pool-a' });
  assert.equal(r.status, 201);
  await api('POST', '/routes', { service: 'lb', name: 'lb-r', paths: ['/lb'] });
  assert.equal((await http(`${gw.url}/lb`)).status, 200);
  r = await api('DELETE', `/targets/${first}`);
  assert.equal(r.status, 204, 'the last target may go: an upstream without targets is valid, as in the file');
  const empty = await http(`${gw.url}/lb`);
  assert.equal(empty.status, 503, 'and answers 503 while it has none');
  assert.equal(JSON.parse(empty.body).type, 'urn:northgate:problem:upstream-unhealthy');
  r = await api('POST', '/targets', { upstream: 'pool-a', url: upstream.url });
  assert.equal(r.status, 201);
  assert.equal((await http(`${gw.url}/lb`)).status, 200, 'a target added again serves at once');
  r = await api('DELETE', '/upstreams/pool-a');
  assert.equal(r.status, 409);
  r = await api('DELETE', '/upstreams/pool-a?cascade=true');
  assert.equal(r.status, 204);
  assert.equal((await http(`${gw.url}/lb`)).status, 404);
  assert.equal((await api('GET', '/targets?upstream=pool-a')).json.total, 0);
});

test('validation errors carry the file messages with entity paths; other entities are named', async () => {
  let r = await api('POST', '/services', { name: 'v', url: upstream.url, timeouts: { connect: 'soon' }, retriez: {} });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'urn:northgate:problem:invalid-entity');
  const byPath = Object.fromEntries(r.json.problems.map((p: { path: string; message: string }) => [p.path, p.message]));
  assert.equal(byPath['timeouts.connect'], 'must be a duration such as 250ms, 2s, 1m');
  assert.match(byPath['retriez'], /^unknown field "retriez" \(did you mean "retries"\?\); a service has: name, upstream, url, .*, tags$/);

  r = await api('POST', '/services', { name: 'v', url: upstream.url });
  assert.equal(r.status, 201);
  r = await api('POST', '/routes', { service: 'v', name: 'v1', paths: ['/same'] });
  assert.equal(r.status, 201);
  r = await api('POST', '/routes', { service: 'v', name: 'v2', paths: ['/same'] });
  assert.equal(r.status, 400);
  assert.match(r.json.problems[0].message, /matches exactly the same requests/);
  r = await api('POST', '/routes', { service: 'v', name: 'v1', paths: ['/other'] });
  assert.equal(r.status, 409, 'a taken name is a conflict');
  r = await api('POST', '/plugins', { name: 'headerz', route: 'v1' });
  assert.equal(r.status, 400);
  assert.deepEqual({ ...r.json.problems[0], message: r.json.problems[0].message.replace(/; the plugins are: .*$/, '') }, { path: 'name', message: 'unknown plugin "headerz" (did you mean "headers"?)' });
  r = await api('POST', '/plugins', { name: 'headers', route: 'v1', config: { response: { set: 5 } } });
  assert.equal(r.status, 400);
  assert.equal(r.json.problems[0].path, 'config.response.set');
});

test('optimistic concurrency: ETag on GET, If-Match on writes, 412 on a stale version', async () => {
  let r = await api('POST', '/consumers', { username: 'etag-user' });
  const etag = String(r.headers['etag']);
  r = await api('PATCH', '/consumers/etag-user', { groups: ['a'] }, { 'if-match': etag });
  assert.equal(r.status, 200);
  const fresh = String(r.headers['etag']);
  assert.notEqual(fresh, etag);
  r = await api('PATCH', '/consumers/etag-user', { groups: ['b'] }, { 'if-match': etag });
  assert.equal(r.status, 412);
  assert.equal(r.json.type, 'urn:northgate:problem:precondition-failed');
  r = await api('DELETE', '/consumers/etag-user', undefined, { 'if-match': etag });
  assert.equal(r.status, 412);
  r = await api('GET', '/consumers/etag-user');
  assert.deepEqual(r.json.groups, ['a'], 'the stale writes changed nothing');
  assert.equal(r.headers['etag'], fresh);
  r = await api('DELETE', '/consumers/etag-user', undefined, { 'if-match': fresh });
  assert.equal(r.status, 204);
});

test('referential integrity: 409 while routes use a service, ?cascade=true deletes them too', async () => {
  await api('POST', '/services', { name: 'casc', url: upstream.url });
  await api('POST', '/routes', { service: 'casc', name: 'casc-r', paths: ['/casc'] });
  await api('POST', '/plugins', { name: 'headers', route: 'casc-r', config: {} });
  let r = await api('DELETE', '/services/casc');
  assert.equal(r.status, 409);
  assert.match(r.json.detail, /used by 1 route.*cascade=true/);
  assert.equal((await http(`${gw.url}/casc`)).status, 200);
  r = await api('DELETE', '/services/casc?cascade=true');
  assert.equal(r.status, 204);
  assert.equal((await api('GET', '/routes/casc-r')).status, 404);
  assert.equal((await api('GET', '/plugins?route=casc-r')).json.total, 0);
  assert.equal((await http(`${gw.url}/casc`)).status, 404);
});

test('a renamed service takes its routes along', async () => {
  await api('POST', '/services', { name: 'old-name', url: upstream.url });
  await api('POST', '/routes', { service: 'old-name', name: 'ren-r', paths: ['/ren'] });
  const r = await api('PATCH', '/services/old-name', { name: 'new-name' });
  assert.equal(r.status, 200);
  assert.equal((await api('GET', '/routes/ren-r')).json.service, 'new-name');
  assert.equal((await http(`${gw.url}/ren`)).status, 200);
});

test('a key rotated through the API works at once and the old key stops; keys are never shown', async () => {
  await api('POST', '/services', { name: 'keyed', url: upstream.url });
  await api('POST', '/routes', { service: 'keyed', name: 'keyed-r', paths: ['/keyed'] });
  assert.equal((await api('POST', '/plugins', { name: 'key-auth', route: 'keyed-r' })).status, 201);
  await api('POST', '/consumers', { username: 'dave' });
  let r = await api('POST', '/credentials', { consumer: 'dave', type: 'key-auth', key: 'first-key-123456' });
  assert.equal(r.status, 201);
  const credId = r.json.id;
  assert.equal(r.json.key, undefined);
  assert.equal(r.json.key_digest, undefined);
  assert.equal(r.json.key_prefix, 'firs');
  assert.match(r.json.key_hash, /^[0-9a-f]{12}$/);
  assert.equal((await http(`${gw.url}/keyed`, { headers: { apikey: 'first-key-123456' } })).status, 200);

  r = await api('PATCH', `/credentials/${credId}`, { key: 'second-key-654321' });
  assert.equal(r.status, 200);
  assert.equal((await http(`${gw.url}/keyed`, { headers: { apikey: 'second-key-654321' } })).status, 200);
  assert.equal((await http(`${gw.url}/keyed`, { headers: { apikey: 'first-key-123456' } })).status, 401);
  const all = await api('GET', '/credentials');
  assert.ok(!all.body.includes('second-key') && !all.body.includes('sha256:'));
});

test('plans are entities: a consumer joins one through the API and gets its limits at once', async () => {
  await api('POST', '/services', { name: 'tiered', url: upstream.url });
  await api('POST', '/routes', { service: 'tiered', name: 'tiered-r', paths: ['/tiered'] });
  assert.equal((await api('POST', '/plugins', { name: 'key-auth', route: 'tiered-r' })).status, 201);
  let r = await api('POST', '/plans', { name: 'bronze', rate_limit: { limits: [{ per: '1h', max: 2 }] } });
  assert.equal(r.status, 201, r.body);
  const planId = r.json.id;
  r = await api('POST', '/consumers', { username: 'erin', plan: 'bronzze' });
  assert.equal(r.status, 400, 'an unknown plan is refused with the config file message');
  assert.match(JSON.stringify(r.json.problems), /did you mean \\"bronze\\"/);
  assert.equal((await api('POST', '/consumers', { username: 'erin', plan: 'bronze' })).status, 201);
  assert.equal((await api('POST', '/credentials', { consumer: 'erin', type: 'key-auth', key: 'erin-key-12345678' })).status, 201);
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await http(`${gw.url}/tiered`, { headers: { apikey: 'erin-key-12345678' } })).status);
  assert.deepEqual(statuses, [200, 200, 429], "the plan's limit of 2 per hour holds");
  r = await api('GET', `/plans/${planId}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.rate_limit, { limits: [{ per: '1h', max: 2 }] });
  assert.equal((await api('DELETE', `/plans/${planId}`)).status, 409, 'a plan used by a consumer is not deleted without cascade');
});

test('POST /config replaces everything atomically; errors carry line:col; nothing changes on error', async () => {
  const version = (await api('GET', '/status')).json.config_version;
  let r = await api('POST', '/config', `_format_version: "1"\nservices:\n  - name: doc\n    url: ${upstream.url}\n    routes:\n      - paths: ["/doc"]\n        methodz: [GET]\n`, { 'content-type': 'application/yaml' });
  assert.equal(r.status, 400);
  assert.equal(r.json.type, 'urn:northgate:problem:invalid-config');
  assert.deepEqual(r.json.problems, ['body:7:9 services[0].routes[0].methodz: unknown key "methodz" (did you mean "methods"?)']);
  assert.equal((await api('GET', '/status')).json.config_version, version);

  r = await api('POST', '/config', 'a: [', { 'content-type': 'application/yaml' });
  assert.equal(r.status, 400);
  assert.match(r.json.problems[0], /^body:\d+:\d+ /);

  const doc = `_format_version: "1"
listen: { proxy: "0.0.0.0:1" }
upstreams:
  - name: pool
    targets: [{ url: "${upstream.url}" }]
services:
  - name: doc
    upstream: pool
    routes:
      - name: doc-r
        paths: ["/doc"]
consumers:
  - username: erin
    credentials:
      key-auth: [{ key: "erin-key-0000000" }]
`;
  r = await api('POST', '/config', doc, { 'content-type': 'application/yaml' });
  assert.equal(r.status, 200, r.body);
  assert.ok(r.json.deleted.includes('services/svc'));
  assert.deepEqual(r.json.warnings, ['"listen" is a node setting (from the node\'s config file), not stored: ignored']);
  assert.equal((await http(`${gw.url}/doc`)).status, 200);
  assert.equal((await http(`${gw.url}/crud`)).status, 404);
  const counts = (await api('GET', '/status')).json.entities;
  assert.deepEqual(counts, { upstreams: 1, targets: 1, services: 1, routes: 1, consumers: 1, credentials: 1, plugins: 0, plans: 0 });
  // The same document again changes nothing.
  r = await api('POST', '/config', doc, { 'content-type': 'application/yaml' });
  assert.deepEqual([r.json.created, r.json.changed, r.json.deleted], [[], [], []]);

  // Targets and upstreams through the entity API now that an upstream exists.
  r = await api('POST', '/targets', { upstream: 'pool', url: 'http://127.0.0.1:1', weight: 2 });
  assert.equal(r.status, 201);
  r = await api('DELETE', `/targets/${r.json.id}`);
  assert.equal(r.status, 204);
  r = await api('DELETE', '/upstreams/pool');
  assert.equal(r.status, 409);
});

test('pagination: limit and a cursor walk every entity once', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await api('POST', '/consumers', { username: `page-${i}` })).status, 201);
  const seen: string[] = [];
  let path: string | null = '/consumers?limit=2';
  for (let i = 0; i < 20 && path !== null; i++) {
    const r: Awaited<ReturnType<Api>> = await api('GET', path);
    assert.equal(r.status, 200);
    assert.ok(r.json.data.length <= 2);
    seen.push(...r.json.data.map((c: { username: string }) => c.username));
    path = r.json.next;
  }
  const total = (await api('GET', '/consumers')).json.total;
  assert.equal(seen.length, total);
  assert.equal(new Set(seen).size, total);
  assert.equal((await api('GET', '/consumers?limit=0')).status, 400);
  assert.equal((await api('GET', '/consumers?bogus=1')).status, 400);
  assert.equal((await api('GET', '/consumers?username=page-3')).json.total, 1);
});

test('bad bodies: invalid JSON and oversized bodies are 400 / 413 problems; unknown paths 404, wrong methods 405', async () => {
  let r = await api('POST', '/services', '{"name": ');
  assert.equal(r.status, 400);
  assert.match(r.json.detail, /not valid JSON/);
  r = await api('POST', '/services', '[]');
  assert.equal(r.status, 400);
  r = await api('POST', '/services', JSON.stringify({ name: 'big', url: upstream.url, pad: 'x'.repeat(2 * 1024 * 1024) }));
  assert.equal(r.status, 413);
  assert.equal(r.json.type, 'urn:northgate:problem:body-too-large');
  r = await api('GET', '/nothing-here');
  assert.equal(r.status, 404);
  r = await api('DELETE', '/services');
  assert.equal(r.status, 405);
  assert.match(String(r.headers['allow']), /GET, POST/);
});

test('the OpenAPI document lists every route of the router and nothing else; responses match its schemas', async () => {
  const r = await api('GET', '/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.json;
  assert.equal(doc.openapi, '3.1.0');
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
  const routed = new Set(buildRoutes(() => null).map((rt) => `${rt.method} ${rt.path}`));
  assert.deepEqual([...routed].filter((x) => !documented.has(x)), [], 'routes missing from the document');
  assert.deepEqual([...documented].filter((x) => !routed.has(x)), [], 'documented paths the router does not have');

  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'admin', components: doc.components });
  const check = (schema: string, value: unknown) => {
    const v = ajv.compile({ $ref: `admin#/components/schemas/${schema}` });
    assert.ok(v(value), `${schema}: ${JSON.stringify(v.errors)}`);
  };
  check('Status', (await api('GET', '/status')).json);
  check('ConsumerList', (await api('GET', '/consumers')).json);
  check('CredentialList', (await api('GET', '/credentials')).json);
  check('ServiceList', (await api('GET', '/services')).json);
  check('Service', (await api('GET', '/services/doc')).json);
  check('Problem', (await api('GET', '/services/none')).json);
  check('Problem', (await api('POST', '/services', { name: 1 })).json);
  // And the schemas are strict enough to fail: a credential carrying its key does not pass.
  const v = ajv.compile({ $ref: 'admin#/components/schemas/Credential' });
  assert.equal(v({ id: 'x', consumer: 'c', type: 'key-auth', key: 'plain', tags: [], version: 1, created_at: '', updated_at: '' }), false);
});

test('restart keeps everything; the config CLI dumps it without secrets and a dump applies as no change', async () => {
  const beforeStatus = (await api('GET', '/status')).json;
  await gw.stop();
  gw = await startCli(['-c', nodeFile]);
  api = adminClient(adminUrlOf(gw));
  const afterStatus = (await api('GET', '/status')).json;
  assert.deepEqual(afterStatus.entities, beforeStatus.entities);
  assert.equal(afterStatus.config_version, beforeStatus.config_version);
  assert.equal((await http(`${gw.url}/doc`)).status, 200);
  assert.equal((await http(`${gw.url}/keyed`)).status, 404, 'replaced by POST /config earlier');

  const dump = await runCli(['config', 'dump', '--store', storeUrl]);
  assert.equal(dump.code, 0, dump.stderr);
  assert.ok(!dump.stdout.includes('erin-key-0000000'), 'no plaintext key in a dump');
  assert.match(dump.stdout, /key_digest: sha256:/);
  const file = join(dir, 'dump.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, dump.stdout);
  const diff = await runCli(['config', 'diff', '--store', storeUrl, '-c', file]);
  assert.equal(diff.code, 0, diff.stdout + diff.stderr);
  assert.equal(diff.stdout, 'no changes\n');
  const apply = await runCli(['config', 'apply', '--store', storeUrl, '-c', file]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /^no changes\n/);
  assert.equal((await api('GET', '/status')).json.config_version, afterStatus.config_version, 'the store version did not move');
  // The dumped digest still authenticates: apply a config that uses it on a route.
  writeFileSync(file, dump.stdout.replace('        paths:', '        plugins: { key-auth: {} }\n        paths:'));
  const changed = await runCli(['config', 'diff', '--store', storeUrl, '-c', file]);
  assert.equal(changed.code, 1);
  assert.match(changed.stdout, /\+ plugins\/route:doc-r\/key-auth/);
  assert.equal((await runCli(['config', 'apply', '--store', storeUrl, '-c', file])).code, 0);
  // The running gateway polls the SQLite store (poll_interval 5s): a SIGHUP syncs at once.
  gw.child.kill('SIGHUP');
  await gw.waitFor((l) => l['type'] === 'reload' && l['trigger'] === 'store');
  assert.equal((await http(`${gw.url}/doc`)).status, 401);
  assert.equal((await http(`${gw.url}/doc`, { headers: { apikey: 'erin-key-0000000' } })).status, 200);
});

test('mode: file serves the file read-only: GETs work, writes are 405 with a hint', async () => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
admin: { token: "${ADMIN_TOKEN}" }
services:
  - name: filed
    url: ${upstream.url}
    routes: [{ paths: ["/f"] }]
consumers:
  - username: frank
    credentials: { key-auth: [{ key: "frank-key-123456" }] }
`);
  const fgw = await startCli(['-c', file]);
  try {
    const fapi = adminClient(adminUrlOf(fgw));
    let r = await fapi('GET', '/services/filed');
    assert.equal(r.status, 200);
    assert.equal(r.json.url, upstream.url);
    r = await fapi('GET', '/routes/filed-0');
    assert.equal(r.status, 200);
    r = await fapi('GET', '/credentials');
    assert.equal(r.json.data[0].key_prefix, 'fran');
    assert.ok(!r.body.includes('frank-key-123456'));
    r = await fapi('POST', '/services', { name: 'x', url: upstream.url });
    assert.equal(r.status, 405);
    assert.equal(r.json.type, 'urn:northgate:problem:method-not-allowed');
    assert.match(r.json.detail, /mode: file.*read-only.*mode: database/);
    assert.equal((await fapi('GET', '/status')).json.mode, 'file');
  } finally {
    await fgw.stop();
  }
});

test('refuses to start when the admin API would listen beyond loopback without a token', async () => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "0.0.0.0:0" }
`);
  const r = await runCli(['start', '-c', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /admin API would listen on 0\.0\.0\.0, beyond loopback, without a token: set admin\.token/);
});

test('mode: database rejects entity sections in the node file, located', async () => {
  const file = writeConfig(nodeConfig(`sqlite:${join(tempDir(), 'x.db')}`, 'services: []\n'));
  const r = await runCli(['start', '-c', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:7:1 services: with mode: database, services live in the store/);
});

