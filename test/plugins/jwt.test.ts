// `jwt`: local keys from consumer credentials and remote keys from a JWKS served by a real
// local HTTP server (rotated mid-test), and the attack cases: alg none, HS256 signed with
// an RSA public key, expired / not-yet-valid tokens, wrong iss / aud, unknown and random kids.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

interface Echo { headers: Record<string, string | undefined> }
const echoOf = (b: string): Echo => JSON.parse(b) as Echo;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const now = () => Math.floor(Date.now() / 1000);
const HS_SECRET = 'hs256-secret-for-frank-32-bytes-long!';
const ISS = 'https://idp.test';

/** A JWKS / discovery server on 127.0.0.1 that counts requests per path: the plugin fetches keys itself, over the network. */
async function startIdp(): Promise<{ server: Server; url: string; keys: JWK[]; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const state = { server: null as unknown as Server, url: '', keys: [] as JWK[], hits, close: async () => {} };
  const server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    if (req.url === '/jwks') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
    if (req.url === '/.well-known/openid-configuration') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: ISS, jwks_uri: `${state.url}/jwks` }));
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.server = server;
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return state;
}

async function esKey(kid: string): Promise<{ kid: string; privateKey: CryptoKey; jwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const sign = (key: { kid: string; privateKey: CryptoKey }, claims: Record<string, unknown> = {}) =>
  new SignJWT({ sub: 'erin', iss: ISS, aud: 'orders', iat: now(), exp: now() + 300, ...claims }).setProtectedHeader({ alg: 'ES256', kid: key.kid }).sign(key.privateKey);

describe('jwt', () => {
  let idp: Awaited<ReturnType<typeof startIdp>>;
  let gw: TestGateway;
  let rsa: { privateKey: CryptoKey; pem: string };
  let k1: Awaited<ReturnType<typeof esKey>>;
  let k2: Awaited<ReturnType<typeof esKey>>;

  before(async () => {
    idp = await startIdp();
    k1 = await esKey('k1');
    k2 = await esKey('k2');
    idp.keys = [k1.jwk];
    const pair = await generateKeyPair('RS256', { extractable: true });
    rsa = { privateKey: pair.privateKey, pem: await exportSPKI(pair.publicKey) };
    gw = createTestGateway({ config: `
_format_version: "1"
consumers:
  - username: erin
    groups: [buyers]
  - username: frank
    credentials:
      jwt:
        - { key_id: frank-hs, secret: "${HS_SECRET}", algorithm: HS256 }
        - { key_id: frank-rsa, issuer: "${ISS}", algorithm: RS256, public_key: ${JSON.stringify(rsa.pem)} }
services:
  - name: s
    url: "http://echo"
    routes:
      - paths: ["/local"]
        plugins:
          jwt: { clock_skew: 30s, forward_claims: { x-user-id: sub, x-scopes: scope } }
      - paths: ["/remote"]
        plugins:
          jwt: { jwks_uri: "${idp.url}/jwks", issuer: "${ISS}", audiences: [orders], algorithms: [ES256, RS256], jwks_cooldown: 1s, forward_claims: { x-user-id: sub } }
      - paths: ["/discovered"]
        plugins:
          jwt: { discovery: "${idp.url}/.well-known/openid-configuration", issuer: "${ISS}", algorithms: [ES256] }
      - paths: ["/down"]
        plugins:
          jwt: { jwks_uri: "http://127.0.0.1:1/jwks", algorithms: [ES256] }
`, upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
    await idp.close();
  });

  const hs = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
    new SignJWT({ sub: 'frank', exp: now() + 300, ...claims }).setProtectedHeader({ alg: 'HS256', kid: 'frank-hs', ...header }).sign(Buffer.from(HS_SECRET));

  test('a local HS256 credential: consumer, credential id, forwarded claims; Authorization hidden', async () => {
    const res = await gw.request({ path: '/local', headers: bearer(await hs({ scope: ['read', 'write'] })) });
    assert.equal(res.status, 200);
    const e = echoOf(res.body);
    assert.equal(e.headers['x-consumer-username'], 'frank');
    assert.equal(e.headers['x-credential-id'], 'frank/jwt/0');
    assert.equal(e.headers['x-user-id'], 'frank');
    assert.equal(e.headers['x-scopes'], 'read,write');
    assert.equal(e.headers['authorization'], undefined);
  });

  test('forward_claims headers are the gateway\'s: a client copy never reaches the upstream, a claim that is absent or not ASCII is not sent', async () => {
    const forged = { 'x-user-id': 'admin', 'x-scopes': 'admin' };
    // A token without the scope claim: x-scopes is neither the client's nor forwarded.
    let res = await gw.request({ path: '/local', headers: { ...forged, ...bearer(await hs()) } });
    assert.equal(res.status, 200);
    let e = echoOf(res.body);
    assert.equal(e.headers['x-user-id'], 'frank');
    assert.equal(e.headers['x-scopes'], undefined);
    // A claim value outside visible ASCII is dropped rather than sent mangled.
    res = await gw.request({ path: '/local', headers: { ...forged, ...bearer(await hs({ scope: 'caf\u00e9' })) } });
    e = echoOf(res.body);
    assert.equal(res.status, 200);
    assert.equal(e.headers['x-scopes'], undefined);
    // Without a token the request is refused; the forged headers go nowhere.
    assert.equal((await gw.request({ path: '/local', headers: forged })).status, 401);
  });

  test('a local RS256 credential verifies RS256 tokens', async () => {
    const t = await new SignJWT({ sub: 'frank' }).setProtectedHeader({ alg: 'RS256', kid: 'frank-rsa' }).setIssuer(ISS).setExpirationTime('5m').sign(rsa.privateKey);
    assert.equal((await gw.request({ path: '/local', headers: bearer(t) })).status, 200);
  });

  test('no token: 401 Bearer challenge; a bad token: error="invalid_token"', async () => {
    const none = await gw.request({ path: '/local' });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer realm="northgate"');
    const bad = await gw.request({ path: '/local', headers: bearer('abc.def.ghi') });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer realm="northgate", error="invalid_token"');
  });

  test('alg: none is refused (with a kid, with an issuer, unsigned or with a signature)', async () => {
    const claims = { sub: 'frank', iss: ISS, exp: now() + 300 };
    for (const header of [{ alg: 'none', kid: 'frank-hs' }, { alg: 'none' }, { alg: 'NONE', kid: 'frank-rsa' }]) {
      for (const sig of ['', 'c2ln']) {
        const res = await gw.request({ path: '/local', headers: bearer(`${b64(header)}.${b64(claims)}.${sig}`) });
        assert.equal(res.status, 401, JSON.stringify(header) + sig);
      }
    }
  });

  test('algorithm confusion: HS256 signed with the RSA public key (PEM) as secret is refused', async () => {
    for (const kid of ['frank-rsa', undefined]) {
      const t = await new SignJWT({ sub: 'frank' }).setProtectedHeader(kid ? { alg: 'HS256', kid } : { alg: 'HS256' }).setIssuer(ISS).setExpirationTime('5m').sign(Buffer.from(rsa.pem));
      assert.equal((await gw.request({ path: '/local', headers: bearer(t) })).status, 401, String(kid));
      assert.equal((await gw.request({ path: '/remote', headers: bearer(t) })).status, 401, String(kid));
    }
  });

  test('exp, nbf with clock skew, and a token without exp', async () => {
    assert.equal((await gw.request({ path: '/local', headers: bearer(await hs({ exp: now() - 60 })) })).status, 401, 'expired beyond the 30 s skew');
    assert.equal((await gw.request({ path: '/local', headers: bearer(await hs({ exp: now() - 10 })) })).status, 200, 'expired within the skew');
    assert.equal((await gw.request({ path: '/local', headers: bearer(await hs({ nbf: now() + 120 })) })).status, 401, 'nbf beyond the skew');
    assert.equal((await gw.request({ path: '/local', headers: bearer(await hs({ nbf: now() + 10 })) })).status, 200, 'nbf within the skew');
    const noExp = await new SignJWT({ sub: 'frank' }).setProtectedHeader({ alg: 'HS256', kid: 'frank-hs' }).sign(Buffer.from(HS_SECRET));
    assert.equal((await gw.request({ path: '/local', headers: bearer(noExp) })).status, 401, 'exp is a required claim by default');
  });

  test('a wrong signature, a wrong issuer for the credential, a kid nobody has', async () => {
    const wrongSig = await new SignJWT({ sub: 'frank' }).setProtectedHeader({ alg: 'HS256', kid: 'frank-hs' }).setExpirationTime('5m').sign(Buffer.from('another-secret-of-at-least-32-bytes!!'));
    assert.equal((await gw.request({ path: '/local', headers: bearer(wrongSig) })).status, 401);
    const wrongIss = await new SignJWT({ sub: 'frank' }).setProtectedHeader({ alg: 'RS256', kid: 'frank-rsa' }).setIssuer('https://evil.test').setExpirationTime('5m').sign(rsa.privateKey);
    assert.equal((await gw.request({ path: '/local', headers: bearer(wrongIss) })).status, 401);
    assert.equal((await gw.request({ path: '/local', headers: bearer(await hs({}, { kid: 'nobody' })) })).status, 401);
  });

  test('JWKS: a known kid verifies; iss and aud are checked; a subject that is a consumer becomes that consumer', async () => {
    const res = await gw.request({ path: '/remote', headers: bearer(await sign(k1)) });
    assert.equal(res.status, 200, res.body);
    const e = echoOf(res.body);
    assert.equal(e.headers['x-consumer-username'], 'erin');
    assert.equal(e.headers['x-consumer-groups'], 'buyers');
    assert.equal(e.headers['x-credential-id'], undefined);
    const stranger = echoOf((await gw.request({ path: '/remote', headers: bearer(await sign(k1, { sub: 'someone-else' })) })).body);
    assert.equal(stranger.headers['x-consumer-username'], 'someone-else', 'an IdP subject that is not configured is its own consumer, without groups');
    assert.equal((await gw.request({ path: '/remote', headers: bearer(await sign(k1, { aud: 'payments' })) })).status, 401);
    assert.equal((await gw.request({ path: '/remote', headers: bearer(await sign(k1, { iss: 'https://evil.test' })) })).status, 401);
    assert.equal(idp.hits.get('/jwks'), 1);
  });

  test('JWKS: an unknown kid refetches once then 401; a flood of random kids cannot hammer the IdP; rotation needs no restart', async () => {
    await gw.request({ path: '/remote', headers: bearer(await sign(k1)) });
    const before = idp.hits.get('/jwks') ?? 0;
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s cooldown
    const unknown = await esKey('unknown');
    assert.equal((await gw.request({ path: '/remote', headers: bearer(await sign(unknown)) })).status, 401);
    assert.equal(idp.hits.get('/jwks'), before + 1, 'one refetch for the unknown kid');

    const flood = await Promise.all(Array.from({ length: 40 }, async (_, i) => gw.request({ path: '/remote', headers: bearer(await sign({ kid: `random-${i}-${Math.random()}`, privateKey: unknown.privateKey })) })));
    assert.ok(flood.every((r) => r.status === 401));
    assert.equal(idp.hits.get('/jwks'), before + 1, 'no refetch within the cooldown, whatever the kids');

    // Rotation: the IdP now publishes k2 only.
    idp.keys = [k2.jwk];
    await new Promise((r) => setTimeout(r, 1100));
    const rotated = await gw.request({ path: '/remote', headers: bearer(await sign(k2)) });
    assert.equal(rotated.status, 200, rotated.body);
    assert.equal(idp.hits.get('/jwks'), before + 2);
    assert.equal((await gw.request({ path: '/remote', headers: bearer(await sign(k1, { jti: 'new' })) })).status, 401, 'a new token with the retired key');
  });

  test('a kid is only a lookup key: kids that look like URLs or paths fetch nothing', async () => {
    const paths = new Set(idp.hits.keys());
    for (const kid of [`${idp.url}/evil`, '../../jwks', '/etc/passwd']) {
      const t = await sign({ kid, privateKey: k2.privateKey });
      assert.equal((await gw.request({ path: '/remote', headers: bearer(t) })).status, 401);
    }
    assert.deepEqual(new Set(idp.hits.keys()), paths);
  });

  test('discovery: the OpenID configuration names the JWKS; fetched once, lazily', async () => {
    idp.keys = [k1.jwk, k2.jwk];
    const res = await gw.request({ path: '/discovered', headers: bearer(await sign(k2)) });
    assert.equal(res.status, 200, res.body);
    await gw.request({ path: '/discovered', headers: bearer(await sign(k1)) });
    assert.equal(idp.hits.get('/.well-known/openid-configuration'), 1);
  });

  test('an unreachable IdP is a 503 problem, not a crash', async () => {
    const res = await gw.request({ path: '/down', headers: bearer(await sign(k1)) });
    assert.equal(res.status, 503);
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:auth-unavailable');
    assert.equal((await gw.request({ path: '/down', headers: bearer(await sign(k1)) })).status, 503);
    assert.equal((await gw.request({ path: '/local' })).status, 401, 'the gateway still serves');
  });
});
