// `openid-connect` piece by piece: the return-path check (open redirects), the signed
// cookies, the memory store's expiry and bounds, and the config checks. The flows against a
// real provider are in test/e2e/openid-connect*.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeaderList } from '../../src/sdk/header-list.js';
import { cookieValues, sign, signedCookie, stripCookies, verify, type CookieSettings } from '../../src/plugins/openid-connect/cookies.js';
import { safeReturnPath } from '../../src/plugins/openid-connect/return-to.js';
import { MemorySessionStore, type SessionData } from '../../src/plugins/openid-connect/session-store.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';

test('return paths: local paths pass; every way to name another site is refused', () => {
  for (const ok of ['/', '/app', '/orders/42?tab=items&x=%2F', '/a%20b', '/a/b#frag', '/%E2%82%AC', '/a//b'])
    assert.equal(safeReturnPath(ok), ok, ok);
  const attacks = [
    '//evil.example', '///evil.example', '/\\evil.example', '/\\/evil.example', '\\\\evil.example', 'https://evil.example', 'http:evil.example', 'javascript:alert(1)',
    'evil.example', '', ' /x', '/\t/evil.example', '/\n/evil.example', '/x\r\nSet-Cookie: a=b', '/%2F%2Fevil.example', '/%2f/evil.example', '/%5Cevil.example',
    '/%5C%5Cevil.example', '/%252F%252Fevil.example', '/%25252F%25252Fevil.example', '/%09/evil.example', '/%0d%0aSet-Cookie:a=b', '/%E0%A4%A', `/${'a'.repeat(3000)}`,
  ];
  for (const bad of attacks) assert.equal(safeReturnPath(bad), null, JSON.stringify(bad));
});

const C: CookieSettings = { name: 'ng_oidc', loginName: 'ng_oidc_login', path: '/', secure: true, secret: 'x'.repeat(40) };

test('cookies: signed per purpose, a tampered value or another secret is refused; the gateway\'s cookies are not forwarded', () => {
  const v = sign(C, 'session', 'abc');
  assert.equal(verify(C, 'session', v), 'abc');
  assert.equal(verify(C, 'login', v), null, 'a session cookie is not a login cookie');
  assert.equal(verify({ ...C, secret: 'y'.repeat(40) }, 'session', v), null);
  assert.equal(verify(C, 'session', 'abd' + v.slice(3)), null);
  assert.equal(verify(C, 'session', 'abc'), null);
  assert.equal(verify(C, 'session', '.x'), null);
  // Several cookies of the name (one planted by a sibling site): the one that verifies wins.
  assert.equal(signedCookie(C, `ng_oidc=forged.sig; a=1; ng_oidc=${v}`, 'ng_oidc', 'session'), 'abc');
  assert.deepEqual(cookieValues('a=1, ng_oidc=x; ng_oidc_login=y', 'ng_oidc'), ['x']);
  const h = new HeaderList(['Cookie', `a=1; ng_oidc=${v}`, 'cookie', 'ng_oidc_login=s.t; b=2']);
  stripCookies(h, ['ng_oidc', 'ng_oidc_login']);
  assert.deepEqual(h.raw, ['cookie', 'a=1; b=2']);
  const only = new HeaderList(['cookie', `ng_oidc=${v}`]);
  stripCookies(only, ['ng_oidc', 'ng_oidc_login']);
  assert.deepEqual(only.raw, []);
});

function session(over: Partial<SessionData> = {}): SessionData {
  return { iss: 'https://op', sub: 'alice', sid: 's1', claims: { sub: 'alice' }, idToken: 'i', accessToken: 'a', refreshToken: null, accessExpiresAt: 0, expiresAt: 10_000, ...over };
}

test('memory store: entries expire; sessions beyond the bound are refused, pending sign-ins push the oldest out', async () => {
  let now = 1000;
  const store = new MemorySessionStore({ maxSessions: 2, maxPendingLogins: 2 }, () => now);
  try {
    assert.equal(await store.create('k1', session()), true);
    assert.equal(await store.create('k2', session({ sub: 'bob', sid: 's2' })), true);
    assert.equal(await store.create('k3', session()), false, 'full');
    now = 20_000;
    assert.equal(store.get('k1'), null, 'expired');
    assert.equal(await store.create('k3', session({ expiresAt: 30_000 })), true, 'expired sessions make room');

    // An update after a logout does not bring the session back.
    await store.delete('k3');
    await store.update('k3', session({ expiresAt: 30_000 }));
    assert.equal(store.get('k3'), null);

    for (const s of ['a', 'b', 'c']) await store.putLogin(s, { verifier: 'v', nonce: 'n', returnTo: '/', expiresAt: now + 5000 });
    assert.equal(await store.takeLogin('a'), null, 'the oldest gave way');
    assert.ok(await store.takeLogin('c'));
    assert.equal(await store.takeLogin('c'), null, 'taken once');
    now += 6000;
    assert.equal(await store.takeLogin('b'), null, 'expired');

    assert.equal(await store.claim('m', now + 1000), true);
    assert.equal(await store.claim('m', now + 1000), false);
    now += 1001;
    assert.equal(await store.claim('m', now + 1000), true, 'an expired marker can be claimed again');
    await store.release('m');
    assert.equal(await store.claim('m', now + 1000), true);

    await store.create('x1', session({ sid: 'p', expiresAt: now + 9000 }));
    await store.create('x2', session({ sid: 'q', expiresAt: now + 9000 }));
    assert.equal(await store.endSessions('https://other', { sid: 'p' }), 0, 'another issuer');
    assert.equal(await store.endSessions('https://op', { sid: 'p' }), 1);
    assert.equal(store.get('x2')?.sid, 'q');
    assert.equal(await store.endSessions('https://op', { sub: 'alice' }), 1);
  } finally {
    store.close();
  }
});

test('config errors point at the field', () => {
  const base = { issuer: 'https://op.example', client_id: 'app', redirect_uri: 'https://app.example/cb', cookie: { secret: 's'.repeat(32) } };
  const problems = (over: Record<string, unknown>) => configProblems(routeWithPlugin('openid-connect', JSON.stringify({ ...base, ...over })), 'oidc.yaml');
  assert.deepEqual(problems({}), []);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ issuer: 'http://op.example' }, /issuer: must be https:\/\//],
    [{ redirect_uri: 'http://app.example/cb' }, /redirect_uri: must be https:\/\//],
    [{ redirect_uri: 'https://app.example/cb?x=1' }, /redirect_uri: must not have a query/],
    [{ issuer: 'https://user:pw@op.example' }, /issuer: must not carry credentials/],
    [{ cookie: { secret: 'short' } }, /cookie\.secret: must be at least 32 characters/],
    [{ cookie: { secret: 's'.repeat(32), name: '__Host-s', path: '/app' } }, /cookie\.name: a __Host- cookie needs Secure and path "\/"/],
    [{ cookie: { secret: 's'.repeat(32), name: '__Secure-s', dangerously_allow_plain_http: true } }, /cookie\.name: a __Secure- cookie needs Secure/],
    [{ cookie: { secret: 's'.repeat(32), name: 'bad name' } }, /cookie\.name: must be a cookie name/],
    [{ session: { store: 'redis' } }, /session\.redis: store "redis" needs redis: \{ url \}/],
    [{ session: { store: 'postgres' } }, /session\.postgres: store "postgres" needs/],
    [{ session: { store: 'redis', redis: { url: 'redis://x' }, path: 'a.db' } }, /session\.path: path is the SQLite file/],
    [{ session: { max_sessions: 0 } }, /session\.max_sessions/],
    [{ session: { ttl: '5s' } }, /session\.ttl: must be at least 1m/],
    [{ claim_headers: { 'X-Consumer-Id': 'sub' } }, /claim_headers\.X-Consumer-Id: cannot be sent as X-Consumer-Id/],
    [{ claim_headers: { Authorization: 'sub' } }, /claim_headers\.Authorization: cannot be sent/],
    [{ id_token_header: 'Cookie' }, /id_token_header: cannot be sent as Cookie/],
    [{ login_path: '/x', logout_path: '/x' }, /must differ/],
    [{ logout_path: '/cb' }, /redirect_uri: its path is also one of/],
    [{ login_path: 'x' }, /login_path: must be a path starting with \//],
    [{ timeout: '10ms' }, /timeout: must be at least 100ms/],
    [{ cookie: { secret: 's'.repeat(32), path: '/app' } }, /redirect_uri: its path must be under cookie\.path "\/app"/],
    [{ cookie: { secret: 's'.repeat(32), path: '/app' }, redirect_uri: 'https://app.example/app/cb', logout_path: '/application/out' }, /logout_path: must be under cookie\.path "\/app"/],
  ];
  for (const [over, message] of cases) {
    const p = problems(over);
    assert.ok(p.some((line) => /^oidc\.yaml:\d+:\d+ /.test(line) && message.test(line)), `${JSON.stringify(over)}: ${p.join('\n')}`);
  }
  // Plain http for a developer's machine: the provider on loopback, the site with the loudly named switch.
  assert.deepEqual(problems({ issuer: 'http://127.0.0.1:9000', redirect_uri: 'http://dev.local/cb', cookie: { secret: 's'.repeat(32), dangerously_allow_plain_http: true } }), []);
});

test('a provider or a session store that cannot be reached is 503 problem+json, never a pass or a 500', async () => {
  const { createTestGateway } = await import('../../src/testing/index.js');
  const { closedPort } = await import('../helpers/introspection-server.js');
  const port = await closedPort();
  const plugin = (session: Record<string, unknown>) => ({ issuer: `http://127.0.0.1:${port}`, client_id: 'app', redirect_uri: 'http://127.0.0.1/cb', cookie: { secret: 's'.repeat(32) }, timeout: '500ms', session });
  const cookie = `ng_oidc=${sign({ ...C, secret: 's'.repeat(32) }, 'session', 'x'.repeat(43))}`;
  const gw = createTestGateway({
    config: {
      services: [
        { name: 'a', url: 'http://up', routes: [{ name: 'mem', paths: ['/mem'], plugins: { 'openid-connect': plugin({}) } }] },
        { name: 'b', url: 'http://up', routes: [{ name: 'redis', paths: ['/redis'], plugins: { 'openid-connect': plugin({ store: 'redis', redis: { url: `redis://127.0.0.1:${port}`, timeout: '200ms' } }) } }] },
        { name: 'c', url: 'http://up', routes: [{ name: 'pg', paths: ['/pg'], plugins: { 'openid-connect': plugin({ store: 'postgres', postgres: { url: `postgres://nobody@127.0.0.1:${port}/x`, timeout: '300ms' } }) } }] },
      ],
    },
    upstreams: { up: () => ({ status: 200, body: 'should not be reached' }) },
  });
  try {
    // The provider is down: a browser cannot be sent to it.
    const nav = await gw.request({ path: '/mem/x', headers: { accept: 'text/html' } });
    assert.equal(nav.status, 503);
    assert.equal(nav.json<{ type: string }>().type, 'urn:northgate:problem:auth-unavailable');
    // The store is down: a request with a (well signed) session cookie cannot be admitted.
    for (const path of ['/redis/x', '/pg/x']) {
      const r = await gw.request({ path, headers: { accept: 'application/json', cookie } });
      assert.equal(r.status, 503, `${path}: ${r.body}`);
      assert.equal(r.json<{ type: string }>().type, 'urn:northgate:problem:auth-unavailable');
    }
    assert.equal(gw.received('up').length, 0);
  } finally {
    await gw.close();
  }
});
