// `openid-connect` end to end: a real provider (oidc-provider) in this process, the gateway
// on a real socket, an echo upstream. Sign-in with PKCE, the session cookie, what the
// upstream gets, API clients, refresh, the logouts, and the attacks on each step.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CLIENT_ID, CLIENT_SECRET, WebClient, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

let op: OidcProviderHandle;
let upstream: Upstream;
let gw: InProcessGateway;
const SECRET = 'cookie-secret-0123456789-0123456789-abcdef';

function config(issuer: string, upstreamUrl: string, extra = ''): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstreamUrl}
    routes: [{ name: app, paths: [/] }]
    plugins:
      openid-connect:
        issuer: "${issuer}"
        client_id: ${CLIENT_ID}
        client_secret: ${CLIENT_SECRET}
        redirect_uri: "http://127.0.0.1:PORT/oidc/callback"
        scopes: [openid, email, offline_access]
        cookie: { secret: ${SECRET} }
        login_path: /oidc/login
        logout_path: /oidc/logout
        post_logout_redirect_uri: "http://127.0.0.1:PORT/bye"
        frontchannel_logout_path: /oidc/frontchannel
        backchannel_logout_path: /oidc/backchannel
        claim_headers: { X-User-Email: email }
        id_token_header: X-Id-Token
        forward_access_token: true
${extra}`;
}

before(async () => {
  op = await startOidcProvider();
  upstream = await startEchoUpstream();
  // The gateway's port is in its own redirect_uri: start, then reload with the port filled in.
  gw = await startGateway(config(op.issuer, upstream.url).replaceAll('PORT', '1'));
  const r = gw.reload(config(op.issuer, upstream.url).replaceAll('PORT', String(gw.port)));
  assert.equal(r.ok, true, JSON.stringify(r));
  await op.configure({ redirectUris: [`${gw.url}/oidc/callback`], postLogoutRedirectUris: [`${gw.url}/bye`], accessTokenTtl: 3600 });
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  await op?.close();
});

type Echo = { url: string; headers: Record<string, string> };

test('a browser is sent to the provider with PKCE, state and nonce, and comes back signed in', async () => {
  const web = new WebClient();
  const first = await web.request(`${gw.url}/app/page?x=1`, { headers: { accept: 'text/html' } });
  assert.equal(first.status, 302);
  const location = new URL(first.headers['location'] as string);
  assert.equal(location.origin + location.pathname, `${op.issuer}/auth`);
  assert.equal(location.searchParams.get('code_challenge_method'), 'S256');
  assert.match(location.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.ok((location.searchParams.get('state') ?? '').length >= 43);
  assert.ok(location.searchParams.get('nonce'));
  assert.equal(location.searchParams.get('redirect_uri'), `${gw.url}/oidc/callback`);
  const callbackUrl = await web.followUntil(location.href, (u) => u.startsWith(gw.url));
  const back = await web.request(callbackUrl);
  assert.equal(back.status, 302, back.body);
  assert.equal(back.headers['location'], '/app/page?x=1');
  const session = back.setCookies.find((c) => c.startsWith('ng_oidc='))!;
  assert.ok(session, back.setCookies.join('\n'));
  assert.match(session, /; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax; Secure$/);
  // The id is 256 random bits (43 base64url characters), then its signature.
  assert.match(session, /^ng_oidc=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43};/);
  assert.ok(back.setCookies.some((c) => c.startsWith('ng_oidc_login=;') && c.includes('Max-Age=0')), 'the login cookie is cleared');

  const api = await web.request(`${gw.url}/api/orders`, { headers: { accept: 'application/json', 'x-user-email': 'forged@evil.test', 'x-id-token': 'forged', 'x-consumer-username': 'mallory' } });
  assert.equal(api.status, 200, api.body);
  const h = (JSON.parse(api.body) as Echo).headers;
  assert.equal(h['x-consumer-username'], 'alice');
  assert.equal(h['x-consumer-id'], 'alice');
  assert.equal(h['x-user-email'], 'alice@example.test');
  assert.match(h['x-id-token'] ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.match(h['authorization'] ?? '', /^Bearer \S+$/);
  assert.equal(h['cookie'], undefined, 'the gateway cookie is not the application\'s');
});
