// Who a cached response is served to: only requests that would have produced it. Attack
// cases against an upstream that reflects what it was told (Host, X-Forwarded-*, Forwarded,
// the consumer headers, the path it was sent) into a cacheable body: every spelling of the
// Host, forwarded headers from a trusted proxy, consumers of every auth plugin against each
// other and against anonymous callers, Cookie and Authorization on a route without auth, and
// two routes that share a host and path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createTestGateway, type TestGateway, type TestResponse, type UpstreamHandler } from '../../src/testing/index.js';

const HS_SECRET = 'cache-key-test-hs256-secret-32-bytes!';
const ALICE_KEY = 'alice-key-0123456789abcdef';
const BOB_KEY = 'bob-key-0123456789abcdefgh';
const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const jwtFor = (kid: string, sub: string) =>
  new SignJWT({ sub, exp: Math.floor(Date.now() / 1000) + 300 }).setProtectedHeader({ alg: 'HS256', kid }).sign(Buffer.from(HS_SECRET));

/** What the upstream saw, as it reflects it into the body (plus a counter: one number per upstream call). */
interface Seen {
  n: number;
  url: string;
  host?: string;
  xfh?: string;
  xfport?: string;
  xfproto?: string;
  forwarded?: string;
  consumer?: string;
  cookie?: string;
  authorization?: string;
}

let calls = 0;
const reflectingUpstream: UpstreamHandler = (req) => {
  const h = req.headers;
  const seen: Seen = {
    n: ++calls,
    url: req.path,
    host: h.host,
    xfh: h['x-forwarded-host'] as string | undefined,
    xfport: h['x-forwarded-port'] as string | undefined,
    xfproto: h['x-forwarded-proto'] as string | undefined,
    forwarded: h.forwarded,
    consumer: h['x-consumer-username'] as string | undefined,
    cookie: h.cookie,
    authorization: h.authorization,
  };
  return { headers: { 'cache-control': 'public, max-age=300' }, body: seen };
};

const seen = (r: TestResponse): Seen => {
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Seen;
};

const CONSUMERS = `
consumers:
  - username: guest
  - username: alice
    credentials:
      key-auth: [{ key: ${ALICE_KEY} }]
      basic-auth: [{ username: alice, password: "alice-password-1" }]
      jwt: [{ key_id: alice-hs, secret: "${HS_SECRET}", algorithm: HS256 }]
  - username: bob
    credentials:
      key-auth: [{ key: ${BOB_KEY} }]
      basic-auth: [{ username: bob, password: "bob-password-12" }]
      jwt: [{ key_id: bob-hs, secret: "${HS_SECRET}", algorithm: HS256 }]
`;

describe('cache key: what the upstream was told of the origin', () => {
  let direct: TestGateway;
  let behindProxy: TestGateway;
  const routes = `
services:
  - name: s
    url: "http://up"
    routes:
      - { name: kept, paths: ["/kept"], preserve_host: true, plugins: { cache: {} } }
      - { name: rewritten, paths: ["/rewritten"], plugins: { cache: {} } }
`;
  before(async () => {
    direct = createTestGateway({ config: `_format_version: "1"\n${routes}`, upstreams: { up: reflectingUpstream } });
    behindProxy = createTestGateway({ config: `_format_version: "1"\ntrusted_proxies: ["127.0.0.1/32"]\n${routes}`, upstreams: { up: reflectingUpstream } });
  });
  after(async () => {
    await direct.close();
    await behindProxy.close();
  });

  const HOSTS = ['a.example', 'A.EXAMPLE', 'a.example.', 'a.example:8080', 'A.Example.:8080', 'a.example:80', 'b.example'];

  test('each spelling of Host gets a body made for that spelling (preserve_host: the upstream saw it)', async () => {
    // Two rounds: the second is answered from the cache, and must still match.
    for (let round = 0; round < 2; round++) {
      for (const host of HOSTS) {
        const r = await direct.request({ path: `/kept/page`, headers: { host } });
        const s = seen(r);
        assert.equal(s.host, host, `Host ${host} (round ${round}, ${String(r.headers['x-cache'])}) got a body made for Host ${s.host}`);
        assert.equal(s.xfh, host);
        if (round === 1) assert.equal(r.headers['x-cache'], 'HIT', host);
      }
    }
  });

  test('each spelling of Host gets a body made for it (rewritten Host: the upstream saw it as X-Forwarded-Host)', async () => {
    for (let round = 0; round < 2; round++) {
      for (const host of HOSTS) {
        const s = seen(await direct.request({ path: `/rewritten/page`, headers: { host } }));
        assert.equal(s.xfh, host, `Host ${host} got a body made for X-Forwarded-Host ${s.xfh}`);
      }
    }
  });

  test('from a trusted proxy: X-Forwarded-Host, -Port, -Proto and Forwarded variants never share a body', async () => {
    const variants: Array<Record<string, string>> = [
      {},
      { 'x-forwarded-host': 'evil.example' },
      { 'x-forwarded-host': 'EVIL.example' },
      { 'x-forwarded-host': 'evil.example:8443' },
      { 'x-forwarded-host': 'a.example' },
      { 'x-forwarded-port': '443' },
      { 'x-forwarded-port': '8443' },
      { 'x-forwarded-proto': 'https' },
      { 'X-Forwarded-Proto': 'HTTPS' },
      { forwarded: 'host=evil.example;proto=https' },
      { Forwarded: 'for=1.2.3.4;host=other.example' },
      { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' },
    ];
    const expectFrom = (v: Record<string, string>, name: string) => Object.entries(v).find(([k]) => k.toLowerCase() === name)?.[1];
    for (let round = 0; round < 2; round++) {
      for (const v of variants) {
        const r = await behindProxy.request({ path: `/rewritten/page`, headers: { host: 'a.example', ...v } });
        const s = seen(r);
        const what = `${JSON.stringify(v)} (round ${round}, ${String(r.headers['x-cache'])})`;
        assert.equal(s.xfh, expectFrom(v, 'x-forwarded-host') ?? 'a.example', what);
        assert.equal(s.xfport, expectFrom(v, 'x-forwarded-port') ?? String(behindProxy.gateway.snapshot.listeners.proxy[0]!.port), what);
        assert.equal(s.xfproto, expectFrom(v, 'x-forwarded-proto') ?? 'http', what);
        assert.equal(s.forwarded, expectFrom(v, 'forwarded'), what);
        if (round === 1) assert.equal(r.headers['x-cache'], 'HIT', what);
      }
    }
  });

  test('from an untrusted peer the forwarded headers are replaced, and so not keyed apart', async () => {
    const a = await direct.request({ path: `/rewritten/untrusted`, headers: { host: 'a.example', 'x-forwarded-host': 'evil.example' } });
    const b = await direct.request({ path: `/rewritten/untrusted`, headers: { host: 'a.example', 'x-forwarded-host': 'other.example', 'x-forwarded-proto': 'https' } });
    assert.equal(seen(a).xfh, 'a.example');
    assert.equal(b.headers['x-cache'], 'HIT', 'the upstream saw the same request');
    assert.equal(seen(b).xfh, 'a.example');
  });
});

describe('cache key: two routes on one host and path', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
plugins: { cache: {} }
services:
  - name: gold
    url: "http://up/gold"
    routes: [{ name: gold, paths: ["/tier"], headers: { x-tier: [gold] } }]
  - name: basic
    url: "http://up/basic"
    routes: [{ name: basic, paths: ["/tier"] }]
`, upstreams: { up: reflectingUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  test('a route chosen by a header never serves its entry to the other route (global cache)', async () => {
    for (let round = 0; round < 2; round++) {
      assert.match(seen(await gw.request({ path: `/tier/x`, headers: { 'x-tier': 'gold' } })).url, /^\/gold\//);
      assert.match(seen(await gw.request({ path: `/tier/x` })).url, /^\/basic\//);
      assert.match(seen(await gw.request({ path: `/tier/x`, headers: { 'x-tier': 'silver' } })).url, /^\/basic\//);
    }
  });
});

describe('cache key: consumers and credentials', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
${CONSUMERS}
services:
  - name: s
    url: "http://up"
    routes:
      - { name: key-header, paths: ["/key-header"], plugins: { key-auth: { in: [header] }, cache: {} } }
      - { name: key-query, paths: ["/key-query"], plugins: { auth: { any: [{ key-auth: { in: [query] } }], anonymous: guest }, cache: {} } }
      - { name: key-any, paths: ["/key-any"], plugins: { auth: { any: [{ key-auth: {} }], anonymous: guest }, cache: {} } }
      - { name: basic, paths: ["/basic"], plugins: { basic-auth: {}, cache: { cache_authorized: true } } }
      - { name: jwt, paths: ["/jwt"], plugins: { jwt: { algorithms: [HS256] }, cache: { cache_authorized: true } } }
      - { name: anon-jwt, paths: ["/anon-jwt"], plugins: { auth: { any: [{ jwt: { algorithms: [HS256] } }, { basic-auth: {} }], anonymous: guest }, cache: { cache_authorized: true } } }
      - { name: per-consumer, paths: ["/per-consumer"], plugins: { auth: { any: [{ key-auth: {} }, { basic-auth: {} }, { jwt: { algorithms: [HS256] } }], anonymous: guest }, cache: { key: { consumer: true } } } }
      - { name: protected, paths: ["/protected"], plugins: { key-auth: {}, cache: { key: { consumer: true } } } }
      - { name: open, paths: ["/open"], plugins: { cache: {} } }
      - { name: open-authorized, paths: ["/open-authorized"], plugins: { cache: { cache_authorized: true } } }
      - { name: open-cookie, paths: ["/open-cookie"], plugins: { cache: { cache_with_cookie: true } } }
`, upstreams: { up: reflectingUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  const get = (path: string, headers: Record<string, string | string[]> = {}) => gw.request({ path, headers });

  /** The requests of `others` after `first`: none may be answered with `first`'s body. */
  async function neverShared(path: string, first: Record<string, string | string[]>, firstPath: string, others: Array<[string, Record<string, string | string[]>, string | undefined]>): Promise<void> {
    const a = seen(await get(firstPath, first));
    for (let round = 0; round < 2; round++) {
      for (const [p, headers, consumer] of others) {
        const r = await get(p, headers);
        if (r.status !== 200) continue; // refused (401): nothing served
        const s = seen(r);
        assert.notEqual(s.n, a.n, `${p} ${JSON.stringify(headers)} was served the response made for ${firstPath} ${JSON.stringify(first)} (${path})`);
        assert.equal(s.consumer, consumer, `${p} ${JSON.stringify(headers)}`);
      }
    }
  }

  test('key-auth, key in a header: another consumer never gets a consumer\'s response', async () => {
    await neverShared('key-header', { apikey: ALICE_KEY }, '/key-header/x', [
      ['/key-header/x', { apikey: BOB_KEY }, 'bob'],
      ['/key-header/x', { 'X-API-Key': BOB_KEY }, 'bob'],
      ['/key-header/x', { apikey: ALICE_KEY }, 'alice'],
      ['/key-header/x', {}, undefined],
    ]);
  });

  test('key-auth, key in the query (hidden from the upstream): neither anonymous callers nor other consumers get it', async () => {
    await neverShared('key-query', {}, `/key-query/x?apikey=${ALICE_KEY}`, [
      ['/key-query/x', {}, 'guest'],
      ['/key-query/x?', {}, 'guest'],
      [`/key-query/x?apikey=${BOB_KEY}`, {}, 'bob'],
      [`/key-query/x?x-api-key=${BOB_KEY}`, {}, 'bob'],
      [`/key-query/x?apikey=${ALICE_KEY}&apikey=${ALICE_KEY}`, {}, 'alice'],
    ]);
  });

  test('auth with an anonymous consumer: the anonymous caller never gets a consumer\'s response, nor the reverse', async () => {
    await neverShared('key-any', { apikey: ALICE_KEY }, '/key-any/x', [
      ['/key-any/x', {}, 'guest'],
      ['/key-any/x', { 'x-api-key': BOB_KEY }, 'bob'],
      [`/key-any/x?apikey=${BOB_KEY}`, {}, 'bob'],
    ]);
    await neverShared('key-any', {}, '/key-any/y', [
      ['/key-any/y', { apikey: ALICE_KEY }, 'alice'],
      [`/key-any/y?apikey=${ALICE_KEY}`, {}, 'alice'],
    ]);
  });

  test('basic-auth and jwt (even with cache_authorized): a consumer\'s response goes to nobody else', async () => {
    await neverShared('basic', { authorization: basic('alice', 'alice-password-1') }, '/basic/x', [
      ['/basic/x', { authorization: basic('bob', 'bob-password-12') }, 'bob'],
      ['/basic/x', { Authorization: basic('alice', 'alice-password-1') }, 'alice'],
      ['/basic/x', {}, undefined],
    ]);
    await neverShared('jwt', { authorization: `Bearer ${await jwtFor('alice-hs', 'alice')}` }, '/jwt/x', [
      ['/jwt/x', { authorization: `Bearer ${await jwtFor('bob-hs', 'bob')}` }, 'bob'],
      ['/jwt/x', { authorization: `bearer ${await jwtFor('alice-hs', 'alice')}` }, 'alice'],
    ]);
    await neverShared('anon-jwt', { authorization: `Bearer ${await jwtFor('alice-hs', 'alice')}` }, '/anon-jwt/x', [
      ['/anon-jwt/x', {}, 'guest'],
      ['/anon-jwt/x', { authorization: basic('bob', 'bob-password-12') }, 'bob'],
    ]);
  });

  test('key.consumer: one entry per consumer, whatever the credential; anonymous callers have their own', async () => {
    const alice = seen(await get('/per-consumer/x', { apikey: ALICE_KEY }));
    const bob = seen(await get('/per-consumer/x', { authorization: basic('bob', 'bob-password-12') }));
    const guest = seen(await get('/per-consumer/x'));
    assert.deepEqual([alice.consumer, bob.consumer, guest.consumer], ['alice', 'bob', 'guest']);
    const cases: Array<[Record<string, string>, Seen]> = [
      [{ 'x-api-key': ALICE_KEY }, alice],
      [{ authorization: basic('alice', 'alice-password-1') }, alice],
      [{ authorization: `Bearer ${await jwtFor('alice-hs', 'alice')}` }, alice],
      [{ apikey: BOB_KEY }, bob],
      [{ authorization: `Bearer ${await jwtFor('bob-hs', 'bob')}` }, bob],
      [{}, guest],
    ];
    for (const [headers, expected] of cases) {
      const r = await get('/per-consumer/x', headers);
      assert.equal(r.headers['x-cache'], 'HIT', JSON.stringify(headers));
      assert.equal(seen(r).n, expected.n, JSON.stringify(headers));
    }
  });

  test('a cached entry of a protected route still needs a valid key (auth runs before the lookup)', async () => {
    assert.equal((await get('/protected/x', { apikey: ALICE_KEY })).status, 200);
    assert.equal((await get('/protected/x', { apikey: ALICE_KEY })).headers['x-cache'], 'HIT');
    for (const headers of [{}, { apikey: 'wrong-key-0123456789abcdef' }, { apikey: '' }, { authorization: basic('alice', 'alice-password-1') }] as Array<Record<string, string>>) {
      const r = await get('/protected/x', headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal(r.headers['x-cache'], undefined);
    }
    for (const path of ['/protected/x?apikey=wrong', '/protected//x', '/PROTECTED/x']) {
      const r = await get(path);
      assert.notEqual(r.status, 200, path);
    }
  });

  test('Cookie or Authorization on a route without auth: not looked up, not stored (unless the config says so)', async () => {
    const spellings: Array<Record<string, string | string[]>> = [
      { cookie: 'sid=alice-session' },
      { Cookie: 'sid=alice-session' },
      { COOKIE: 'a=1; sid=alice-session' },
      { cookie: ['a=1', 'sid=alice-session'] },
      { authorization: 'Bearer alice-token' },
      { Authorization: 'Basic YWxpY2U6cHc=' },
      { authorization: '' },
    ];
    for (const [i, headers] of spellings.entries()) {
      const path = `/open/s${i}`;
      const first = await get(path, headers);
      assert.equal(first.headers['x-cache'], 'BYPASS', JSON.stringify(headers));
      const anon = await get(path);
      assert.equal(anon.headers['x-cache'], 'MISS', `${JSON.stringify(headers)}: the response was stored`);
      assert.equal(seen(anon).cookie, undefined);
      assert.equal(seen(anon).authorization, undefined);
      // And a stored anonymous entry is not served to the request with the credential either.
      assert.equal((await get(path, headers)).headers['x-cache'], 'BYPASS', JSON.stringify(headers));
    }
    // Opted in: shared on purpose.
    await get('/open-authorized/x', { authorization: 'Bearer t' });
    assert.equal((await get('/open-authorized/x')).headers['x-cache'], 'HIT');
    await get('/open-cookie/x', { cookie: 'theme=dark' });
    assert.equal((await get('/open-cookie/x')).headers['x-cache'], 'HIT');
  });
});
