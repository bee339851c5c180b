// `openid-connect` with its SQLite store: the bounds (max_pending_logins pushes the oldest
// sign-in out, max_sessions refuses a sign-in beyond it) and the nonce check, proven by
// changing the nonce a pending sign-in expects in the store itself: the provider's ID
// token then carries another nonce, and the callback is refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { CLIENT_ID, CLIENT_SECRET, WebClient, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { startEchoUpstream, startGateway, tempDir, type InProcessGateway, type Upstream } from '../helpers/servers.js';

let op: OidcProviderHandle;
let upstream: Upstream;
let gw: InProcessGateway;
const file = join(tempDir(), 'oidc.sqlite');

function config(port: number): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstream.url}
    routes: [{ name: app, paths: [/] }]
    plugins:
      openid-connect:
        issuer: "${op.issuer}"
        client_id: ${CLIENT_ID}
        client_secret: ${CLIENT_SECRET}
        redirect_uri: "http://127.0.0.1:${port}/oidc/callback"
        cookie: { secret: store-test-cookie-secret-0123456789-abcdef }
        logout_path: /oidc/logout
        session: { store: sqlite, path: "${file}", max_sessions: 2, max_pending_logins: 3 }
`;
}

before(async () => {
  op = await startOidcProvider();
  upstream = await startEchoUpstream();
  gw = await startGateway(config(1));
  assert.equal(gw.reload(config(gw.port)).ok, true);
  await op.configure({ redirectUris: [`${gw.url}/oidc/callback`] });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  await op?.close();
});

test('a callback whose ID token carries another nonce than the sign-in expects is refused', async () => {
  const web = new WebClient();
  const callbackUrl = await web.callbackUrl(gw.url);
  const state = new URL(callbackUrl).searchParams.get('state')!;
  const db = new Database(file);
  try {
    const row = db.prepare('SELECT data FROM northgate_oidc_sessions WHERE key = ?').get(`l:${state}`) as { data: string };
    const pending = JSON.parse(row.data) as { nonce: string };
    assert.ok(pending.nonce.length >= 32);
    db.prepare('UPDATE northgate_oidc_sessions SET data = ? WHERE key = ?').run(JSON.stringify({ ...pending, nonce: 'a-nonce-of-another-sign-in-0123456789' }), `l:${state}`);
  } finally {
    db.close();
  }
  const r = await web.request(callbackUrl);
  assert.equal(r.status, 401, r.body);
  assert.equal(web.cookies(gw.url).get('ng_oidc'), undefined);
  // The tokens are kept server-side only: the store holds no session for it, and what it holds is keyed by a digest.
  const check = new Database(file, { readonly: true });
  try {
    assert.equal((check.prepare("SELECT count(*) AS n FROM northgate_oidc_sessions WHERE kind = 's'").get() as { n: number }).n, 0);
  } finally {
    check.close();
  }
});

test('pending sign-ins are bounded: beyond max_pending_logins the oldest gives way', async () => {
  const clients = [new WebClient(), new WebClient(), new WebClient(), new WebClient()];
  const callbacks: string[] = [];
  for (const c of clients) callbacks.push(await c.callbackUrl(gw.url));
  assert.equal((await clients[0]!.request(callbacks[0]!)).status, 400, 'the oldest was pushed out');
  assert.equal((await clients[3]!.request(callbacks[3]!)).status, 302, 'the newest completes');
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT key, data FROM northgate_oidc_sessions').all() as Array<{ key: string; data: string }>;
    assert.ok(rows.filter((r) => r.key.startsWith('l:')).length <= 3);
    const session = rows.find((r) => r.key.startsWith('s:'))!;
    // The key is the SHA-256 of the id, not the id in the browser's cookie.
    const id = clients[3]!.cookies(gw.url).get('ng_oidc')!.split('.')[0]!;
    assert.equal(rows.some((r) => r.key.includes(id) || r.data.includes(id)), false);
    assert.ok(session.data.includes('accessToken'));
  } finally {
    db.close();
  }
});

test('sessions are bounded: beyond max_sessions a sign-in is refused with 503 until one ends', async () => {
  // One session exists (the previous test's); one more fits.
  const second = new WebClient();
  assert.equal((await second.signIn(gw.url)).status, 302);
  const third = new WebClient();
  const refused = await third.signIn(gw.url);
  assert.equal(refused.status, 503);
  assert.equal((JSON.parse(refused.body) as { type: string }).type, 'urn:northgate:problem:auth-unavailable');
  assert.equal(third.cookies(gw.url).get('ng_oidc'), undefined);
  assert.equal((await second.request(`${gw.url}/oidc/logout`)).status, 302);
  assert.equal((await third.signIn(gw.url)).status, 302);
});
