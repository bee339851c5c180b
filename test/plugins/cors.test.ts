// The `cors` plugin: schema checks, preflights answered by the gateway, Vary, and attack cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, type TestGateway, type TestResponse, type TestUpstream } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'c.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('cors', plugin);

const varyTokens = (res: TestResponse): string[] =>
  ([] as string[]).concat(res.headers['vary'] ?? []).flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase());

describe('cors plugin schema', () => {
  test('"*" with credentials is refused at load', () => {
    const lines = problemsOf(withPlugin('{ origins: ["*"], credentials: true }'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^c\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.cors\.credentials: credentials cannot be combined with the origin "\*"/);
  });

  test('the default origins ("*") with credentials is refused too', () => {
    const lines = problemsOf(withPlugin('{ credentials: true }'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /plugins\.cors\.credentials: credentials cannot be combined/);
  });

  test('invalid regex, unanchored regex, bad wildcard, null origin and paths are refused with their index', () => {
    const lines = problemsOf(withPlugin('{ origins: ["~^https://(a$", "~https://.*\\\\.example\\\\.org", "https://a.*.example.com", "null", "https://example.com/app", "*"] }'));
    const by = (i: number) => lines.find((l) => l.includes(`plugins.cors.origins[${i}]:`)) ?? '';
    assert.match(by(0), /invalid regular expression/);
    assert.match(by(1), /must be anchored/);
    assert.match(by(2), /wildcard origin must look like/);
    assert.match(by(3), /"null" origin/);
    assert.match(by(4), /did you mean "https:\/\/example\.com"/);
    assert.ok(lines.some((l) => /plugins\.cors\.origins: "\*" allows every origin: list no other origin with it$/.test(l)), lines.join('\n'));
    assert.equal(lines.length, 6, lines.join('\n'));
  });

  test('"*" among other methods, headers or exposed headers is refused; preflight_status is 200 or 204', () => {
    const lines = problemsOf(withPlugin('{ origins: ["https://a.example"], methods: ["GET", "*"], headers: ["*", "x-a"], exposed_headers: ["*", "x-b"] }'));
    for (const key of ['methods', 'headers', 'exposed_headers']) {
      assert.ok(lines.some((l) => l.endsWith(`plugins.cors.${key}: "*" stands for every name: list no other with it`)), `${key}: ${lines.join('\n')}`);
    }
    assert.equal(lines.length, 3, lines.join('\n'));
    const status = problemsOf(withPlugin('{ origins: ["https://a.example"], preflight_status: 201 }'));
    assert.equal(status.length, 1, status.join('\n'));
    assert.match(status[0]!, /plugins\.cors\.preflight_status: must be one of: 200, 204$/);
    assert.deepEqual(problemsOf(withPlugin('{ origins: ["https://a.example"], methods: ["*"], headers: ["*"], exposed_headers: ["*"], credentials: true, preflight_status: 200 }')), []);
  });

  test('unknown keys and bad types are refused with their paths', () => {
    const lines = problemsOf(withPlugin('{ origin: ["https://a.com"], max_age: -1 }'));
    assert.ok(lines.some((l) => /plugins\.cors\.origin: unknown key "origin" \(did you mean "origins"\?\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /plugins\.cors\.max_age:/.test(l)), lines.join('\n'));
  });
});

describe('cors plugin behaviour', () => {
  let up: TestUpstream;
  let gw: TestGateway;
  let upstreamRequests = 0;
  before(async () => {
    up = createServer((req, res) => {
      upstreamRequests++;
      if (req.url === '/own-cors') res.setHeader('access-control-allow-origin', '*');
      if (req.url === '/vary') res.setHeader('vary', 'Accept-Encoding');
      if (req.url!.endsWith('/expose')) {
        res.setHeader('x-custom', '1');
        res.setHeader('X-Trace', '2');
        res.setHeader('cache-control', 'no-store');
      }
      res.setHeader('content-type', 'text/plain');
      res.end('ok');
    });
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://up"
    routes:
      - name: strict
        paths: ["/"]
        plugins:
          cors:
            origins: ["https://app.example.net", "https://*.example.com", "~^https://[a-z]+\\\\.example\\\\.org$"]
            methods: [GET, POST]
            headers: [content-type, x-api-key]
            exposed_headers: [x-request-id]
            credentials: true
            max_age: 600
      - name: open
        paths: ["/open"]
        plugins:
          cors: {}
      - name: status-200
        paths: ["/p200"]
        plugins:
          cors: { origins: ["https://app.example.net"], preflight_status: 200 }
      - name: wildcards-with-credentials
        paths: ["/wild-cred"]
        plugins:
          cors: { origins: ["https://app.example.net"], methods: ["*"], headers: ["*"], exposed_headers: ["*"], credentials: true }
      - name: wildcards
        paths: ["/wild-open"]
        plugins:
          cors: { origins: ["https://app.example.net"], methods: ["*"], headers: ["*"], exposed_headers: ["*"] }
      - name: alternation
        paths: ["/alt"]
        plugins:
          cors: { origins: ["~^https://a\\\\.example\\\\.com|https://b\\\\.example\\\\.com$"] }
      - name: any-origin-with-credentials
        paths: ["/any-cred"]
        plugins:
          cors: { origins: ["~^.+$"], credentials: true }
`, upstreams: { up } });
  });
  after(async () => {
    await gw.close();
  });

  const preflight = (origin: string, path = '/', extra: Record<string, string> = {}) =>
    gw.request({ path, method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', ...extra } });

  test('a preflight from an allowed origin is answered by the gateway (the upstream sees nothing)', async () => {
    const before = upstreamRequests;
    const res = await preflight('https://app.example.net', '/', { 'access-control-request-headers': 'content-type' });
    assert.equal(res.status, 204);
    assert.equal(res.body, '');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.net');
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST');
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-api-key');
    assert.equal(res.headers['access-control-max-age'], '600');
    // Browsers read it on actual responses only; the preflight carries it as Envoy's does.
    assert.equal(res.headers['access-control-expose-headers'], 'x-request-id');
    assert.ok(varyTokens(res).includes('origin'));
    assert.equal(upstreamRequests, before, 'the preflight never reached the upstream');
  });

  test('simple requests from allowed origins (exact, wildcard subdomain, regex) get CORS headers and Vary: Origin', async () => {
    for (const origin of ['https://app.example.net', 'https://a.example.com', 'https://deep.sub.example.com', 'https://shop.example.org']) {
      const res = await gw.request({ path: '/x', headers: { origin } });
      assert.equal(res.status, 200, origin);
      assert.equal(res.headers['access-control-allow-origin'], origin, origin);
      assert.equal(res.headers['access-control-allow-credentials'], 'true');
      assert.equal(res.headers['access-control-expose-headers'], 'x-request-id');
      assert.deepEqual(varyTokens(res), ['origin'], origin);
    }
  });

  test('a request without Origin still gets Vary: Origin (a cache must not serve it to a cross-origin request)', async () => {
    const res = await gw.request({ path: '/x' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.deepEqual(varyTokens(res), ['origin']);
  });

  test('Vary from the upstream is kept and Origin added once', async () => {
    const res = await gw.request({ path: '/vary', headers: { origin: 'https://app.example.net' } });
    assert.deepEqual(varyTokens(res).sort(), ['accept-encoding', 'origin']);
  });

  test('attack: look-alike origins get no CORS headers, and their preflight is a 403 problem', async () => {
    const evil = [
      'https://evil-example.com',
      'https://example.com.evil.org',
      'https://example.com',
      'http://a.example.com',
      'https://a.example.com:8443',
      'https://a.example.com.evil.org',
      'https://app.example.net.evil.org',
      'https://shop.example.org.evil.com',
      'https://evil.com/https://a.example.com',
      'null',
    ];
    for (const origin of evil) {
      const res = await gw.request({ path: '/x', headers: { origin } });
      assert.equal(res.status, 200, origin);
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
      assert.equal(res.headers['access-control-allow-credentials'], undefined, origin);
      assert.ok(varyTokens(res).includes('origin'), origin);
      const before = upstreamRequests;
      const pf = await preflight(origin);
      assert.equal(pf.status, 403, origin);
      assert.equal(pf.headers['content-type'], 'application/problem+json');
      assert.equal((JSON.parse(pf.body) as { type: string }).type, 'urn:northgate:problem:forbidden');
      assert.equal(pf.headers['access-control-allow-origin'], undefined, origin);
      assert.ok(varyTokens(pf).includes('origin'), 'the 403 depends on the Origin too');
      assert.equal(upstreamRequests, before, 'a refused preflight does not reach the upstream either');
    }
  });

  test('attack: two Origin headers (joined by node) never match, even a loose regex', async () => {
    const res = await gw.request({ path: '/x', headers: ['Origin', 'https://evil.com', 'Origin', 'https://shop.example.org'] });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('the upstream\'s own CORS headers are removed for a disallowed origin', async () => {
    const res = await gw.request({ path: '/own-cors', headers: { origin: 'https://evil.com' } });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const ok = await gw.request({ path: '/own-cors', headers: { origin: 'https://a.example.com' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://a.example.com', 'the plugin\'s answer replaces the upstream\'s');
  });

  test('default config: "*" for any origin (also null), no Vary: Origin, request headers reflected when valid', async () => {
    const res = await gw.request({ path: '/open', headers: { origin: 'null' } });
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.ok(!varyTokens(res).includes('origin'));
    const pf = await preflight('https://any.site', '/open', { 'access-control-request-headers': 'Content-Type, X-Foo' });
    assert.equal(pf.status, 204);
    assert.equal(pf.headers['access-control-allow-origin'], '*');
    assert.equal(pf.headers['access-control-allow-methods'], 'GET, HEAD, PUT, PATCH, POST, DELETE');
    assert.equal(pf.headers['access-control-allow-headers'], 'Content-Type, X-Foo');
    assert.ok(varyTokens(pf).includes('access-control-request-headers'));
    const bad = await preflight('https://any.site', '/open', { 'access-control-request-headers': 'x-a; x-b=c' });
    assert.equal(bad.headers['access-control-allow-headers'], undefined, 'a malformed list is not reflected');
  });

  test('OPTIONS without Access-Control-Request-Method is an ordinary request, forwarded', async () => {
    const before = upstreamRequests;
    const res = await gw.request({ path: '/x', method: 'OPTIONS', headers: { origin: 'https://app.example.net' } });
    assert.equal(res.status, 200);
    assert.equal(upstreamRequests, before + 1);
    assert.equal(res.headers['access-control-allow-methods'], undefined);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.net');
  });

  test('the gateway\'s own error replies get CORS headers and Vary: Origin too', async () => {
    const gw2 = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:9"
    routes: [{ paths: ["/"], plugins: { cors: { origins: ["https://app.example.net"] } } }]
` });
    try {
      const res = await gw2.request({ path: '/', headers: { origin: 'https://app.example.net' } });
      assert.equal(res.status, 502);
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.net');
      assert.deepEqual(varyTokens(res), ['origin']);
    } finally {
      await gw2.close();
    }
  });

  test('preflight_status: 200 answers preflights 200 with an empty body (the default stays 204)', async () => {
    const res = await preflight('https://app.example.net', '/p200');
    assert.equal(res.status, 200);
    assert.equal(res.body, '');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.net');
    assert.equal((await preflight('https://app.example.net', '/open')).status, 204);
    assert.equal((await preflight('https://evil.example', '/p200')).status, 403, 'a refused origin is still refused');
  });

  test('"*" with credentials is never sent: the requested method and headers are answered back, the response\'s header names exposed', async () => {
    const pf = await preflight('https://app.example.net', '/wild-cred', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a, x-b' });
    assert.equal(pf.status, 204);
    assert.equal(pf.headers['access-control-allow-methods'], 'PUT');
    assert.equal(pf.headers['access-control-allow-headers'], 'x-a, x-b');
    assert.equal(pf.headers['access-control-allow-credentials'], 'true');
    assert.equal(pf.headers['access-control-expose-headers'], undefined, 'no names to list on a preflight');
    assert.ok(varyTokens(pf).includes('access-control-request-method'));
    assert.ok(varyTokens(pf).includes('access-control-request-headers'));
    for (const asked of ['PUT, DELETE', 'P UT', '']) {
      const bad = await preflight('https://app.example.net', '/wild-cred', { 'access-control-request-method': asked });
      assert.equal(bad.headers['access-control-allow-methods'], undefined, `a malformed method is not answered back: ${JSON.stringify(asked)}`);
    }
    const res = await gw.request({ path: '/wild-cred/expose', headers: { origin: 'https://app.example.net' } });
    assert.equal(res.status, 200);
    const exposed = String(res.headers['access-control-expose-headers']).split(', ');
    assert.ok(exposed.includes('x-custom') && exposed.includes('x-trace'), exposed.join());
    assert.ok(!exposed.includes('*') && !exposed.includes('cache-control') && !exposed.includes('content-type') && !exposed.some((n) => n.startsWith('access-control-')), exposed.join());
  });

  test('"*" without credentials is sent as "*"', async () => {
    const pf = await preflight('https://app.example.net', '/wild-open', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-a' });
    assert.equal(pf.headers['access-control-allow-methods'], '*');
    assert.equal(pf.headers['access-control-allow-headers'], '*');
    const res = await gw.request({ path: '/wild-open/expose', headers: { origin: 'https://app.example.net' } });
    assert.equal(res.headers['access-control-expose-headers'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
  });

  test('attack: a regex origin whose alternation escapes its anchors still matches whole origins only', async () => {
    for (const origin of ['https://a.example.com', 'https://b.example.com']) {
      const res = await gw.request({ path: '/alt', headers: { origin } });
      assert.equal(res.headers['access-control-allow-origin'], origin, origin);
    }
    for (const origin of ['https://a.example.com.evil.org', 'https://a.example.com:8443', 'xhttps://b.example.com']) {
      const res = await gw.request({ path: '/alt', headers: { origin } });
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
      assert.equal((await preflight(origin, '/alt')).status, 403, origin);
    }
  });

  test('attack: a pattern admitting any origin with credentials reflects serialized origins only, never null or a joined pair', async () => {
    const ok = await gw.request({ path: '/any-cred', headers: { origin: 'https://anything.example' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://anything.example');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.ok(varyTokens(ok).includes('origin'));
    const attempts: Array<Record<string, string> | string[]> = [{ origin: 'null' }, { origin: 'file://' }, { origin: 'https://a.example/path' }, ['Host', 'localhost', 'Origin', 'https://a.example', 'Origin', 'https://b.example']];
    for (const headers of attempts) {
      const res = await gw.request({ path: '/any-cred', headers });
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(res.headers['access-control-allow-origin'], undefined, JSON.stringify(headers));
      assert.equal(res.headers['access-control-allow-credentials'], undefined, JSON.stringify(headers));
    }
    assert.equal((await preflight('null', '/any-cred')).status, 403);
  });
});
