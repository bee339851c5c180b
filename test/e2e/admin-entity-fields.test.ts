// Admin API bodies with fields an entity does not have are refused with 400, naming the
// field and the fields the entity has, for every kind and for POST, PUT and PATCH; nothing
// is written. The case that matters most: a plugin whose "service" is misspelt used to be
// stored as a global plugin, so one typo in a request-termination took every route down.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { http, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

let upstream: Upstream;
let gw: CliGateway;
let api: Api;

before(async () => {
  upstream = await startEchoUpstream();
  gw = await startCli(['-c', writeConfig(nodeConfig(`sqlite:${join(tempDir('northgate-fields-'), 'northgate.db')}`))]);
  api = adminClient(adminUrlOf(gw));
  const setup: Array<[string, unknown]> = [
    ['/services', { name: 'orders', url: upstream.url }],
    ['/routes', { service: 'orders', name: 'orders-r', paths: ['/orders'] }],
    ['/services', { name: 'users', url: upstream.url }],
    ['/routes', { service: 'users', name: 'users-r', paths: ['/users'] }],
    ['/upstreams', { name: 'pool', targets: [{ url: upstream.url }] }],
    ['/plans', { name: 'gold', rate_limit: { limits: [{ per: '1m', max: 100 }] } }],
    ['/consumers', { username: 'alice' }],
    ['/credentials', { consumer: 'alice', type: 'key-auth', key: 'alice-key-12345678', id: 'alice-key' }],
    ['/plugins', { name: 'headers', route: 'users-r', config: { response: { set: { 'x-a': 'a' } } } }],
  ];
  for (const [path, body] of setup) {
    const r = await api('POST', path, body);
    assert.equal(r.status, 201, `${path}: ${r.body}`);
  }
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

const versionOf = async (): Promise<number> => (await api('GET', '/status')).json.config_version;

function assertUnknown(r: { status: number; json: any; body: string }, field: string, pattern: RegExp, what: string): void {
  assert.equal(r.status, 400, `${what}: ${r.body}`);
  assert.equal(r.json.type, 'urn:northgate:problem:invalid-entity', what);
  const p = r.json.problems.find((x: { path: string }) => x.path === field);
  assert.ok(p, `${what}: no problem at ${field}: ${r.body}`);
  assert.match(p.message, pattern, what);
}

test('a misspelt plugin scope is refused, not stored as a global plugin: every route keeps serving', async () => {
  const version = await versionOf();
  const attempts: Array<[string, Record<string, unknown>]> = [
    ['servce', { name: 'request-termination', servce: 'orders', config: { status: 503 } }],
    ['Service', { name: 'request-termination', Service: 'orders', config: { status: 503 } }],
    ['service_id', { name: 'request-termination', service_id: 'orders', config: { status: 503 } }],
    ['routes', { name: 'request-termination', routes: ['orders-r'], config: { status: 503 } }],
    ['route_name', { name: 'request-termination', route_name: 'orders-r', config: { status: 503 } }],
    ['configuration', { name: 'request-termination', service: 'orders', configuration: { status: 503 } }],
  ];
  for (const [field, body] of attempts) {
    const r = await api('POST', '/plugins', body);
    assertUnknown(r, field, new RegExp(`^unknown field "${field}".*; a plugin has: name, config, service, route, tags$`), field);
  }
  assert.match((await api('POST', '/plugins', attempts[0]![1])).json.problems[0].message, /did you mean "service"\?/);
  assert.equal(await versionOf(), version, 'nothing was written');
  assert.equal((await api('GET', '/plugins?name=request-termination')).json.total, 0);
  assert.equal((await http(`${gw.url}/users`)).status, 200, 'the other service still serves');
  assert.equal((await http(`${gw.url}/orders`)).status, 200);
});

test('a Kong-style per-consumer plugin is refused with how Northgate does it (plans)', async () => {
  for (const body of [
    { name: 'rate-limit', consumer: 'alice', config: { limits: [{ per: '1m', max: 1 }] } },
    { name: 'rate-limit', service: 'orders', consumer: 'alice', config: { limits: [{ per: '1m', max: 1 }] } },
    { name: 'rate-limit', consumer: { id: 'alice' }, config: {} },
  ]) {
    const r = await api('POST', '/plugins', body);
    assertUnknown(r, 'consumer', /per-consumer limits are plans .*POST \/plans.*PATCH \/consumers\/NAME \{"plan": "gold"\}/, JSON.stringify(body));
  }
  assertUnknown(await api('POST', '/plugins', { name: 'cors', service: 'orders', enabled: false }), 'enabled', /DELETE it to turn it off/, 'enabled');
  assert.equal((await api('GET', '/plugins?name=rate-limit')).json.total, 0);
});

test('PUT and PATCH bodies are checked the same way; a GET body can be PUT back as it is', async () => {
  const plugin = (await api('GET', '/plugins?route=users-r')).json.data[0];
  assertUnknown(await api('PATCH', `/plugins/${plugin.id}`, { servce: 'orders' }), 'servce', /did you mean "service"/, 'PATCH plugin');
  assertUnknown(await api('PUT', `/plugins/${plugin.id}`, { name: 'headers', rout: 'users-r', config: {} }), 'rout', /did you mean "route"/, 'PUT plugin');
  assertUnknown(await api('PATCH', '/services/orders', { retriez: { attempts: 2 } }), 'retriez', /did you mean "retries".*; a service has: name, upstream, url, .*tags$/, 'PATCH service');
  assertUnknown(await api('PATCH', '/routes/orders-r', { path: ['/x'] }), 'path', /did you mean "paths"/, 'PATCH route');
  assertUnknown(await api('PATCH', '/consumers/alice', { custom_id: 'x' }), 'custom_id', /; a consumer has: username, id, groups, plan, tags$/, 'PATCH consumer');
  assertUnknown(await api('PATCH', '/credentials/alice-key', { password: 'x' }), 'password', /; a key-auth credential has: consumer, type, id, key, key_digest, key_prefix, tags$/, 'PATCH credential');
  assertUnknown(await api('PATCH', '/plans/gold', { rate_limits: {} }), 'rate_limits', /did you mean "rate_limit"/, 'PATCH plan');
  assertUnknown(await api('PATCH', '/upstreams/pool', { balancing: 'random' }), 'balancing', /; an upstream has: name, balancer, /, 'PATCH upstream');
  const target = (await api('GET', '/targets?upstream=pool')).json.data[0];
  assertUnknown(await api('PATCH', `/targets/${target.id}`, { wieght: 2 }), 'wieght', /did you mean "weight"/, 'PATCH target');
  // What a GET shows (id, scope, version, timestamps) goes back unchanged.
  for (const path of [`/plugins/${plugin.id}`, '/services/orders', '/consumers/alice', '/plans/gold', '/upstreams/pool']) {
    const got = (await api('GET', path)).json;
    const r = await api('PUT', path, got);
    assert.equal(r.status, 200, `${path}: ${r.body}`);
  }
});

test('every kind refuses an unknown field on create, and names what it has', async () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['/services', { name: 's2', url: upstream.url, host: 'orders.internal' }, 'host', /"url" \(http:\/\/host:port\/path\) or "upstream"/],
    ['/services', { name: 's2', url: upstream.url, retries: { attempts: 2 }, timeout: '1s' }, 'timeout', /did you mean "timeouts"/],
    ['/routes', { service: 'orders', name: 'r2', paths: ['/r2'], method: ['GET'] }, 'method', /did you mean "methods"/],
    ['/upstreams', { name: 'p2', targets: [{ url: upstream.url }], algorithm: 'random' }, 'algorithm', /an upstream has: name, balancer/],
    ['/targets', { upstream: 'pool', url: 'http://127.0.0.1:1', weigth: 3 }, 'weigth', /did you mean "weight"/],
    ['/consumers', { username: 'bob', group: ['a'] }, 'group', /did you mean "groups"/],
    ['/credentials', { consumer: 'alice', type: 'basic-auth', username: 'al', pasword: 'secret-123' }, 'pasword', /did you mean "password".*basic-auth credential has: consumer, type, id, username, password, password_hash, tags$/],
    ['/credentials', { consumer: 'alice', type: 'jwt', algorithm: 'HS256', secret: 's', kid: 'k' }, 'kid', /jwt credential has: .*key_id/],
    ['/plans', { name: 'silver', quotas: {} }, 'quotas', /did you mean "quota"/],
  ];
  const version = await versionOf();
  for (const [path, body, field, pattern] of cases) assertUnknown(await api('POST', path, body), field, pattern, `${path} ${field}`);
  assert.equal(await versionOf(), version, 'nothing was written');
  // Several problems at once: an unknown field does not hide the others.
  const r = await api('POST', '/services', { name: 'v', url: upstream.url, timeouts: { connect: 'soon' }, retriez: {} });
  const paths = r.json.problems.map((p: { path: string }) => p.path).sort();
  assert.deepEqual(paths, ['retriez', 'timeouts.connect']);
});

test('nested objects: unknown keys inside an entity or a plugin config are refused with their path', async () => {
  assertUnknown(await api('POST', '/services', { name: 's3', url: upstream.url, retries: { attemps: 2 } }), 'retries.attemps', /unknown key "attemps" \(did you mean "attempts"\?\)/, 'retries');
  assertUnknown(await api('POST', '/routes', { service: 'orders', name: 'r3', paths: ['/r3'], timeouts: { reed: '1s' } }), 'timeouts.reed', /did you mean "read"/, 'route timeouts');
  assertUnknown(await api('POST', '/plugins', { name: 'headers', route: 'orders-r', config: { responze: {} } }), 'config.responze', /did you mean "response"/, 'plugin config');
  assertUnknown(await api('POST', '/plans', { name: 'p3', rate_limit: { limits: [{ per: '1m', max: 1, burst: 2 }] } }), 'rate_limit.limits[0].burst', /unknown key "burst"/, 'plan limit');
  const inline = await api('POST', '/upstreams', { name: 'p4', targets: [{ url: upstream.url, wieght: 1 }] });
  assertUnknown(inline, 'wieght', /did you mean "weight".*; a target has: url, weight, srv, scheme, upstream, tags$/, 'inline target');
  assert.match(inline.json.problems[0].entity, /^targets\//);
});
