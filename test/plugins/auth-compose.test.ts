// `auth: { any: [...], anonymous }`: several methods on one route, in order; an invalid
// credential is refused (never downgraded to anonymous); no credential gets the anonymous
// consumer, or a 401 listing every challenge.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

interface Echo { headers: Record<string, string | undefined> }
const SECRET = 'a-shared-hs256-secret-of-32-bytes!!';

const config = (upstream: string) => `
_format_version: "1"
consumers:
  - username: guest
    groups: [public]
  - username: dave
    groups: [staff]
    credentials:
      key-auth: [{ key: "dave-secret-key" }]
      jwt: [{ issuer: "https://issuer.test", secret: "${SECRET}", algorithm: HS256 }]
services:
  - name: s
    url: "${upstream}"
    routes:
      - paths: ["/either"]
        plugins:
          auth: { any: [{ key-auth: {} }, { jwt: { algorithms: [HS256] } }] }
      - paths: ["/public"]
        plugins:
          auth: { any: [{ key-auth: {} }, { jwt: {} }], anonymous: guest }
      - paths: ["/staff-or-anon"]
        plugins:
          auth: { any: [{ key-auth: {} }], anonymous: guest }
          acl: { allow: [staff] }
`;

const token = () => new SignJWT({ sub: 'dave' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.test').setExpirationTime('5m').sign(Buffer.from(SECRET));

describe('auth composition', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: config('http://echo'), upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  test('either method authenticates the same consumer, each with its own credential id', async () => {
    const byKey = JSON.parse((await gw.request({ path: '/either', headers: { apikey: 'dave-secret-key' } })).body) as Echo;
    assert.equal(byKey.headers['x-consumer-username'], 'dave');
    assert.equal(byKey.headers['x-credential-id'], 'dave/key-auth/0');
    const byJwt = JSON.parse((await gw.request({ path: '/either', headers: { authorization: `Bearer ${await token()}` } })).body) as Echo;
    assert.equal(byJwt.headers['x-consumer-username'], 'dave');
    assert.equal(byJwt.headers['x-credential-id'], 'dave/jwt/0');
    assert.equal(byJwt.headers['authorization'], undefined);
  });

  test('no credential and no anonymous: 401 listing every challenge', async () => {
    const res = await gw.request({ path: '/either' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Key realm="northgate", Bearer realm="northgate"');
  });

  test('an invalid credential is refused even when anonymous is configured', async () => {
    const res = await gw.request({ path: '/public', headers: { apikey: 'wrong-key-123' } });
    assert.equal(res.status, 401);
    const bad = await gw.request({ path: '/public', headers: { authorization: 'Bearer not.a.token' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['www-authenticate'], 'Bearer realm="northgate", error="invalid_token"');
  });

  test('no credential with anonymous: the anonymous consumer, marked as such; spoofed marker removed', async () => {
    const res = await gw.request({ path: '/public', headers: { 'x-anonymous-consumer': 'false', 'x-consumer-username': 'dave' } });
    assert.equal(res.status, 200);
    const e = JSON.parse(res.body) as Echo;
    assert.equal(e.headers['x-consumer-username'], 'guest');
    assert.equal(e.headers['x-anonymous-consumer'], 'true');
    assert.equal(e.headers['x-credential-id'], undefined);
  });

  test('acl applies to the anonymous consumer like to any other', async () => {
    assert.equal((await gw.request({ path: '/staff-or-anon' })).status, 403);
    assert.equal((await gw.request({ path: '/staff-or-anon', headers: { apikey: 'dave-secret-key' } })).status, 200);
  });

  test('schema: each item is exactly one method; a method listed twice is refused', () => {
    const problems = (plugins: string): string[] => {
      try {
        loadConfigText('c.yaml', `_format_version: "1"\nplugins:\n  auth: ${plugins}\n`, defaultRegistry());
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.lines();
        throw err;
      }
    };
    assert.match(problems('{ any: [{ key-auth: {}, jwt: {} }] }').join('\n'), /plugins\.auth\.any\[0\]/);
    assert.match(problems('{ any: [{ key-auth: {} }, { key-auth: {} }] }').join('\n'), /plugins\.auth\.any\[1\]: "key-auth" is listed twice/);
    assert.match(problems('{ any: [{ kee-auth: {} }] }').join('\n'), /unknown key "kee-auth" \(did you mean "key-auth"\?\)/);
  });
});
