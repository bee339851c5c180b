// Two gateway nodes (the real CLI) on one real PostgreSQL: a change made through node A's
// admin API serves on node B (two workers, relayed by its master) within 1 s, by
// LISTEN/NOTIFY (the version poll is set to 5 s, so it cannot be what delivers it); changes
// under continuous load drop no request; both nodes see each other in /status.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { http, runCli, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';

const skip = await postgresSkipReason();
const schema = `ng_cluster_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const storeUrl = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;

let upstream: Upstream;
let a: CliGateway;
let b: CliGateway;
let apiA: Api;
let apiB: Api;

before(async () => {
  if (skip !== undefined) return;
  upstream = await startEchoUpstream();
  const file = writeConfig(nodeConfig(storeUrl));
  a = await startCli(['-c', file]);
  b = await startCli(['-c', file, '--workers', '2']);
  apiA = adminClient(adminUrlOf(a));
  apiB = adminClient(adminUrlOf(b));
});

after(async () => {
  if (skip !== undefined) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await upstream?.close();
  const c = new pg.Client(DATABASE_URL);
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

test('a route created through node A serves on node B within 1 s', { skip }, async () => {
  let r = await apiA('POST', '/services', { name: 'svc', url: upstream.url });
  assert.equal(r.status, 201, r.body);
  r = await apiA('POST', '/routes', { service: 'svc', name: 'fresh', paths: ['/fresh'] });
  assert.equal(r.status, 201, r.body);
  const created = performance.now();
  assert.equal((await http(`${a.url}/fresh`)).status, 200, 'node A serves it when the POST answers');
  let status = 0;
  let elapsed = 0;
  for (let i = 0; i < 500 && status !== 200; i++) {
    status = (await http(`${b.url}/fresh`)).status;
    elapsed = performance.now() - created;
    if (elapsed > 3000) break;
  }
  assert.equal(status, 200, 'node B serves the route');
  assert.ok(elapsed < 1000, `node B served it after ${Math.round(elapsed)} ms`);
  // And B's admin API reads the same entity.
  assert.equal((await apiB('GET', '/routes/fresh')).json.service, 'svc');
});

test('both nodes heartbeat into the store and see each other', { skip }, async () => {
  const s = (await apiA('GET', '/status')).json;
  assert.equal(s.mode, 'database');
  assert.match(s.store, /schema ng_cluster_/);
  assert.ok(!String(s.store).includes('password'));
  const ids = s.peers.map((p: { id: string }) => p.id);
  assert.ok(ids.includes(s.node_id));
  assert.ok(ids.includes((await apiB('GET', '/status')).json.node_id));
});

test('changes through both nodes under continuous load drop no request', { skip }, async () => {
  assert.equal((await apiA('POST', '/routes', { service: 'svc', name: 'steady', paths: ['/steady'] })).status, 201);
  // Wait (bounded) until B serves /steady before the load starts.
  for (let i = 0; i < 200 && (await http(`${b.url}/steady`)).status !== 200; i++);
  let stop = false;
  const failures: string[] = [];
  let served = 0;
  const worker = async (url: string) => {
    for (let i = 0; i < 3000 && !stop; i++) {
      const res = await http(`${url}/steady/${i}`);
      served++;
      if (res.status !== 200) failures.push(`${url}: ${res.status} ${res.body.slice(0, 200)}`);
    }
  };
  const load = Promise.all([worker(a.url), worker(a.url), worker(b.url), worker(b.url)]);
  for (let i = 0; i < 8; i++) {
    const api = i % 2 === 0 ? apiA : apiB;
    assert.equal((await api('POST', '/routes', { service: 'svc', name: `extra-${i}`, paths: [`/extra-${i}`] })).status, 201);
    assert.equal((await api('PATCH', '/routes/steady', { preserve_host: i % 2 === 0 })).status, 200);
    const p = await api('POST', '/plugins', { name: 'headers', route: 'steady', config: { response: { set: { 'x-round': String(i) } } } });
    assert.equal(p.status, 201);
    assert.equal((await api('DELETE', `/plugins/${p.json.id}`)).status, 204);
  }
  stop = true;
  await load;
  assert.ok(served > 0);
  assert.deepEqual(failures, []);
});

test('dump -> apply on PostgreSQL leaves the store unchanged', { skip }, async () => {
  const before = (await apiA('GET', '/status')).json.store_version;
  const dump = await runCli(['config', 'dump', '--store', storeUrl]);
  assert.equal(dump.code, 0, dump.stderr);
  const file = writeConfig(dump.stdout, 'dump.yaml');
  const apply = await runCli(['config', 'apply', '--store', storeUrl, '-c', file]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /^no changes/);
  assert.equal((await apiA('GET', '/status')).json.store_version, before);
});
