// `introspection` (RFC 7662) against a real introspection endpoint on 127.0.0.1: active,
// inactive and expired tokens, scopes, audience and issuer, consumer mapping, forwarded
// claims that cannot inject headers, both client authentications, the cache (hits, expiry at
// exp, refusals kept apart), request collapsing, and an endpoint that is down, slow, failing
// or hostile: always 503 and the upstream never reached. The gateway side runs in-process.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, afterEach, before, describe, test } from 'node:test';
import { clock } from '../../src/base/clock.js';
import { remoteFetchFailedChannel } from '../../src/base/events.js';
import type { RemoteFetchFailure } from '../../src/base/remote-document.js';
import { ConfigError } from '../../src/base/problems.js';
import { loadConfigText } from '../../src/compiler/load.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import type { Plugin } from '../../src/sdk/plugin.js';
import { createTestGateway, echoUpstream, type TestGateway, type TestResponse } from '../../src/testing/index.js';
import { CertDir } from '../helpers/certs.js';
import { closedPort, startIntrospectionServer, type IntrospectionServer } from '../helpers/introspection-server.js';

const SECRET = 's3cret: with spaces & more';
const nowSec = () => Math.floor(clock.now() / 1000);
const upstreamHeaders = (res: TestResponse) => res.json<{ headers: Record<string, string | undefined> }>().headers;

function gatewayFor(endpoint: string, plugin: Record<string, unknown>, extra: { plugins?: Plugin[]; env?: NodeJS.ProcessEnv } = {}): TestGateway {
  return createTestGateway({
    config: {
      _format_version: '1',
      consumers: [
        { username: 'alice', groups: ['staff'] },
        { username: 'svc', id: 'client-42' },
      ],
      services: [{ name: 's', url: 'http://upstream', routes: [{ name: 'r', paths: ['/'], plugins: { introspection: { endpoint, client_id: 'gateway', client_secret: '${CLIENT_SECRET}', ...plugin } } }] }],
    },
    upstreams: { upstream: echoUpstream },
    env: { CLIENT_SECRET: SECRET, ...extra.env },
    ...(extra.plugins ? { plugins: extra.plugins } : {}),
  });
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('introspection: answers', () => {
  let as: IntrospectionServer;
  let gw: TestGateway;
  before(async () => {
    as = await startIntrospectionServer({ clientSecret: SECRET });
    gw = gatewayFor(as.url, { required_scopes: ['read'], forward_claims: { 'x-user': 'sub', 'x-scope': 'scope', 'x-evil': 'evil', 'x-name': 'name', 'x-roles': 'roles' }, cache: { ttl: '0s', inactive_ttl: '0s' } });
    as.tokens.set('tok-alice', { active: true, sub: 'alice', scope: 'read write', exp: nowSec() + 600, name: 'Zoë', roles: ['a', 'b'], evil: 'x\r\nX-Consumer-Id: admin' });
    as.tokens.set('tok-external', { active: true, sub: 'someone-else', scope: 'read' });
    as.tokens.set('tok-expired', { active: true, sub: 'alice', scope: 'read', exp: nowSec() - 1 });
    as.tokens.set('tok-future', { active: true, sub: 'alice', scope: 'read', nbf: nowSec() + 600 });
    as.tokens.set('tok-no-scope', { active: true, sub: 'alice', scope: 'write readonly' });
    as.tokens.set('tok-no-sub', { active: true, scope: 'read' });
  });
  after(async () => {
    await gw.close();
    await as.close();
  });

  test('an active token authenticates: identity headers, claims forwarded, Authorization hidden', async () => {
    const res = await gw.request({ headers: { authorization: 'Bearer tok-alice', 'x-consumer-id': 'spoofed', 'x-evil': 'client-sent' } });
    assert.equal(res.status, 200);
    const h = upstreamHeaders(res);
    assert.equal(h['x-consumer-username'], 'alice');
    assert.equal(h['x-consumer-groups'], 'staff');
    assert.notEqual(h['x-consumer-id'], 'spoofed');
    assert.equal(h['x-user'], 'alice');
    assert.equal(h['x-scope'], 'read write');
    assert.equal(h['x-roles'], 'a,b');
    assert.equal(h['authorization'], undefined);
    // A claim with CR LF, or outside visible ASCII, is not forwarded; nor is the client's own copy.
    assert.equal(h['x-evil'], undefined);
    assert.equal(h['x-name'], undefined);
    assert.equal(h['x-credential-id'], undefined);
    const last = as.seen.at(-1)!;
    assert.equal(last.contentType, 'application/x-www-form-urlencoded');
    assert.equal(last.form.get('token'), 'tok-alice');
    assert.match(last.authorization!, /^Basic /);
    assert.equal(last.form.get('client_secret'), null);
  });

  test('a subject that is no configured consumer is an external consumer', async () => {
    const res = await gw.request(bearer('tok-external'));
    assert.equal(res.status, 200);
    assert.equal(upstreamHeaders(res)['x-consumer-username'], 'someone-else');
  });

  for (const [token, why] of [['unknown-token', 'inactive'], ['tok-expired', 'past exp'], ['tok-future', 'before nbf'], ['tok-no-sub', 'no consumer claim']] as const) {
    test(`a token ${why} is 401 invalid_token and the upstream is not reached`, async () => {
      const before = gw.received('upstream').length;
      const res = await gw.request(bearer(token));
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="northgate", error="invalid_token"');
      assert.equal(res.json<{ type: string }>().type, 'urn:northgate:problem:unauthorized');
      assert.equal(gw.received('upstream').length, before);
    });
  }

  test('a missing scope is 403 insufficient_scope naming the scopes required', async () => {
    const res = await gw.request(bearer('tok-no-scope'));
    assert.equal(res.status, 403);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="northgate", error="insufficient_scope", scope="read"');
    assert.equal(res.json<{ type: string }>().type, 'urn:northgate:problem:forbidden');
  });

  test('no Bearer token is 401 with the plain challenge; a malformed one is invalid_token without a call', async () => {
    const calls = as.calls;
    for (const headers of [{}, { authorization: "Basic YTpi" }] as Array<Record<string, string>>) {
      const res = await gw.request({ headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="northgate"');
    }
    for (const value of ['Bearer', 'Bearer two tokens', 'Bearer t\u00f6k', `Bearer ${'a'.repeat(5000)}`]) {
      const res = await gw.request({ headers: { authorization: value } });
      assert.equal(res.status, 401, value);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="northgate", error="invalid_token"');
    }
    assert.equal(as.calls, calls);
  });
});

describe('introspection: audience, issuer, consumer claim, client_secret_post', () => {
  let as: IntrospectionServer;
  let gw: TestGateway;
  before(async () => {
    as = await startIntrospectionServer({ clientSecret: SECRET });
    gw = gatewayFor(as.url, { client_auth: 'client_secret_post', token_type_hint: 'access_token', audience: ['orders', 'billing'], issuer: 'https://as.test', consumer_claim: 'client_id', hide_credentials: false });
    as.tokens.set('ok', { active: true, client_id: 'client-42', aud: ['other', 'orders'], iss: 'https://as.test' });
    as.tokens.set('wrong-aud', { active: true, client_id: 'client-42', aud: 'other', iss: 'https://as.test' });
    as.tokens.set('no-aud', { active: true, client_id: 'client-42', iss: 'https://as.test' });
    as.tokens.set('wrong-iss', { active: true, client_id: 'client-42', aud: 'orders', iss: 'https://evil.test' });
  });
  after(async () => {
    await gw.close();
    await as.close();
  });

  test('the consumer is found by id from client_id; credentials go in the form body', async () => {
    const res = await gw.request(bearer('ok'));
    assert.equal(res.status, 200);
    const h = upstreamHeaders(res);
    assert.equal(h['x-consumer-username'], 'svc');
    assert.equal(h['x-consumer-id'], 'client-42');
    assert.equal(h['authorization'], 'Bearer ok', 'hide_credentials: false forwards the token');
    const last = as.seen.at(-1)!;
    assert.equal(last.authorization, undefined);
    assert.equal(last.form.get('client_id'), 'gateway');
    assert.equal(last.form.get('client_secret'), SECRET);
    assert.equal(last.form.get('token_type_hint'), 'access_token');
  });

  for (const token of ['wrong-aud', 'no-aud', 'wrong-iss']) {
    test(`${token} is 401`, async () => {
      assert.equal((await gw.request(bearer(token))).status, 401);
    });
  }
});

describe('introspection: cache and collapsing', () => {
  let as: IntrospectionServer;
  const realNow = clock.now;
  before(async () => {
    as = await startIntrospectionServer({ clientSecret: SECRET });
  });
  afterEach(() => {
    clock.now = realNow;
    as.mode = 'ok';
  });
  after(() => as.close());

  test('an active answer is reused until the token expires, then asked again', async () => {
    const t0 = clock.now();
    clock.now = () => t0;
    as.tokens.set('short', { active: true, sub: 'alice', exp: Math.floor(t0 / 1000) + 30 });
    const gw = gatewayFor(as.url, { cache: { ttl: '60s' } });
    const calls = as.calls;
    for (let i = 0; i < 5; i++) assert.equal((await gw.request(bearer('short'))).status, 200);
    assert.equal(as.calls, calls + 1);
    clock.now = () => t0 + 29_000;
    assert.equal((await gw.request(bearer('short'))).status, 200);
    assert.equal(as.calls, calls + 1);
    // At exp the entry is gone; the endpoint is asked again (and the token is now expired).
    clock.now = () => t0 + 30_000;
    assert.equal((await gw.request(bearer('short'))).status, 401);
    assert.equal(as.calls, calls + 2);
    await gw.close();
  });

  test('an answer without exp lives for the ttl', async () => {
    const t0 = clock.now();
    clock.now = () => t0;
    as.tokens.set('no-exp', { active: true, sub: 'alice' });
    const gw = gatewayFor(as.url, { cache: { ttl: '10s' } });
    const calls = as.calls;
    await gw.request(bearer('no-exp'));
    clock.now = () => t0 + 9_999;
    await gw.request(bearer('no-exp'));
    assert.equal(as.calls, calls + 1);
    clock.now = () => t0 + 10_000;
    await gw.request(bearer('no-exp'));
    assert.equal(as.calls, calls + 2);
    await gw.close();
  });

  test('inactive answers are kept for inactive_ttl only, and never as a pass', async () => {
    const t0 = clock.now();
    clock.now = () => t0;
    const gw = gatewayFor(as.url, {});
    const calls = as.calls;
    assert.equal((await gw.request(bearer('revoked'))).status, 401);
    assert.equal((await gw.request(bearer('revoked'))).status, 401);
    assert.equal(as.calls, calls + 1);
    clock.now = () => t0 + 5_000;
    as.tokens.set('revoked', { active: true, sub: 'alice' });
    assert.equal((await gw.request(bearer('revoked'))).status, 200);
    assert.equal(as.calls, calls + 2);
    await gw.close();
  });

  test('max_entries bounds the cache: the least recently used answer goes first', async () => {
    for (const t of ['a1', 'a2', 'a3']) as.tokens.set(t, { active: true, sub: 'alice' });
    const gw = gatewayFor(as.url, { cache: { max_entries: 2 } });
    const calls = as.calls;
    await gw.request(bearer('a1'));
    await gw.request(bearer('a2'));
    await gw.request(bearer('a1')); // a1 is now the most recently used
    await gw.request(bearer('a3')); // evicts a2
    assert.equal(as.calls, calls + 3);
    await gw.request(bearer('a1'));
    assert.equal(as.calls, calls + 3);
    await gw.request(bearer('a2'));
    assert.equal(as.calls, calls + 4);
    await gw.close();
  });

  test('N parallel requests with the same uncached token make one call', async () => {
    const N = 20;
    let arrived = 0;
    let allArrived!: () => void;
    const reached = new Promise<void>((r) => (allArrived = r));
    // Runs just before introspection, synchronously: once it has seen N requests, all N asked.
    const counter: Plugin = { name: 'counter', priority: 5000, schema: { type: 'object' }, create: () => ({ request: () => void (++arrived === N && allArrived()) }) };
    as.tokens.set('shared', { active: true, sub: 'alice' });
    const gw = createTestGateway({
      config: { _format_version: '1', plugins: { counter: {} }, services: [{ name: 's', url: 'http://upstream', routes: [{ paths: ['/'], plugins: { introspection: { endpoint: as.url, client_id: 'gateway', client_secret: SECRET } } }] }] },
      upstreams: { upstream: echoUpstream },
      plugins: [counter],
    });
    as.mode = 'hold';
    const calls = as.calls;
    const responses = Array.from({ length: N }, () => gw.request(bearer('shared')));
    await reached;
    await as.received(calls + 1);
    as.release();
    const statuses = (await Promise.all(responses)).map((r) => r.status);
    assert.deepEqual(statuses, Array(N).fill(200));
    assert.equal(as.calls, calls + 1);
    await gw.close();
  });
});

describe('introspection: an endpoint that cannot answer is 503, never a pass', () => {
  let as: IntrospectionServer;
  let gw: TestGateway;
  const failures: RemoteFetchFailure[] = [];
  const onFailure = (m: unknown) => failures.push(m as RemoteFetchFailure);
  before(async () => {
    subscribe(remoteFetchFailedChannel.name, onFailure);
    as = await startIntrospectionServer({ clientSecret: SECRET });
    as.tokens.set('good-token', { active: true, sub: 'alice' });
    // Long enough that a loaded machine answers the other cases in time; only `hold` waits it out.
    gw = gatewayFor(as.url, { timeout: '1s' });
  });
  after(async () => {
    unsubscribe(remoteFetchFailedChannel.name, onFailure);
    await gw.close();
    await as.close();
  });

  const cases = [
    ['status-500', /answered 500/],
    ['not-json', /invalid JSON/],
    ['no-active', /without a boolean "active"/],
    ['html', /JSON Content-Type/],
    ['huge', /more than 65536 bytes/],
    ['hold', /no complete answer within 1000 ms/],
  ] as const;
  for (const [mode, reason] of cases) {
    test(`${mode}: 503 auth-unavailable, upstream not reached, the reason reported without the token`, async () => {
      as.mode = mode;
      failures.length = 0;
      const upstreamBefore = gw.received('upstream').length;
      const res = await gw.request(bearer('good-token'));
      as.mode = 'ok';
      as.release();
      assert.equal(res.status, 503);
      assert.equal(res.json<{ type: string }>().type, 'urn:northgate:problem:auth-unavailable');
      assert.equal(gw.received('upstream').length, upstreamBefore);
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.what, 'token introspection');
      assert.match(failures[0]!.reason, reason);
      assert.doesNotMatch(JSON.stringify(failures), /good-token|s3cret/);
    });
  }

  test('a failure is not cached: once the endpoint answers again, the token passes', async () => {
    assert.equal((await gw.request(bearer('good-token'))).status, 200);
  });

  test('wrong client credentials (the endpoint answers 401) are 503, not 401 to the client', async () => {
    const wrong = gatewayFor(as.url, {}, { env: { CLIENT_SECRET: 'not-it' } });
    failures.length = 0;
    const res = await wrong.request(bearer('good-token'));
    assert.equal(res.status, 503);
    assert.match(failures[0]!.reason, /answered 401/);
    await wrong.close();
  });

  test('an endpoint nobody listens on is 503', async () => {
    const down = gatewayFor(`http://127.0.0.1:${await closedPort()}/introspect`, {});
    failures.length = 0;
    const res = await down.request(bearer('good-token'));
    assert.equal(res.status, 503);
    assert.match(failures[0]!.reason, /cannot be reached \(ECONNREFUSED\)/);
    await down.close();
  });
});

describe('introspection: https with ca, and inside auth.any', () => {
  let as: IntrospectionServer;
  let certs: CertDir;
  before(async () => {
    certs = new CertDir().ca('as-ca').leaf('as', '127.0.0.1', 'as-ca', 'IP:127.0.0.1').ca('other-ca');
    as = await startIntrospectionServer({ clientSecret: SECRET, tls: { key: certs.read('as.key'), cert: certs.read('as.crt') } });
    as.tokens.set('tls-token', { active: true, sub: 'alice' });
  });
  after(() => as.close());

  test('the endpoint certificate is verified against ca', async () => {
    const gw = gatewayFor(as.url, { ca: certs.path('as-ca.crt') });
    assert.equal((await gw.request(bearer('tls-token'))).status, 200);
    await gw.close();
    const wrong = gatewayFor(as.url, { ca: certs.path('other-ca.crt') });
    assert.equal((await wrong.request(bearer('tls-token'))).status, 503);
    await wrong.close();
  });

  test('as a method of auth: key or token; an endpoint failure is 503, never the anonymous consumer', async () => {
    const config = (endpoint: string) => ({
      _format_version: '1',
      consumers: [{ username: 'alice', credentials: { 'key-auth': [{ key: 'alice-key' }] } }, { username: 'guest' }],
      services: [{ name: 's', url: 'http://upstream', routes: [{ paths: ['/'], plugins: { auth: { any: [{ 'key-auth': {} }, { introspection: { endpoint, client_id: 'gateway', client_secret: SECRET, ca: certs.path('as-ca.crt'), required_scopes: ['read'] } }], anonymous: 'guest' } } }] }],
    });
    const gw = createTestGateway({ config: config(as.url), upstreams: { upstream: echoUpstream } });
    as.tokens.set('scoped', { active: true, sub: 'alice', scope: 'read' });
    assert.equal(upstreamHeaders(await gw.request({ headers: { apikey: 'alice-key' } }))['x-consumer-username'], 'alice');
    assert.equal(upstreamHeaders(await gw.request(bearer('scoped')))['x-consumer-username'], 'alice');
    assert.equal(upstreamHeaders(await gw.request())['x-consumer-username'], 'guest');
    assert.equal((await gw.request(bearer('inactive'))).status, 401);
    const forbidden = await gw.request(bearer('tls-token'));
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.headers['www-authenticate']), /error="insufficient_scope"/);
    await gw.close();
    const down = createTestGateway({ config: config(`https://127.0.0.1:${await closedPort()}/x`), upstreams: { upstream: echoUpstream } });
    assert.equal((await down.request(bearer('scoped'))).status, 503);
    await down.close();
  });
});

describe('introspection: config', () => {
  const problems = (plugin: string): string[] => {
    try {
      loadConfigText('i.yaml', `_format_version: "1"\nservices:\n  - name: s\n    url: http://u\n    routes:\n      - paths: ["/"]\n        plugins:\n          ${plugin}\n`, defaultRegistry(), {});
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.lines();
      throw err;
    }
  };
  const base = 'endpoint: "https://as.test/introspect", client_id: gw, client_secret: x';

  test('a minimal config loads', () => {
    assert.deepEqual(problems(`introspection: { ${base} }`), []);
  });
  test('endpoint, client_secret, forward_claims, scopes and timeout are checked', () => {
    assert.match(problems('introspection: { endpoint: "https://as.test/i", client_id: gw }').join('\n'), /client_secret/);
    assert.match(problems('introspection: { endpoint: "ftp://as.test/i", client_id: gw, client_secret: x }').join('\n'), /http/);
    assert.match(problems('introspection: { endpoint: "https://u:p@as.test/i", client_id: gw, client_secret: x }').join('\n'), /must not carry credentials/);
    assert.match(problems(`introspection: { ${base}, forward_claims: { Host: sub } }`).join('\n'), /cannot be forwarded as Host/);
    assert.match(problems(`introspection: { ${base}, required_scopes: ["a b"] }`).join('\n'), /scope token/);
    assert.match(problems(`introspection: { ${base}, timeout: 10ms }`).join('\n'), /at least 100ms/);
    assert.match(problems(`introspection: { ${base}, ca: /nonexistent.pem }`).join('\n'), /cannot be read/);
  });
  test('auth.any refuses jwt and introspection together: the first would take every Bearer token', () => {
    assert.match(problems(`auth: { any: [ { jwt: {} }, { introspection: { ${base} } } ] }`).join('\n'), /both take Bearer tokens/);
  });
});
