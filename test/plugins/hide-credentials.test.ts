// hide_credentials removes every copy of a credential, not only the one that was read: a
// recording upstream checks that no copy of the key, password or token arrives, whatever
// the spelling (two headers, header and query, the query twice, other letter cases,
// percent-encoded names, another configured key name, a second method's credential).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

const KEY = 'alice-secret-key-0123456789';
const HS = 'hs256-secret-for-alice-32-bytes-long!';
const BASIC = `Basic ${Buffer.from('carol:open sesame').toString('base64')}`;

interface Echo { path: string; rawHeaders: string[] }

describe('hide_credentials: no copy of the credential reaches the upstream', () => {
  let gw: TestGateway;
  let token = '';

  before(async () => {
    token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256', kid: 'alice-hs' }).setExpirationTime('5m').sign(Buffer.from(HS));
    gw = createTestGateway({ config: `
_format_version: "1"
consumers:
  - username: alice
    credentials:
      key-auth: [{ key: "${KEY}" }]
      jwt: [{ key_id: alice-hs, secret: "${HS}", algorithm: HS256 }]
  - username: carol
    credentials:
      basic-auth: [{ username: carol, password: "open sesame" }]
services:
  - name: s
    url: "http://up"
    routes:
      - { paths: ["/key"], plugins: { key-auth: {} } }
      - { paths: ["/key-header-only"], plugins: { key-auth: { in: [header] } } }
      - { paths: ["/key-shown"], plugins: { key-auth: { hide_credentials: false } } }
      - { paths: ["/basic"], plugins: { basic-auth: {} } }
      - { paths: ["/jwt"], plugins: { jwt: {} } }
      - { paths: ["/any"], plugins: { auth: { any: [{ key-auth: {} }, { jwt: {} }, { basic-auth: {} }] } } }
      - { paths: ["/any-basic-shown"], plugins: { auth: { any: [{ basic-auth: { hide_credentials: false } }, { jwt: {} }] } } }
`, upstreams: { up: echoUpstream } });
  });
  after(async () => {
    await gw?.close();
  });

  /** Sends the request; returns what the upstream received (its whole head as text), or null when it got nothing. */
  const through = async (path: string, headers: string[] = []): Promise<{ status: number; head: string | null; url: string }> => {
    // A raw header list: node:http adds no Host to it.
    const res = await gw.request({ path, headers: ['host', '127.0.0.1', ...headers] });
    if (res.status !== 200) return { status: res.status, head: null, url: '' };
    const echo = JSON.parse(res.body) as Echo;
    return { status: res.status, head: `${echo.path}\n${echo.rawHeaders.join('\n')}`, url: echo.path };
  };
  const noneOf = (head: string | null, secrets: string[], label: string) => {
    assert.ok(head !== null, `${label}: reached the upstream`);
    for (const secret of secrets) assert.ok(!head.includes(secret), `${label}: "${secret}" reached the upstream:\n${head}`);
  };

  test('attack: key-auth with the key in several places and spellings', async () => {
    const cases: Array<[string, string[]]> = [
      ['/key?apikey=' + KEY, ['apikey', KEY]],
      ['/key?x=1', ['apikey', KEY, 'x-api-key', KEY]],
      ['/key?x=1', ['X-API-KEY', KEY, 'ApiKey', KEY]],
      [`/key?apikey=${KEY}&apikey=${KEY}&x=1`, []],
      [`/key?apikey=${KEY}&APIKEY=${KEY}&api%6Bey=${KEY}&Api%4Bey=${KEY}&x-api-key=${KEY}&X-Api-Key=${KEY}&x=1`, []],
      [`/key?x-api-key=${KEY}&x=1`, ['apikey', KEY]],
      [`/key?x=1&apikey=${KEY}`, ['x-api-key', KEY]],
      [`/key-header-only?apikey=${KEY}&x=1`, ['apikey', KEY]],
      [`/key-header-only?x=1`, ['apikey', KEY, 'X-Api-Key', KEY]],
    ];
    for (const [path, headers] of cases) {
      const r = await through(path, headers);
      assert.equal(r.status, 200, `${path} ${headers.join(' ')}`);
      noneOf(r.head, [KEY], `${path} ${headers.join(' ')}`);
      assert.match(r.url, path.includes('x=1') ? /\?x=1$/ : /^\/key$/, 'the other parameters keep their bytes');
    }
    // Two copies in one header name are one joined value: refused, so nothing is forwarded.
    assert.equal((await through('/key', ['apikey', KEY, 'apikey', KEY])).status, 401);
    // Parameters that only look alike stay.
    const kept = await through(`/key?apikey2=a&my-apikey=b&api+key=c&apikey`, ['apikey', KEY]);
    assert.equal(kept.url, '/key?apikey2=a&my-apikey=b&api+key=c');
  });

  test('hide_credentials: false forwards the key as sent', async () => {
    const r = await through(`/key-shown?apikey=${KEY}`, ['x-api-key', KEY]);
    assert.equal(r.status, 200);
    assert.equal(r.url, `/key-shown?apikey=${KEY}`);
    assert.ok(r.head!.includes(`x-api-key\n${KEY}`));
  });

  test('attack: basic-auth and jwt with Authorization twice, in other letter cases', async () => {
    for (const headers of [['authorization', BASIC, 'Authorization', BASIC], ['AUTHORIZATION', BASIC, 'authorization', 'Bearer stray-token']]) {
      const r = await through('/basic', headers);
      assert.equal(r.status, 200, headers.join(' '));
      noneOf(r.head, [BASIC.slice(6), 'stray-token'], headers.join(' '));
      assert.ok(!/authorization/i.test(r.head!));
    }
    for (const headers of [['authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`], ['AUTHORIZATION', `bearer ${token}`, 'authorization', BASIC]]) {
      const r = await through('/jwt', headers);
      assert.equal(r.status, 200, headers.join(' '));
      noneOf(r.head, [token, BASIC.slice(6)], headers.join(' '));
    }
  });

  test('attack: in an auth block, the other methods\' credentials are hidden too', async () => {
    const cases: Array<[string, string[]]> = [
      [`/any?apikey=${KEY}`, ['authorization', `Bearer ${token}`]],
      ['/any', ['x-api-key', KEY, 'authorization', `Bearer ${token}`, 'Authorization', BASIC]],
      [`/any?x-api-key=${KEY}`, ['authorization', BASIC]],
      [`/any?apikey=${KEY}`, ['authorization', `Bearer ${token}`]],
    ];
    for (const [path, headers] of cases) {
      const r = await through(path, headers);
      assert.equal(r.status, 200, `${path} ${headers.join(' ')}`);
      noneOf(r.head, [KEY, token, BASIC.slice(6)], `${path} ${headers.join(' ')}`);
    }
    // A method with hide_credentials: false keeps its credential; the others' still go.
    const shown = await through('/any-basic-shown', ['authorization', BASIC, 'Authorization', `Bearer ${token}`]);
    assert.equal(shown.status, 200);
    assert.ok(shown.head!.includes(BASIC));
    assert.ok(!shown.head!.includes(token));
  });
});
