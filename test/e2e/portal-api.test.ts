// The portal's JSON API against a real gateway: config, catalog, API detail, sessions and
// their cookie, CSRF, sign-in throttling, key life cycle on the gateway, isolation between
// accounts, approvals, usage and the operator's endpoints.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { ORDERS_OPENAPI, PortalClient, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { http, startUpstream, tempDir, writeConfig, type Upstream } from '../helpers/servers.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const config = (upstream: string, portal = 'self_service: { plans: [free, pro] }\n  admins: [ops@example.com]') => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
plans: [{ name: free }, { name: pro }]
portal:
  title: Acme APIs
  ${portal}
  sign_in_limits: { per_account: 3, per_ip: 6, window: 15m }
services:
  - name: orders
    url: ${upstream}
    portal: { published: true, openapi: ./orders.yaml, tags: [commerce, beta], description: Orders for shops }
    plugins: { key-auth: {} }
    routes: [{ paths: [/orders-api], strip_path: true }]
  - name: weather
    url: ${upstream}
    portal: { published: true, title: Weather, description: Forecasts by city, tags: [public] }
    routes: [{ paths: [/weather] }]
  - name: internal
    url: ${upstream}
    routes: [{ paths: [/internal] }]
`;

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream((req, res) => res.end(JSON.stringify({ path: req.url })));
});
after(async () => upstream.close());

describe('portal config', () => {
  test('listen.portal, portal: and services[].portal are validated and located', () => {
    const bad = configProblems(`_format_version: "1"
listen: { portal: "nowhere" }
portal: { title: x, colour: red }
services:
  - name: a
    url: http://127.0.0.1:1
    portal: { published: yes-please }
`, 'bad.yaml');
    assert.ok(bad.some((l) => /^bad\.yaml:3:\d+ portal\.colour: unknown key "colour"/.test(l)), bad.join('\n'));
    assert.ok(bad.some((l) => /^bad\.yaml:7:\d+ services\[0\]\.portal\.published: must be boolean/.test(l)), bad.join('\n'));
  });

  test('an OpenAPI file is read relative to the config file; a missing or non-OpenAPI one is a located problem', () => {
    const file = writeConfig(`_format_version: "1"
portal: {}
services:
  - name: a
    url: http://127.0.0.1:1
    portal: { published: true, openapi: ./missing.yaml }
  - name: b
    url: http://127.0.0.1:1
    portal: { published: true, openapi: ./swagger.yaml }
`);
    writeFileSync(join(dirname(file), 'swagger.yaml'), 'swagger: "2.0"\ninfo: { title: old }\n');
    const lines = configProblems(readFileSync(file, 'utf8'), file);
    assert.ok(lines.some((l) => l.startsWith(`${file}:6:`) && l.includes('services[0].portal.openapi: file not found') && l.includes(join(dirname(file), 'missing.yaml'))), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`${file}:9:`) && l.includes('is not an OpenAPI 3.0 or 3.1 document')), lines.join('\n'));
  });

  test('portal.brand: the logo is an https URL or a path on the portal, the accent a CSS hex colour; others are located problems', () => {
    const badLogos = ['http://cdn.example.com/logo.svg', 'javascript:alert(1)', '//evil.example/logo.svg', 'data:image/svg+xml,<svg/>', 'logo.svg', '/logo.svg" onerror="alert(1)', 'https://a.example/x y', 'https://user@evil.example/logo.svg', '/a\\b.svg', 'https://a.example/</style>'];
    for (const logo of badLogos) {
      const lines = configProblems(`_format_version: "1"\nportal:\n  brand:\n    logo_url: ${JSON.stringify(logo)}\n`, 'brand.yaml');
      assert.ok(lines.some((l) => /^brand\.yaml:4:\d+ portal\.brand\.logo_url: must be an https:\/\/ URL or a path on the portal/.test(l)), `${logo}: ${lines.join('\n')}`);
    }
    const badColours = ['red', '#12', '#1234567', '#ggg', '#fff; background: url(https://evil.example/x)', '#fff}body{display:none', 'rgb(1,2,3)', '#fff ', ' #fff', 'var(--x)'];
    for (const colour of badColours) {
      const lines = configProblems(`_format_version: "1"\nportal:\n  brand: { accent_color: ${JSON.stringify(colour)} }\n`, 'brand.yaml');
      assert.ok(lines.some((l) => /^brand\.yaml:3:\d+ portal\.brand\.accent_color: must be a CSS hex colour/.test(l)), `${colour}: ${lines.join('\n')}`);
    }
    assert.ok(configProblems('_format_version: "1"\nportal:\n  brand: { colour: red }\n', 'brand.yaml').some((l) => /^brand\.yaml:3:\d+ portal\.brand\.colour: unknown key/.test(l)));
    for (const [logo, colour] of [['https://cdn.acme.example/logo.svg', '#0a7d5a'], ['/brand/logo.png', '#FFF'], ['https://acme.example:8443/a/b.svg?v=2', '#0a7d5aff']]) {
      assert.deepEqual(configProblems(`_format_version: "1"\nportal:\n  brand: { logo_url: "${logo}", accent_color: "${colour}" }\n`, 'brand.yaml'), [], `${logo} ${colour}`);
    }
  });

  test('the brand reaches the pages: colours in /assets/brand.css, an https logo\'s origin (only) in the CSP', async () => {
    const gw = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
portal:
  title: Globex Developer Hub
  brand: { logo_url: "https://cdn.globex.example/brand/logo.svg", accent_color: "#FC3" }
`);
    try {
      const page = await http(gw.portalUrl + '/');
      assert.match(page.body, /<title>API catalog · Globex Developer Hub<\/title>/);
      assert.match(page.body, /<img class="logo" src="https:\/\/cdn\.globex\.example\/brand\/logo\.svg" alt=""/);
      const csp = page.headers['content-security-policy'] as string;
      assert.match(csp, /img-src 'self' data: https:\/\/cdn\.globex\.example;/);
      assert.match(csp, /style-src 'self';/);
      // A light accent gets dark text on it, and links keep the readable default colour.
      const css = await http(gw.portalUrl + '/assets/brand.css');
      assert.equal(css.body, ':root { --accent: #ffcc33; --on-accent: #1b1f24; --accent-text: #1d5fa8; }\n');
      const config = await new PortalClient(gw.portalUrl).get('/portal/api/config');
      assert.deepEqual(config.json['brand'], { logo_url: 'https://cdn.globex.example/brand/logo.svg', accent_color: '#ffcc33' });
      // No API published: the catalog says so.
      assert.match(page.body, /No APIs are published yet\./);
    } finally {
      await gw.close();
    }
  });

  test('without portal: there is no portal listener', async () => {
    const gw = await startPortalGateway(`_format_version: "1"\nlisten: { proxy: "127.0.0.1:0", status: null }\n`);
    try {
      assert.equal(gw.gateway.portalAddress, null);
      assert.equal(gw.gateway.snapshot.portal, null);
    } finally {
      await gw.close();
    }
  });
});


describe('portal API', () => {
  let gw: PortalGatewayHandle;
  before(async () => {
    gw = await startPortalGateway(config(upstream.url), { 'orders.yaml': ORDERS_OPENAPI });
  });
  after(async () => gw.close());

  test('catalog lists published services only, with search and tag filter', async () => {
    const c = new PortalClient(gw.portalUrl);
    const all = await c.get('/portal/api/apis');
    assert.equal(all.status, 200);
    assert.deepEqual(all.json['apis'].map((a: { service: string }) => a.service), ['orders', 'weather']);
    assert.deepEqual(all.json['tags'], ['beta', 'commerce', 'public']);
    assert.equal(all.json['apis'][0].title, 'Orders API', 'title from the OpenAPI document');
    assert.equal(all.json['apis'][0].base_url, `${gw.proxyUrl}/orders-api`);
    const search = await c.get('/portal/api/apis?q=FORECAST');
    assert.deepEqual(search.json['apis'].map((a: { service: string }) => a.service), ['weather']);
    const tag = await c.get('/portal/api/apis?tag=commerce');
    assert.deepEqual(tag.json['apis'].map((a: { service: string }) => a.service), ['orders']);
    assert.deepEqual((await c.get('/portal/api/apis?q=nothing-like-this')).json['apis'], []);
  });

  test('API detail carries the OpenAPI document with the gateway as its server', async () => {
    const c = new PortalClient(gw.portalUrl);
    const r = await c.get('/portal/api/apis/orders');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json['openapi'].servers, [{ url: `${gw.proxyUrl}/orders-api`, description: 'through the gateway' }]);
    assert.equal(r.json['openapi'].paths['/orders/{id}'].get.summary, 'Get an order');
    const missing = await c.get('/portal/api/apis/internal');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['content-type'], 'application/problem+json');
    assert.equal(missing.json['type'], 'urn:northgate:problem:not-found');
  });

  test('session cookie: HttpOnly, SameSite=Lax, Path=/, no Secure on plain http; pages and assets are served', async () => {
    const c = new PortalClient(gw.portalUrl);
    assert.equal((await c.get('/portal/api/apis')).headers['set-cookie'], undefined, 'reading the catalog opens no session');
    const r = await c.get('/portal/api/session');
    const cookie = (r.headers['set-cookie'] as string[])[0]!;
    assert.match(cookie, /^ng_portal=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=43200$/);
    assert.equal(r.json['authenticated'], false);
    assert.match(r.json['csrf_token'], /^[A-Za-z0-9_-]{43}$/);
    const page = await c.get('/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.match(page.body, /<main id="main"/);
    assert.equal((await c.get('/assets/uPlot.iife.min.js')).status, 200);
    assert.equal((await c.get('/no/such/page')).status, 404);
  });

  test('CSRF: a state-changing call needs the session token, JSON, and the same origin', async () => {
    const c = new PortalClient(gw.portalUrl);
    await c.get('/portal/api/session');
    const body = { email: 'csrf@example.com', password: 'long enough password' };
    const none = await c.call('POST', '/portal/api/sign-up', body, { 'x-csrf-token': '' });
    assert.equal(none.status, 403);
    assert.equal(none.json['type'], 'urn:northgate:problem:csrf-failed');
    const wrong = await c.call('POST', '/portal/api/sign-up', body, { 'x-csrf-token': 'x'.repeat(43) });
    assert.equal(wrong.status, 403);
    const form = await c.call('POST', '/portal/api/sign-up', 'email=a&password=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 403);
    const cross = await c.call('POST', '/portal/api/sign-up', body, { origin: 'https://evil.example' });
    assert.equal(cross.status, 403);
    const fresh = new PortalClient(gw.portalUrl);
    assert.equal((await fresh.call('POST', '/portal/api/sign-up', body, { 'x-csrf-token': c.csrf })).status, 403, 'a token is bound to its session');
    assert.equal((await c.post('/portal/api/sign-up', body)).status, 201);
    // Signing in gives a new session id and token: the old token no longer works.
    const old = c.csrf;
    assert.equal((await c.call('POST', '/portal/api/keys', { name: 'k', plan: 'free' }, { 'x-csrf-token': old })).status, 201);
    await c.post('/portal/api/sign-out');
    assert.equal((await c.call('POST', '/portal/api/sign-out', {}, { 'x-csrf-token': old })).status, 403);
  });

  test('sign-in: wrong password 401; brute force limited per account and per address (429 with Retry-After)', async () => {
    const owner = new PortalClient(gw.portalUrl);
    await owner.signUp('victim@example.com', 'the right password');
    const attacker = new PortalClient(gw.portalUrl);
    await attacker.get('/portal/api/session');
    for (let i = 0; i < 3; i++) {
      const r = await attacker.post('/portal/api/sign-in', { email: 'victim@example.com', password: `guess ${i} guess` });
      assert.equal(r.status, 401);
      assert.equal(r.json['detail'], 'wrong email or password');
    }
    const limited = await attacker.post('/portal/api/sign-in', { email: 'victim@example.com', password: 'the right password' });
    assert.equal(limited.status, 429);
    assert.equal(limited.json['type'], 'urn:northgate:problem:sign-in-throttled');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // Other accounts from the same address: 3 more failures reach the address's limit (6).
    for (let i = 0; i < 3; i++) assert.equal((await attacker.post('/portal/api/sign-in', { email: `other${i}@example.com`, password: 'whatever it is' })).status, 401);
    assert.equal((await attacker.post('/portal/api/sign-in', { email: 'someone@example.com', password: 'whatever it is' })).status, 429);
    // The owner, from another session, still signs in once the attacker's window is not theirs.
  });

  test('keys: created key works on the gateway at once, list shows the prefix only, rotate and revoke apply at once', async () => {
    const c = new PortalClient(gw.portalUrl);
    const account = await c.signUp('dev@example.com');
    const bad = await c.post('/portal/api/keys', { name: 'ci', plan: 'gold' });
    assert.equal(bad.status, 400);
    const created = await c.post('/portal/api/keys', { name: 'ci', plan: 'free' });
    assert.equal(created.status, 201);
    const secret = created.json['secret'] as string;
    assert.match(secret, /^ng_[A-Za-z0-9_-]{43}$/);
    const call = (key: string) => http(`${gw.proxyUrl}/orders-api/orders/1`, { headers: { 'x-api-key': key } });
    const ok = await call(secret);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, JSON.stringify({ path: '/orders/1' }));
    const list = await c.get('/portal/api/keys');
    assert.equal(list.json['keys'].length, 1);
    assert.equal(list.json['keys'][0].prefix, secret.slice(0, 10));
    assert.ok(!list.body.includes(secret), 'the full key is never listed');
    assert.equal(gw.gateway.snapshot.consumers.byId.get(account['id'])?.username, 'dev@example.com', 'the account is a consumer');

    const rotated = await c.post(`/portal/api/keys/${created.json['key'].id}/rotate`);
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.json['secret'], secret);
    assert.equal((await call(secret)).status, 401, 'the old secret stops at once');
    assert.equal((await call(rotated.json['secret'])).status, 200);

    const revoked = await c.del(`/portal/api/keys/${created.json['key'].id}`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json['key'].status, 'revoked');
    assert.equal((await call(rotated.json['secret'])).status, 401, 'a revoked key stops at once');
    assert.deepEqual((await c.get('/portal/api/keys')).json['keys'], []);
  });

  test('one account cannot see, rotate, revoke or read the usage of another\'s keys', async () => {
    const alice = new PortalClient(gw.portalUrl);
    await alice.signUp('alice@example.com');
    const k = await alice.post('/portal/api/keys', { name: 'alice-key', plan: 'pro' });
    const id = k.json['key'].id as string;
    const mallory = new PortalClient(gw.portalUrl);
    await mallory.signUp('mallory@example.com');
    assert.deepEqual((await mallory.get('/portal/api/keys')).json['keys'], []);
    assert.equal((await mallory.del(`/portal/api/keys/${id}`)).status, 404);
    assert.equal((await mallory.post(`/portal/api/keys/${id}/rotate`)).status, 404);
    assert.equal((await mallory.get(`/portal/api/usage?key=${id}`)).status, 404);
    assert.equal((await http(`${gw.proxyUrl}/orders-api/x`, { headers: { 'x-api-key': k.json['secret'] } })).status, 200, 'alice\'s key still works');
    assert.equal((await mallory.get('/portal/api/admin/consumers')).status, 403, 'not an operator');
    assert.equal((await new PortalClient(gw.portalUrl).get('/portal/api/keys')).status, 401);
  });

  test('usage counts the account\'s calls by status class; the operator sees top consumers and services', async () => {
    const c = new PortalClient(gw.portalUrl);
    await c.signUp('metered@example.com');
    const secret = (await c.post('/portal/api/keys', { name: 'm', plan: 'free' })).json['secret'] as string;
    for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.proxyUrl}/orders-api/orders/${i}`, { headers: { 'x-api-key': secret } })).status, 200);
    const u = await c.get('/portal/api/usage?step=hour');
    assert.equal(u.status, 200);
    assert.equal(u.json['series'].length, 24);
    const sum = (cls: string) => u.json['series'].reduce((a: number, p: { calls: Record<string, number> }) => a + p.calls[cls]!, 0);
    assert.equal(sum('2xx'), 3);
    assert.equal(sum('5xx'), 0);
    assert.deepEqual(u.json['services'].map((s: { key: string; calls: number }) => [s.key, s.calls]), [['orders', 3]]);
    assert.equal(u.json['quota'], null);
    assert.equal((await c.get('/portal/api/usage?step=year')).status, 400);

    const ops = new PortalClient(gw.portalUrl);
    await ops.signUp('ops@example.com');
    assert.equal((await ops.get('/portal/api/session')).json['account'].role, 'admin');
    const an = await ops.get('/portal/api/admin/analytics?step=hour');
    assert.equal(an.status, 200);
    assert.ok(an.json['top_consumers'].some((t: { name: string; calls: number }) => t.name === 'metered@example.com' && t.calls === 3));
    assert.ok(an.json['services'].some((s: { service: string }) => s.service === 'orders'));
    const cons = await ops.get('/portal/api/admin/consumers');
    assert.ok(cons.json['accounts'].some((a: { email: string }) => a.email === 'metered@example.com'));
  });

  test('try-it relays a call through the gateway with the visitor\'s key', async () => {
    const c = new PortalClient(gw.portalUrl);
    await c.signUp('tryer@example.com');
    const secret = (await c.post('/portal/api/keys', { name: 't', plan: 'free' })).json['secret'] as string;
    const r = await c.post('/portal/api/try', { service: 'orders', method: 'GET', path: '/orders/9', key: secret });
    assert.equal(r.status, 200);
    assert.equal(r.json['status'], 200);
    assert.equal(r.json['body'], JSON.stringify({ path: '/orders/9' }));
    const nokey = await c.post('/portal/api/try', { service: 'orders', method: 'GET', path: '/orders/9' });
    assert.equal(nokey.json['status'], 401);
    assert.equal((await c.post('/portal/api/try', { service: 'orders', method: 'GET', path: '//evil.example/x' })).status, 400);
    assert.equal((await c.post('/portal/api/try', { service: 'internal', method: 'GET', path: '/' })).status, 404);
  });
});

describe('portal approvals and secure cookies', () => {
  let gw: PortalGatewayHandle;
  before(async () => {
    gw = await startPortalGateway(config(upstream.url, 'url: https://portal.example.com\n  self_service: { plans: false }\n  admins: [ops@example.com]'), { 'orders.yaml': ORDERS_OPENAPI });
  });
  after(async () => gw.close());

  test('with an https portal url the cookie is __Host- and Secure', async () => {
    const c = new PortalClient(gw.portalUrl);
    const r = await c.get('/portal/api/session');
    assert.match((r.headers['set-cookie'] as string[])[0]!, /^__Host-ng_portal=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
  });

  test('without self-service plans a key is pending until an operator approves it', async () => {
    const dev = new PortalClient(gw.portalUrl);
    await dev.signUp('waiting@example.com');
    assert.equal((await dev.post('/portal/api/keys', { name: 'x', plan: 'free' })).status, 400);
    const k = await dev.post('/portal/api/keys', { name: 'app' });
    assert.equal(k.status, 201);
    assert.equal(k.json['key'].status, 'pending');
    const call = () => http(`${gw.proxyUrl}/orders-api/orders/1`, { headers: { 'x-api-key': k.json['secret'] } });
    assert.equal((await call()).status, 401);
    const ops = new PortalClient(gw.portalUrl);
    await ops.signUp('ops@example.com');
    const pending = await ops.get('/portal/api/admin/approvals');
    assert.deepEqual(pending.json['pending'].map((p: { name: string; account: { email: string } }) => [p.name, p.account.email]), [['app', 'waiting@example.com']]);
    assert.equal((await dev.post(`/portal/api/admin/approvals/${k.json['key'].id}`, { decision: 'approve' })).status, 403);
    const ok = await ops.post(`/portal/api/admin/approvals/${k.json['key'].id}`, { decision: 'approve' });
    assert.equal(ok.json['key'].status, 'active');
    assert.equal((await call()).status, 200);
    assert.deepEqual((await ops.get('/portal/api/admin/approvals')).json['pending'], []);
  });
});

describe('portal usage from the metering store', () => {
  let gw: PortalGatewayHandle;
  before(async () => {
    const yaml = config(upstream.url, 'self_service: { plans: [free] }\n  admins: [ops@example.com]').replace('access_log: { enabled: false }', 'access_log: { enabled: false }\nmetering: { store: "sqlite:METER" }');
    gw = await startPortalGateway(yaml.replace('METER', join(tempDir('portal-meter-'), 'usage.sqlite')), { 'orders.yaml': ORDERS_OPENAPI });
  });
  after(async () => gw.close());

  test('calls metered by the gateway appear in the account\'s usage after a flush', async () => {
    const c = new PortalClient(gw.portalUrl);
    await c.signUp('durable@example.com');
    const secret = (await c.post('/portal/api/keys', { name: 'm', plan: 'free' })).json['secret'] as string;
    for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.proxyUrl}/orders-api/orders/${i}`, { headers: { 'x-api-key': secret } })).status, 200);
    assert.equal((await http(`${gw.proxyUrl}/orders-api/orders/x`, { headers: { 'x-api-key': 'ng_wrong-key-wrong-key' } })).status, 401);
    await gw.gateway.flushUsage();
    const u = await c.get('/portal/api/usage?step=day');
    const sum = (cls: string) => u.json['series'].reduce((a: number, p: { calls: Record<string, number> }) => a + p.calls[cls]!, 0);
    assert.equal(sum('2xx'), 2);
    assert.equal(sum('4xx'), 0, 'the anonymous 401 is nobody\'s usage');
    assert.ok(u.json['series'].some((p: { avg: number | null }) => p.avg !== null && p.avg >= 0));
    assert.deepEqual(u.json['services'].map((s: { key: string; calls: number }) => [s.key, s.calls]), [['orders', 2]]);
  });

  test('self-service plans must be plans of the config', () => {
    const lines = configProblems(`_format_version: "1"
plans: [{ name: free }]
portal: { self_service: { plans: [free, gold] } }
`, 'plans.yaml');
    assert.deepEqual(lines, ['plans.yaml:3:41 portal.self_service.plans[1]: no plan named "gold" in plans: (known: free)']);
  });
});

describe('portal quota used and left', () => {
  test('the usage answer reads the plan quota\'s own counters: used, left, reset; reading counts nothing', async () => {
    const dir = tempDir('northgate-portal-quota-');
    const gw = await startPortalGateway(config(upstream.url).replace('plans: [{ name: free }, { name: pro }]', `plans: [{ name: free, quota: { period: day, max: 5, path: ${join(dir, 'quota.sqlite')} } }, { name: pro }]`), { 'orders.yaml': ORDERS_OPENAPI });
    try {
      const c = new PortalClient(gw.portalUrl);
      await c.signUp('quota@example.com');
      const before = await c.get('/portal/api/usage?step=hour');
      assert.equal(before.json['quota'], null, 'no key on a plan yet: no quota');
      const secret = (await c.post('/portal/api/keys', { name: 'q', plan: 'free' })).json['secret'] as string;
      for (let i = 0; i < 2; i++) assert.equal((await http(`${gw.proxyUrl}/orders-api/o/${i}`, { headers: { 'x-api-key': secret } })).status, 200);
      const u = (await c.get('/portal/api/usage?step=hour')).json['quota'];
      const next = new Date();
      next.setUTCHours(24, 0, 0, 0);
      assert.deepEqual(u, { limit: 5, used: 2, left: 3, period: 'day', reset_at: next.toISOString() });
      assert.deepEqual((await c.get('/portal/api/usage?step=day')).json['quota'], u, 'reading the quota does not use it');
      const last = await http(`${gw.proxyUrl}/orders-api/o/3`, { headers: { 'x-api-key': secret } });
      assert.equal(last.headers['x-quota-remaining'], '2', 'the gateway counted on from the same counter');
      const pro = new PortalClient(gw.portalUrl);
      await pro.signUp('pro@example.com');
      await pro.post('/portal/api/keys', { name: 'p', plan: 'pro' });
      assert.equal((await pro.get('/portal/api/usage?step=hour')).json['quota'], null, 'a plan without a quota');
    } finally {
      await gw.close();
    }
  });
});
