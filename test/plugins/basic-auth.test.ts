// `basic-auth`: scrypt-verified passwords, 401 with a Basic challenge, hidden Authorization,
// passwords from the environment, rotation by reload.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

interface Echo { headers: Record<string, string | undefined> }
const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

const config = (upstream: string, password = 'open sesame: 1') => `
_format_version: "1"
consumers:
  - username: carol
    groups: [ops]
    credentials:
      basic-auth: [{ username: carol@example.com, password: "${password}" }]
services:
  - name: s
    url: "${upstream}"
    routes:
      - paths: ["/basic"]
        plugins:
          basic-auth: { realm: shop }
      - paths: ["/visible"]
        plugins:
          basic-auth: { hide_credentials: false }
`;

describe('basic-auth', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: config('http://echo'), upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  test('no credentials: 401 with a Basic challenge naming the realm', async () => {
    const res = await gw.request({ path: '/basic' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Basic realm="shop", charset="UTF-8"');
    const other = await gw.request({ path: '/basic', headers: { authorization: 'Bearer abc' } });
    assert.equal(other.status, 401, 'another scheme is a missing basic credential');
  });

  test('right pair: identity headers; the Authorization header is hidden; a password with ":" works', async () => {
    for (let i = 0; i < 2; i++) {
      // The second request is answered from the verification cache.
      const res = await gw.request({ path: '/basic', headers: basic('carol@example.com', 'open sesame: 1') });
      assert.equal(res.status, 200);
      const e = JSON.parse(res.body) as Echo;
      assert.equal(e.headers['x-consumer-username'], 'carol');
      assert.equal(e.headers['x-consumer-groups'], 'ops');
      assert.equal(e.headers['x-credential-id'], 'carol/basic-auth/0');
      assert.equal(e.headers['authorization'], undefined);
    }
  });

  test('wrong password, unknown user and garbage get the same 401 body', async () => {
    const strip = (b: string) => ({ ...(JSON.parse(b) as Record<string, unknown>), request_id: null });
    const bodies = await Promise.all([
      gw.request({ path: '/basic', headers: basic('carol@example.com', 'open sesame: 2') }),
      gw.request({ path: '/basic', headers: basic('mallory', 'open sesame: 1') }),
      gw.request({ path: '/basic', headers: { authorization: 'Basic !!!notbase64' } }),
    ]);
    for (const r of bodies) assert.equal(r.status, 401);
    assert.deepEqual(strip(bodies[0]!.body), strip(bodies[1]!.body));
    assert.deepEqual(strip(bodies[0]!.body), strip(bodies[2]!.body));
  });

  test('hide_credentials: false forwards Authorization', async () => {
    const res = await gw.request({ path: '/visible', headers: basic('carol@example.com', 'open sesame: 1') });
    assert.equal(res.status, 200);
    assert.match((JSON.parse(res.body) as Echo).headers['authorization']!, /^Basic /);
  });

  test('password rotation by reload: the cached old password stops working', async () => {
    assert.equal((await gw.request({ path: '/basic', headers: basic('carol@example.com', 'open sesame: 1') })).status, 200);
    assert.equal(gw.reload(config('http://echo', 'new-password')).ok, true);
    assert.equal((await gw.request({ path: '/basic', headers: basic('carol@example.com', 'open sesame: 1') })).status, 401);
    assert.equal((await gw.request({ path: '/basic', headers: basic('carol@example.com', 'new-password') })).status, 200);
  });
});
