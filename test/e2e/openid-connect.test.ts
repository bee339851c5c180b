// `openid-connect` end to end: a real provider (oidc-provider) in this process, the gateway
// on a real socket, an echo upstream. Sign-in with PKCE, the session cookie, what the
// upstream gets, API clients, refresh, the logouts, and the attacks on each step.
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { after, before, test } from 'node:test';
import { CLIENT_ID, CLIENT_SECRET, WebClient, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

let op: OidcProviderHandle;
let upstream: Upstream;
let gw: InProcessGateway;
const SECRET = 'cookie-secret-0123456789-0123456789-abcdef';

function config(issuer: string, upstreamUrl: string, extra = ''): string {
  return `_format_version: "1"
listen:
  proxy: ["127.0.0.1:0", { address: "127.0.0.1:0", http2: true }]
  status: null
access_log: { enabled: false }
consumers:
  - { username: alice, groups: [staff] }
services:
  - name: app
    url: ${upstreamUrl}
    routes:
      - { name: app, paths: [/] }
      - { name: staff, paths: [/staff], plugins: { acl: { allow: [staff] } } }
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
  await op.configure({ redirectUris: [`${gw.url}/oidc/callback`], postLogoutRedirectUris: [`${gw.url}/bye`], backchannelLogoutUri: `${gw.url}/oidc/backchannel`, accessTokenTtl: 3600 });
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
  // alice is a configured consumer: her id and groups, for acl, plans and limits.
  assert.equal(h['x-consumer-username'], 'alice');
  assert.match(h['x-consumer-id'] ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(h['x-consumer-groups'], 'staff');
  assert.equal(h['x-user-email'], 'alice@example.test');
  assert.match(h['x-id-token'] ?? '', /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.match(h['authorization'] ?? '', /^Bearer \S+$/);
  assert.equal(h['cookie'], undefined, 'the gateway cookie is not the application\'s');
});

/** A signed-in client and its session cookie value. */
async function signedIn(account = 'alice'): Promise<{ web: WebClient; cookie: string }> {
  op.account = account;
  const web = new WebClient();
  const r = await web.signIn(gw.url);
  assert.equal(r.status, 302, r.body);
  return { web, cookie: web.cookies(gw.url).get('ng_oidc')! };
}

async function apiStatus(web: WebClient, path = '/api/me'): Promise<number> {
  return (await web.request(gw.url + path, { headers: { accept: 'application/json' } })).status;
}

test('API clients get 401 problem+json, never a redirect', async () => {
  const web = new WebClient();
  const cases: Array<[string, Record<string, string>, string?]> = [
    ['Accept: application/json', { accept: 'application/json' }],
    ['XHR', { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }],
    ['a bearer token', { accept: 'text/html', authorization: 'Bearer abc.def.ghi' }],
    ['fetch() from a page', { accept: 'text/html', 'sec-fetch-mode': 'cors' }],
    ['no Accept', {}],
    ['a POST form', { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, 'POST'],
  ];
  for (const [what, headers, method] of cases) {
    const r = await web.request(`${gw.url}/api/orders`, { headers, ...(method ? { method, body: 'a=1' } : {}) });
    assert.equal(r.status, 401, what);
    assert.equal(r.headers['location'], undefined, what);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/, what);
    assert.equal((JSON.parse(r.body) as { type: string }).type, 'urn:northgate:problem:unauthorized', what);
  }
  // A navigation marked by the browser is sent to the provider.
  assert.equal((await web.request(`${gw.url}/app`, { headers: { 'sec-fetch-mode': 'navigate' } })).status, 302);
});

test('the post-login return URL is a path of this site: open redirects end at /', async () => {
  const attacks = ['//evil.example/x', '/\\evil.example', '/\\/evil.example', 'https://evil.example/', 'http:evil.example', '/%2F%2Fevil.example', '/%2f%5cevil.example', '%2F%2Fevil.example', '/%252F%252Fevil.example', '/%09/evil.example', 'javascript:alert(1)', '/\t/evil.example', '\\\\evil.example'];
  for (const target of attacks) {
    const web = new WebClient();
    const start = await web.request(`${gw.url}/oidc/login?return_to=${encodeURIComponent(target)}`);
    assert.equal(start.status, 302, target);
    const back = await web.request(await web.followUntil(start.headers['location'] as string, (u) => u.startsWith(gw.url)));
    assert.equal(back.status, 302, target);
    assert.equal(back.headers['location'], '/', target);
  }
  // The path of the request that led to the sign-in: `//evil` as a request path.
  const web = new WebClient();
  const first = await web.request(`${gw.url}//evil.example/x`, { headers: { accept: 'text/html' } });
  assert.equal(first.status, 302);
  const back = await web.request(await web.followUntil(first.headers['location'] as string, (u) => u.startsWith(gw.url)));
  assert.ok(['/', '/evil.example/x'].includes(back.headers['location'] as string), String(back.headers['location']));
  // A local path with its query comes back as it was.
  const ok = new WebClient();
  const s = await ok.request(`${gw.url}/oidc/login?return_to=${encodeURIComponent('/orders/42?tab=items&x=%2F')}`);
  const b = await ok.request(await ok.followUntil(s.headers['location'] as string, (u) => u.startsWith(gw.url)));
  assert.equal(b.headers['location'], '/orders/42?tab=items&x=%2F');
});

test('the callback is refused without this browser\'s state (CSRF), with a forged state cookie, and when replayed', async () => {
  // The attacker's own sign-in, delivered to the victim's browser: the victim has no login cookie.
  const attacker = new WebClient();
  const attackersCallback = await attacker.callbackUrl(gw.url);
  const victim = new WebClient();
  const csrf = await victim.request(attackersCallback);
  assert.equal(csrf.status, 400);
  assert.equal(victim.cookies(gw.url).get('ng_oidc'), undefined);
  // The victim has a sign-in of their own in progress: its state is not the attacker's.
  await victim.request(`${gw.url}/app`, { headers: { accept: 'text/html' } });
  assert.equal((await victim.request(attackersCallback)).status, 400);
  // A login cookie with the right state but no valid signature.
  const state = new URL(attackersCallback).searchParams.get('state')!;
  const forged = await new WebClient().request(attackersCallback, { headers: { cookie: `ng_oidc_login=${state}.AAAA` } });
  assert.equal(forged.status, 400);
  // The attacker's own callback still works once, and only once.
  const first = await attacker.request(attackersCallback);
  assert.equal(first.status, 302, first.body);
  const loginCookie = `ng_oidc_login=${attacker.cookies(gw.url).get('ng_oidc_login') ?? ''}`;
  const replay = await new WebClient().request(attackersCallback, { headers: { cookie: loginCookie } });
  assert.equal(replay.status, 400);
  // A tampered code is refused by the provider's answer, not trusted.
  const web = new WebClient();
  const cb = new URL(await web.callbackUrl(gw.url));
  cb.searchParams.set('code', 'not-a-code-of-the-provider');
  const tampered = await web.request(cb.href);
  assert.equal(tampered.status, 401);
  assert.equal(web.cookies(gw.url).get('ng_oidc'), undefined);
  // The provider's error answer.
  const denied = new WebClient();
  const start = await denied.request(`${gw.url}/app`, { headers: { accept: 'text/html' } });
  const st = new URL(start.headers['location'] as string).searchParams.get('state')!;
  assert.equal((await denied.request(`${gw.url}/oidc/callback?error=access_denied&state=${st}`)).status, 401);
});

test('signing in gives a new session id: a session planted before, or the previous one, does not survive (fixation)', async () => {
  const { web, cookie } = await signedIn();
  assert.equal(await apiStatus(web), 200);
  const again = await web.signIn(gw.url, '/oidc/login');
  assert.equal(again.status, 302);
  const renewed = web.cookies(gw.url).get('ng_oidc')!;
  assert.notEqual(renewed, cookie);
  assert.equal(await apiStatus(web), 200);
  const old = new WebClient();
  old.cookies(gw.url).set('ng_oidc', cookie);
  assert.equal(await apiStatus(old), 401, 'the previous session ended at the new sign-in');
  // A made-up id, signed or not, is no session.
  const planted = new WebClient();
  planted.cookies(gw.url).set('ng_oidc', `${'A'.repeat(43)}.${'B'.repeat(43)}`);
  assert.equal(await apiStatus(planted), 401);
  const r = await planted.signIn(gw.url);
  assert.equal(r.status, 302);
  assert.notEqual(planted.cookies(gw.url).get('ng_oidc'), `${'A'.repeat(43)}.${'B'.repeat(43)}`);
  // A tampered signature on a real id.
  const tampered = new WebClient();
  tampered.cookies(gw.url).set('ng_oidc', cookie.slice(0, 44) + (cookie[44] === 'A' ? 'B' : 'A') + cookie.slice(45));
  assert.equal(await apiStatus(tampered), 401);
});

test('RP-initiated logout ends the session and sends the browser to the provider\'s end_session_endpoint', async () => {
  const { web, cookie } = await signedIn();
  const out = await web.request(`${gw.url}/oidc/logout`);
  assert.equal(out.status, 302);
  const to = new URL(out.headers['location'] as string);
  assert.equal(to.origin + to.pathname, `${op.issuer}/session/end`);
  assert.ok(to.searchParams.get('id_token_hint'));
  assert.equal(to.searchParams.get('post_logout_redirect_uri'), `${gw.url}/bye`);
  assert.ok(out.setCookies.some((c) => c.startsWith('ng_oidc=;') && c.includes('Max-Age=0')));
  const stale = new WebClient();
  stale.cookies(gw.url).set('ng_oidc', cookie);
  assert.equal(await apiStatus(stale), 401);
  // Through the provider's confirmation form (a browser submits it by script), back to the site.
  const page = await web.request(to.href);
  const action = /action="([^"]+)"/.exec(page.body)![1]!;
  const form = new URLSearchParams([...page.body.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m): [string, string] => [m[1]!, m[2]!]));
  const done = await web.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  assert.equal(done.headers['location'], `${gw.url}/bye`);
});

test('front-channel logout ends the sessions of the provider\'s session; another issuer is refused', async () => {
  const { web } = await signedIn();
  const idToken = JSON.parse((await web.request(`${gw.url}/api/me`, { headers: { accept: 'application/json' } })).body).headers['x-id-token'] as string;
  const sid = (JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
  assert.ok(sid);
  const anon = new WebClient();
  assert.equal((await anon.request(`${gw.url}/oidc/frontchannel?iss=${encodeURIComponent('http://evil.example')}&sid=${sid}`)).status, 400);
  assert.equal((await anon.request(`${gw.url}/oidc/frontchannel?iss=${encodeURIComponent(op.issuer)}`)).status, 400);
  assert.equal(await apiStatus(web), 200);
  const r = await anon.request(`${gw.url}/oidc/frontchannel?iss=${encodeURIComponent(op.issuer)}&sid=${encodeURIComponent(sid)}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(await apiStatus(web), 401);
});

/** The provider's session id of a signed-in client, from the ID token the upstream gets. */
async function sidOf(web: WebClient): Promise<string> {
  const idToken = JSON.parse((await web.request(`${gw.url}/api/me`, { headers: { accept: 'application/json' } })).body).headers['x-id-token'] as string;
  return (JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid;
}

async function backchannel(token: string, contentType = 'application/x-www-form-urlencoded'): Promise<{ status: number; body: string }> {
  const r = await new WebClient().request(`${gw.url}/oidc/backchannel`, { method: 'POST', headers: { 'content-type': contentType }, body: `logout_token=${encodeURIComponent(token)}` });
  return { status: r.status, body: r.body };
}

test('back-channel logout: a valid logout token ends the session; forged, foreign, stale and replayed ones are refused', async () => {
  const { web } = await signedIn();
  const sid = await sidOf(web);
  const now = Math.floor(Date.now() / 1000);
  const refused: Array<[string, Promise<string>]> = [
    ['another audience', op.logoutToken({ sid, aud: 'someone-else' })],
    ['another issuer', op.logoutToken({ sid, iss: 'http://evil.example' })],
    ['no events', op.logoutToken({ sid, events: undefined })],
    ['another event', op.logoutToken({ sid, events: { 'http://schemas.openid.net/event/other': {} } })],
    ['a nonce', op.logoutToken({ sid, nonce: 'n' })],
    ['neither sid nor sub', op.logoutToken({})],
    ['no iat', op.logoutToken({ sid, iat: undefined })],
    ['issued an hour ago', op.logoutToken({ sid, iat: now - 3600 })],
    ['expired', op.logoutToken({ sid, exp: now - 120 })],
    ['no jti', op.logoutToken({ sid, jti: undefined })],
    ['signed by another key', op.logoutToken({ sid }, { key: 'other' })],
    ['not a JWT', Promise.resolve('not-a-jwt')],
  ];
  for (const [what, token] of refused) {
    const r = await backchannel(await token);
    assert.equal(r.status, 400, `${what}: ${r.body}`);
    assert.equal(await apiStatus(web), 200, `${what} must not end the session`);
  }
  assert.equal((await backchannel(await op.logoutToken({ sid }), 'text/plain')).status, 415);
  const big = await new WebClient().request(`${gw.url}/oidc/backchannel`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `logout_token=${'a'.repeat(20_000)}` });
  assert.equal(big.status, 413);
  assert.equal((await new WebClient().request(`${gw.url}/oidc/backchannel`)).status, 405);

  const token = await op.logoutToken({ sid });
  const ok = await backchannel(token);
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.body, '');
  assert.equal(await apiStatus(web), 401);
  // The same token again (jti replay) is refused.
  const { web: next } = await signedIn();
  assert.equal((await backchannel(token)).status, 400);
  assert.equal(await apiStatus(next), 200);
  // By subject: every session of the user ends.
  const { web: other } = await signedIn('bob');
  const { web: other2 } = await signedIn('bob');
  assert.equal((await backchannel(await op.logoutToken({ sub: 'bob' }))).status, 200);
  assert.equal(await apiStatus(other), 401);
  assert.equal(await apiStatus(other2), 401);
  assert.equal(await apiStatus(next), 200, 'another user keeps their session');
});

test('HTTP/2 (h2c): the session cookie, sent as separate crumbs, is read; without it an API client gets 401', async () => {
  const { cookie } = await signedIn('dave');
  const session = connect(`http://127.0.0.1:${gw.ports[1]}`);
  const h2 = (headers: Record<string, string | string[]>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/api/me', accept: 'application/json', ...headers });
      let body = '';
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
  try {
    const ok = await h2({ cookie: ['theme=dark', `ng_oidc=${cookie}`, 'lang=en'] });
    assert.equal(ok.status, 200, ok.body);
    const h = (JSON.parse(ok.body) as Echo).headers;
    assert.equal(h['x-consumer-username'], 'dave');
    assert.equal(h['cookie'], 'theme=dark; lang=en');
    assert.equal((await h2({})).status, 401);
  } finally {
    session.close();
  }
});

test('the consumer is mapped from a claim: acl applies per user; a user who is no configured consumer is an external one', async () => {
  const { web: alice } = await signedIn('alice');
  assert.equal(await apiStatus(alice, '/staff/report'), 200);
  const { web: erin } = await signedIn('erin');
  assert.equal(await apiStatus(erin, '/staff/report'), 403);
  const h = (JSON.parse((await erin.request(`${gw.url}/api/me`, { headers: { accept: 'application/json' } })).body) as Echo).headers;
  assert.equal(h['x-consumer-username'], 'erin');
  assert.equal(h['x-consumer-id'], 'erin');
  assert.equal(h['x-consumer-groups'], undefined);
});
