// The operator console's server side on real gateways (the CLI, a SQLite store): the page and
// its files with a strict CSP and their weight, sign-in (session cookie + CSRF token) and its
// attacks (writes with the cookie alone, fixation, cookie flags, throttling, logout, the
// token in no log and no answer), the dashboard's numbers under real traffic, explain and
// the route table, and in mode: file an entity's YAML and a proposed change's diff.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { ConsoleClient, firstLoad } from '../helpers/console.js';
import { http, startCli, startEchoUpstream, startUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const MAX_FIRST_LOAD = 150 * 1024;

let upstream: Upstream;
let gw: CliGateway;
let admin: string;
let api: Api;

before(async () => {
  upstream = await startEchoUpstream();
  gw = await startCli(['-c', writeConfig(nodeConfig(`sqlite:${join(tempDir('northgate-console-'), 'ng.db')}`))]);
  admin = adminUrlOf(gw);
  api = adminClient(admin);
  assert.equal((await api('POST', '/services', { name: 'shop', url: upstream.url })).status, 201);
  assert.equal((await api('POST', '/routes', { service: 'shop', name: 'shop-api', paths: ['/shop'] })).status, 201);
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

test('the page and its files: a strict CSP, no frame may hold them, no inline script, nothing from another origin', async () => {
  const page = await http(`${admin}/ui/`);
  assert.equal(page.status, 200);
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  for (const tag of page.body.match(/<script[^>]*>/g) ?? []) assert.match(tag, /src="[^"/:]+"/, `only same-origin script files: ${tag}`);
  assert.doesNotMatch(page.body, /<script[^>]*>[^<]+<\/script>/, 'no inline script');
  assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'nothing from another origin');
  assert.equal((await http(`${admin}/ui`)).status, 308);
  assert.equal((await http(`${admin}/ui/missing.js`)).status, 404);
  // Dot segments resolve out of /ui/ (to the admin API, which wants the token): no file is read by path.
  assert.equal((await http(`${admin}/ui/%2e%2e/%2e%2e/package.json`)).status, 401);
  assert.equal((await http(`${admin}/ui/vendor%2f..%2f..%2fpackage.json`)).status, 404);
  const post = await http(`${admin}/ui/app.js`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(post.status, 405);
  // The Host check of the admin API covers the console too (DNS rebinding).
  assert.equal((await http(`${admin}/ui/`, { headers: { host: 'evil.example' } })).status, 403);
});

test(`the first load weighs at most ${MAX_FIRST_LOAD / 1024} KB compressed`, async (t) => {
  const files = await firstLoad(admin);
  const total = [...files.values()].reduce((a, f) => a + f.gzip, 0);
  t.diagnostic(`first load: ${files.size} files, ${(total / 1024).toFixed(1)} KB gzip (${([...files.values()].reduce((a, f) => a + f.raw, 0) / 1024).toFixed(1)} KB raw)`);
  for (const [path, f] of files) t.diagnostic(`  ${path}: ${f.gzip} B gzip`);
  for (const needed of ['/ui/app.js', '/ui/vendor/preact.js', '/ui/vendor/hooks.js', '/ui/vendor/htm.js', '/ui/vendor/uplot.js', '/ui/console.css']) assert.ok(files.has(needed), `the walk reached ${needed}`);
  assert.ok(total <= MAX_FIRST_LOAD, `${total} bytes`);
});

test('without a session or the token, the console API and the admin API answer 401', async () => {
  const c = new ConsoleClient(admin);
  const s = await c.call('GET', '/ui/api/session');
  assert.equal(s.status, 200);
  assert.deepEqual([s.json.token_required, s.json.signed_in, s.json.csrf_token], [true, false, null]);
  for (const path of ['/ui/api/dashboard', '/ui/api/schemas', '/ui/api/routes', '/services']) assert.equal((await c.call('GET', path)).status, 401, path);
  const forged = await c.call('GET', '/services', undefined, { cookie: 'northgate_console=made-up-session-id' });
  assert.equal(forged.status, 401);
});

test('sign-in sets an HttpOnly SameSite=Strict cookie with a fresh id; the cookie alone never writes', async () => {
  const c = new ConsoleClient(admin);
  assert.equal((await c.signIn('not-the-token-at-all')).status, 401);
  // Fixation: a session id the attacker planted is not adopted.
  const planted = 'northgate_console=attacker-chosen-id-0123456789';
  c.cookie = planted;
  const r = await c.signIn(ADMIN_TOKEN);
  assert.equal(r.status, 201);
  const cookie = String(r.headers['set-cookie']![0]);
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Strict/);
  assert.match(cookie, /; Path=\//);
  assert.notEqual(c.cookie, planted);
  assert.ok(!cookie.includes(ADMIN_TOKEN) && !r.body.includes(ADMIN_TOKEN), 'the token is in neither the cookie nor the answer');
  assert.equal((await c.call('GET', '/status', undefined, { cookie: planted })).status, 401);
  assert.equal(typeof r.json.csrf_token, 'string');

  assert.equal((await c.call('GET', '/services')).status, 200, 'the cookie reads');
  // Every write with the cookie but without (or with a wrong) CSRF token is refused.
  const writes: Array<[string, string, unknown]> = [
    ['POST', '/services', { name: 'csrf-probe', url: upstream.url }],
    ['PUT', '/services/shop', { name: 'shop', url: upstream.url }],
    ['PATCH', '/routes/shop-api', { strip_path: true }],
    ['DELETE', '/routes/shop-api', undefined],
    ['POST', '/cache/purge', { tags: ['x'] }],
    ['POST', '/config?dry_run=true', { _format_version: '1' }],
    ['POST', '/ui/api/explain', { method: 'GET', url: '/shop' }],
    ['DELETE', '/ui/api/session', undefined],
  ];
  for (const [method, path, body] of writes) {
    const almost = `${c.csrf!.slice(0, -1)}${c.csrf!.endsWith('A') ? 'B' : 'A'}`;
    for (const csrf of [undefined, 'x'.repeat(43), almost]) {
      const headers: Record<string, string> = csrf === undefined ? { 'x-csrf-token': '' } : { 'x-csrf-token': csrf };
      const res = await c.call(method, path, body, headers);
      assert.equal(res.status, 403, `${method} ${path} with CSRF ${csrf}`);
      assert.equal(res.json.type, 'urn:northgate:problem:csrf-failed');
    }
  }
  assert.equal((await api('GET', '/routes/shop-api')).json.strip_path, undefined, 'nothing was written');
  assert.equal((await c.call('POST', '/ui/api/explain', { method: 'GET', url: '/shop' })).status, 200, 'with the token the write goes through');
  // The admin API's cross-site checks still apply to a session with its CSRF token.
  const cross = await c.call('POST', '/services', { name: 'cross', url: upstream.url }, { origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
  assert.equal(cross.json.type, 'urn:northgate:problem:cross-site-request');
  const form = await c.call('POST', '/services', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);

  // Sign-out ends the session on the server: the old cookie reads nothing any more.
  const old = c.cookie;
  const out = await c.call('DELETE', '/ui/api/session');
  assert.equal(out.status, 204);
  assert.match(String(out.headers['set-cookie']![0]), /Max-Age=0/);
  assert.equal((await c.call('GET', '/services', undefined, { cookie: old })).status, 401);
});

test('the dashboard counts the traffic that ran, per route, with latency percentiles', async () => {
  const c = new ConsoleClient(admin);
  await c.signIn(ADMIN_TOKEN);
  const before = await c.call('GET', '/ui/api/dashboard');
  assert.equal(before.status, 200);
  const base = before.json.routes.find((r: any) => r.route === 'shop-api')?.requests ?? 0;
  const sent = 40;
  for (let i = 0; i < sent; i++) assert.equal((await http(`${gw.url}/shop/${i}`)).status, 200);
  for (let i = 0; i < 10; i++) assert.equal((await http(`${gw.url}/nothing-here`)).status, 404);
  // The history reads the metrics every 5 s: wait (bounded) until the requests are in.
  let row: any;
  for (let i = 0; i < 30; i++) {
    const d = (await c.call('GET', '/ui/api/dashboard')).json;
    row = d.routes.find((r: any) => r.service === 'shop' && r.route === 'shop-api');
    if (row !== undefined && row.requests - base >= sent) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(row !== undefined, 'the route is listed');
  assert.equal(row.requests - base, sent, 'every request counted once');
  assert.equal(row.error_rate, 0);
  assert.ok(row.p50 !== null && row.p50 > 0 && row.p50 <= row.p95 && row.p95 <= row.p99);
  const d = (await c.call('GET', '/ui/api/dashboard?service=shop&route=shop-api')).json;
  assert.ok(d.points.length >= 1);
  assert.equal(Math.round(d.points.reduce((a: number, p: any) => a + p.rps * 5, 0) / 5), Math.round(sent / 5), 'the points of one route add up to its requests');
  assert.deepEqual(d.targets.filter((x: any) => x.upstream === 'service:shop'), [{ upstream: 'service:shop', target: upstream.url, healthy: true }]);
  assert.deepEqual(d.circuits, []);
  assert.equal(typeof d.config_version, 'number');
  assert.deepEqual(Object.keys(d.reloads).sort(), ['failure', 'last_success_at', 'success']);
});

test('the dashboard shows a failing route\'s 5xx rate and its service\'s open circuit', async (t) => {
  const failing = await startUpstream((_req, res) => {
    res.statusCode = 500;
    res.end('broken');
  });
  t.after(() => failing.close());
  assert.equal((await api('POST', '/services', { name: 'flaky', url: failing.url, circuit_breaker: { min_requests: 5, failure_ratio: 0.5, open_for: '60s' } })).status, 201);
  assert.equal((await api('POST', '/routes', { service: 'flaky', name: 'flaky-api', paths: ['/flaky'] })).status, 201);
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await http(`${gw.url}/flaky/${i}`)).status);
  assert.ok(statuses.includes(500) && statuses.includes(503), `500s, then 503 circuit-open: ${statuses.join(',')}`);
  const c = new ConsoleClient(admin);
  await c.signIn(ADMIN_TOKEN);
  let d: any;
  for (let i = 0; i < 30; i++) {
    d = (await c.call('GET', '/ui/api/dashboard')).json;
    if ((d.routes.find((r: any) => r.route === 'flaky-api')?.requests ?? 0) >= 10) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const row = d.routes.find((r: any) => r.route === 'flaky-api');
  assert.equal(row.requests, 10);
  assert.equal(row.error_rate, 1, 'every answer was a 5xx');
  assert.deepEqual(d.circuits.filter((x: any) => x.service === 'flaky'), [{ service: 'flaky', state: 'open' }]);
});

test('explain and the route table answer for the running config; bad input is a 400', async () => {
  const c = new ConsoleClient(admin);
  await c.signIn(ADMIN_TOKEN);
  const x = await c.call('POST', '/ui/api/explain', { method: 'get', url: 'http://api.example.com/shop/7?q=1', headers: { 'X-Trace': 'a' } });
  assert.equal(x.status, 200);
  assert.equal(x.json.matched.route, 'shop-api');
  assert.equal(x.json.host, 'api.example.com');
  assert.deepEqual(x.json.forward.urls, [`${upstream.url}/shop/7?q=1`]);
  const miss = await c.call('POST', '/ui/api/explain', { method: 'GET', url: '/elsewhere' });
  assert.equal(miss.json.matched, null);
  for (const bad of [{ method: 'GET', url: 'ftp://x' }, { method: 'G E T', url: '/' }, { method: 'GET' }, { method: 'GET', url: '/', headers: { 'bad name': 'x' } }, { method: 'GET', url: '/', headers: [] }, 'not json']) {
    const r = await c.call('POST', '/ui/api/explain', bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.equal(r.headers['content-type'], 'application/problem+json');
  }
  const table = await c.call('GET', '/ui/api/routes');
  const rows = table.json.data.map((r: any) => [r.order, r.route, r.path]);
  assert.deepEqual(rows.map((r: any[]) => r[0]), rows.map((_: unknown, i: number) => i + 1), 'in match order');
  assert.ok(rows.some((r: any[]) => r[1] === 'shop-api' && r[2] === '/shop'), JSON.stringify(rows));
});

test('the schemas the forms are built from: every kind, every plugin, every credential type', async () => {
  const r = await adminClient(admin)('GET', '/ui/api/schemas');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json.kinds).sort(), ['consumers', 'credentials', 'plans', 'plugins', 'routes', 'services', 'targets', 'upstreams']);
  assert.ok(r.json.plugins['key-auth'].properties.key_names);
  assert.deepEqual(Object.keys(r.json.credentials).sort(), ['basic-auth', 'jwt', 'key-auth']);
  assert.ok(r.json.kinds.routes.schema.properties.paths);
});

test('mode: file: writes are refused; an entity YAML and a proposed change as a validated diff', async (t) => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: orders
    url: ${upstream.url}
    routes: [{ name: orders-v1, paths: [/v1/orders] }]
`);
  const fgw = await startCli(['-c', file]);
  t.after(() => fgw.stop());
  const c = new ConsoleClient(adminUrlOf(fgw));
  const s = await c.call('GET', '/ui/api/session');
  assert.deepEqual([s.json.token_required, s.json.signed_in, s.json.mode], [false, true, 'file'], 'loopback without a token: open');
  assert.equal((await c.call('POST', '/services', { name: 'x', url: upstream.url })).status, 405);
  const y = await c.call('GET', '/ui/api/yaml?kind=routes&id=orders-v1');
  assert.equal(y.status, 200);
  assert.match(y.json.yaml, /^service: orders\nname: orders-v1\npaths:\n {2}- \/v1\/orders\n$/);
  const d = await c.call('POST', '/ui/api/diff', { kind: 'routes', id: 'orders-v1', body: { service: 'orders', name: 'orders-v1', paths: ['/v1/orders', '/v2/orders'], strip_path: true } });
  assert.equal(d.status, 200);
  assert.deepEqual(d.json.diff.filter((l: string) => l[0] !== ' '), ['+  - /v2/orders', '+strip_path: true']);
  const bad = await c.call('POST', '/ui/api/diff', { kind: 'routes', id: 'orders-v1', body: { service: 'orders', name: 'orders-v1', paths: ['no-slash'] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.problems[0].path, 'paths[0]');
  assert.equal((await c.call('GET', '/ui/api/yaml?kind=nope&id=x')).status, 400);
  assert.equal((await c.call('GET', '/ui/api/yaml?kind=routes&id=missing')).status, 404);
  assert.equal((await c.call('GET', '/routes/orders-v1')).status, 200, 'the file is unchanged');
});

test('wrong tokens are throttled; the token is in no log line', async () => {
  const c = new ConsoleClient(admin);
  let throttled: any = null;
  for (let i = 0; i < 20 && throttled === null; i++) {
    const r = await c.signIn(`wrong-${i}`);
    if (r.status === 429) throttled = r;
    else assert.equal(r.status, 401);
  }
  assert.ok(throttled !== null, 'refused within 20 tries');
  assert.equal(throttled.json.type, 'urn:northgate:problem:sign-in-throttled');
  assert.ok(Number(throttled.headers['retry-after']) > 0);
  assert.equal((await c.signIn(ADMIN_TOKEN)).status, 429, 'the right token waits too: a guesser learns nothing');
  const logs = JSON.stringify(gw.lines) + gw.stderr();
  assert.ok(!logs.includes(ADMIN_TOKEN), 'the admin token is never logged');
});

test('with several workers the dashboard sums every worker\'s requests', async (t) => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: orders
    url: ${upstream.url}
    routes: [{ name: orders-v1, paths: [/v1/orders] }]
`);
  const cgw = await startCli(['-c', file, '--workers', '2']);
  t.after(() => cgw.stop());
  const c = new ConsoleClient(adminUrlOf(cgw));
  // Round-robin over new connections: both workers answer some of them.
  const sent = 30;
  for (let i = 0; i < sent; i++) assert.equal((await http(`${cgw.url}/v1/orders/${i}`)).status, 200);
  let requests = 0;
  for (let i = 0; i < 30 && requests < sent; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const d = (await c.call('GET', '/ui/api/dashboard')).json;
    requests = d.routes.find((r: any) => r.route === 'orders-v1')?.requests ?? 0;
  }
  assert.equal(requests, sent);
});
