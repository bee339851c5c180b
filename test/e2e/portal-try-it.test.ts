// The try-it relay holds a developer to the published API. The portal calls the gateway
// from its own loopback address, which an internal service may trust (ip-restriction
// allowing 127.0.0.1), so every path that could land anywhere else — dot segments in any
// spelling, encoded slashes, backslashes, other hosts, a neighbouring prefix, a more
// specific route of another service — is refused with 400 before a request is made.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PortalClient, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { http, startUpstream, type Upstream } from '../helpers/servers.js';

let published: Upstream;
let internal: Upstream;
let gw: PortalGatewayHandle;
let c: PortalClient;
let secret: string;
const hits = { published: [] as string[], internal: [] as string[] };

before(async () => {
  published = await startUpstream((req, res) => {
    hits.published.push(req.url!);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, long: 'x'.repeat(300) }));
  });
  internal = await startUpstream((req, res) => {
    hits.internal.push(req.url!);
    res.end('internal secrets');
  });
  // "orders" is published under /orders (stripped); "weather" under /weather (not stripped).
  // The internal services sit beside them: a neighbouring prefix, a plain prefix, and a more
  // specific route inside the published prefix. All trust loopback only.
  const guard = 'ip-restriction: { allow: [127.0.0.1/32, "::1/128"] }';
  gw = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
plans: [{ name: free }]
portal:
  self_service: { plans: [free] }
services:
  - name: orders
    url: ${published.url}
    portal: { published: true }
    plugins: { key-auth: {} }
    routes: [{ paths: [/orders], strip_path: true }]
  - name: weather
    url: ${published.url}
    portal: { published: true }
    routes: [{ paths: [/weather] }]
  - name: orders-internal
    url: ${internal.url}
    plugins: { ${guard} }
    routes: [{ paths: [/orders-internal] }]
  - name: internal
    url: ${internal.url}
    plugins: { ${guard} }
    routes: [{ paths: [/internal] }]
  - name: orders-admin
    url: ${internal.url}
    plugins: { ${guard} }
    routes: [{ paths: [/orders/admin] }]
`);
  c = new PortalClient(gw.portalUrl);
  await c.signUp('attacker@example.com');
  secret = (await c.post('/portal/api/keys', { name: 'k', plan: 'free' })).json['secret'] as string;
});

after(async () => {
  await gw?.close();
  await published?.close();
  await internal?.close();
});

describe('try-it stays on the published API', () => {
  test('the neighbouring internal services answer a loopback caller (what the attacks aim at)', async () => {
    for (const path of ['/internal/x', '/orders-internal/x', '/orders/admin/x']) {
      const r = await http(`${gw.proxyUrl}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, 'internal secrets');
    }
    hits.internal.length = 0;
  });

  test('allowed paths reach the published service, with the query as given', async () => {
    const cases: Array<[string, string, string]> = [
      ['orders', '/orders/9', '/orders/9'],
      ['orders', '/', '/'],
      ['orders', '/search?q=a%20b&x=../y', '/search?q=a%20b&x=../y'],
      ['orders', '/a%20b/c', '/a%20b/c'],
      ['orders', '/v1.2/items/..x', '/v1.2/items/..x'],
      ['orders', '/items/v2/~a_b-c', '/items/v2/~a_b-c'],
      ['weather', '/weather/today', '/weather/today'],
      ['weather', '/weather', '/weather'],
    ];
    for (const [service, path, upstreamPath] of cases) {
      hits.published.length = 0;
      const r = await c.post('/portal/api/try', { service, method: 'GET', path, key: secret });
      assert.equal(r.status, 200, `${service} ${path}: ${r.body}`);
      assert.equal(r.json['status'], 200, `${service} ${path}: ${r.body}`);
      assert.deepEqual(hits.published, [upstreamPath], `${service} ${path}`);
    }
    assert.deepEqual(hits.internal, []);
  });

  const attacks: Array<[service: string, path: string]> = [
    // Dot segments, raw and encoded in every case and mix.
    ['orders', '/../internal/x'],
    ['orders', '/../orders-internal/x'],
    ['orders', '/x/../../internal/x'],
    ['orders', '/./../internal'],
    ['orders', '/..'],
    ['orders', '/.'],
    ['orders', '/%2e%2e/internal/x'],
    ['orders', '/%2E%2E%2Finternal/x'],
    ['orders', '/..%2finternal/x'],
    ['orders', '/..%2Finternal/x'],
    ['orders', '/.%2e/internal/x'],
    ['orders', '/%2e./internal/x'],
    ['orders', '/%2e/x'],
    // Dot segments with path parameters (servers that drop ";..." read them as dots).
    ['orders', '/..;/internal/x'],
    ['orders', '/x/..;jsessionid=1/../internal'],
    ['orders', '/.;/x'],
    ['orders', '/%2e%2e;/internal'],
    ['orders', '/..%3b/internal'],
    // Double and triple encoding (an upstream or a second proxy that decodes again).
    ['orders', '/%252e%252e/internal/x'],
    ['orders', '/%252E%252E%252Finternal/x'],
    ['orders', '/%25252e%25252e/internal/x'],
    ['orders', '/x%252finternal'],
    // Backslashes, raw and encoded.
    ['orders', '/..\\internal\\x'],
    ['orders', '\\..\\internal'],
    ['orders', '/%5c..%5cinternal'],
    ['orders', '/..%255cinternal'],
    // Encoded slash (a segment that an upstream splits).
    ['orders', '/x%2f..%2finternal'],
    ['orders', '/admin%2fx'],
    // Other hosts: scheme-relative, absolute, userinfo.
    ['orders', '//127.0.0.1/internal/x'],
    ['orders', '//evil.example/x'],
    ['orders', `http://127.0.0.1:1/internal/x`],
    ['orders', 'HTTP://127.0.0.1/internal'],
    ['orders', '@127.0.0.1/internal'],
    ['orders', '/\\127.0.0.1/internal'],
    // Not starting with "/": the prefix /orders would become /orders-internal.
    ['orders', '-internal/x'],
    ['orders', ''],
    ['orders', '?x=1'],
    // A more specific route of another service inside the published prefix.
    ['orders', '/admin'],
    ['orders', '/admin/x'],
    ['orders', '//admin/x'],
    ['orders', '/%61dmin/x'],
    // "?" and "#" tricks.
    ['orders', '/#/../../internal'],
    ['orders', '/x#'],
    ['orders', '/..?/internal'],
    ['orders', '/..#?'],
    // NUL, control characters, whitespace, header injection.
    ['orders', '/x\u0000/../internal'],
    ['orders', '/x%00/../../internal'],
    ['orders', '/x\r\nHost: internal'],
    ['orders', '/x%0d%0aHost:%20internal'],
    ['orders', '/x y'],
    ['orders', '/x\ty'],
    // Unicode dots and slashes (full-width, one/two dot leaders, small full stop), raw and
    // UTF-8 encoded; overlong UTF-8 dots.
    ['orders', '/\uff0e\uff0e/internal'],
    ['orders', '/\u2025/internal'],
    ['orders', '/\u2024\u2024/internal'],
    ['orders', '/\ufe52\ufe52/internal'],
    ['orders', '/..\uff0finternal'],
    ['orders', '/%EF%BC%8E%EF%BC%8E/internal'],
    ['orders', '/%E2%80%A5/internal'],
    ['orders', '/%C0%AE%C0%AE/internal'],
    ['orders', '/%c0%af'],
    ['orders', '/%E0%80%AE%E0%80%AE/internal'],
    // An API whose route does not strip a prefix: the path must still be one of its routes.
    ['weather', '/internal/x'],
    ['weather', '/orders-internal/x'],
    ['weather', '/weather-internal'],
    ['weather', '/weather/../internal'],
    ['weather', '/weather/%2e%2e/internal'],
    ['weather', '/orders/admin'],
    ['weather', '/orders/9'],
  ];

  test(`${attacks.length} spellings of a way out are refused (400 problem+json) and no request is made`, async () => {
    hits.published.length = 0;
    const reached: string[] = [];
    for (const [service, path] of attacks) {
      const r = await c.post('/portal/api/try', { service, method: 'GET', path, key: secret });
      if (r.status !== 400 || r.headers['content-type'] !== 'application/problem+json') reached.push(`${service} ${JSON.stringify(path)} -> ${r.status} ${r.body.slice(0, 160)}`);
      if (hits.internal.length > 0 || hits.published.length > 0) reached.push(`${service} ${JSON.stringify(path)} made a request: ${[...hits.internal, ...hits.published].join(' ')}`);
      hits.internal.length = 0;
      hits.published.length = 0;
    }
    assert.deepEqual(reached, []);
  });

  test('every method and a bad key or content type are refused as client mistakes, not relayed', async () => {
    for (const method of ['CONNECT', 'TRACE', 'GET /internal', 'get\r\n']) {
      const r = await c.post('/portal/api/try', { service: 'orders', method, path: '/x', key: secret });
      assert.equal(r.status, 400, method);
    }
    for (const key of ['a\r\nX-Injected: 1', 'a\u0000b', 'ключ']) {
      const r = await c.post('/portal/api/try', { service: 'orders', method: 'GET', path: '/x', key });
      assert.equal(r.status, 400, JSON.stringify(key));
    }
    for (const content_type of ['text/plain\r\nX-Injected: 1', 'a\u0000']) {
      const r = await c.post('/portal/api/try', { service: 'orders', method: 'POST', path: '/x', key: secret, body: '{}', content_type });
      assert.equal(r.status, 400, JSON.stringify(content_type));
    }
    for (const path of [42, ['/x'], { p: '/x' }]) {
      const r = await c.post('/portal/api/try', { service: 'orders', method: 'GET', path, key: secret });
      assert.equal(r.status, 400, JSON.stringify(path));
    }
    assert.deepEqual(hits.internal, []);
    assert.deepEqual(hits.published, []);
  });

  test('an unpublished service is not found, a published one with a bad path names the problem', async () => {
    for (const service of ['internal', 'orders-internal', 'orders-admin', '../internal']) {
      const r = await c.post('/portal/api/try', { service, method: 'GET', path: '/', key: secret });
      assert.equal(r.status, 404, service);
    }
    const r = await c.post('/portal/api/try', { service: 'orders', method: 'GET', path: '/../internal', key: secret });
    assert.match(r.json['detail'] as string, /"path"/);
    assert.deepEqual(hits.internal, []);
  });
});

describe('try-it on an API routed by host', () => {
  let hosted: PortalGatewayHandle;
  before(async () => {
    hosted = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
portal:
  base_url: https://api.example.com
services:
  - name: billing
    url: ${published.url}
    portal: { published: true }
    routes: [{ hosts: [api.example.com], paths: [/billing] }]
  - name: billing-admin
    url: ${internal.url}
    plugins: { ip-restriction: { allow: [127.0.0.1/32] } }
    routes: [{ hosts: [admin.example.com], paths: [/billing] }, { paths: [/admin] }]
`);
  });
  after(async () => hosted?.close());

  test('the call carries the public base URL\'s Host and reaches only that host\'s routes', async () => {
    const dev = new PortalClient(hosted.portalUrl);
    await dev.signUp('hosted@example.com');
    hits.published.length = 0;
    hits.internal.length = 0;
    const ok = await dev.post('/portal/api/try', { service: 'billing', method: 'GET', path: '/billing/invoices' });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json['status'], 200, ok.body);
    assert.deepEqual(hits.published, ['/billing/invoices']);
    for (const path of ['/admin', '/admin/x', '/billing/../admin']) {
      const r = await dev.post('/portal/api/try', { service: 'billing', method: 'GET', path });
      assert.equal(r.status, 400, path);
    }
    assert.deepEqual(hits.internal, []);
  });
});
