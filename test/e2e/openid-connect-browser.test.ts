// `openid-connect` in headless Chromium: a navigation is sent through the provider and comes
// back signed in, the page's fetch() calls the API with the session cookie, the access token
// is refreshed after it expired, and logout (RP-initiated, through the provider's page) ends
// the session. The cookie as the browser stored it: HttpOnly, Secure, SameSite=Lax.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM, browserSkipReason } from '../helpers/browser.js';
import { CLIENT_ID, CLIENT_SECRET, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const skip = browserSkipReason();
let op: OidcProviderHandle;
let upstream: Upstream;
let gw: InProcessGateway;
let browser: Browser;
/** The provider's access tokens live 3 s; the gateway refreshes one with less than 1 s left. */
const ACCESS_TTL_S = 3;

function config(port: number): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstream.url}
    routes:
      - { name: goodbye, paths: [/bye] }
      - name: app
        paths: [/]
        plugins:
          openid-connect:
            issuer: "${op.issuer}"
            client_id: ${CLIENT_ID}
            client_secret: ${CLIENT_SECRET}
            redirect_uri: "http://127.0.0.1:${port}/oidc/callback"
            scopes: [openid, email, offline_access]
            refresh_before: 1s
            cookie: { secret: browser-test-cookie-secret-0123456789-abc }
            logout_path: /oidc/logout
            post_logout_redirect_uri: "http://127.0.0.1:${port}/bye"
            backchannel_logout_path: /oidc/backchannel
            claim_headers: { X-User-Email: email }
            forward_access_token: true
`;
}

before(async () => {
  if (skip) return;
  op = await startOidcProvider();
  upstream = await startEchoUpstream();
  gw = await startGateway(config(1));
  assert.equal(gw.reload(config(gw.port)).ok, true);
  await op.configure({ redirectUris: [`${gw.url}/oidc/callback`], postLogoutRedirectUris: [`${gw.url}/bye`], backchannelLogoutUri: `${gw.url}/oidc/backchannel`, accessTokenTtl: ACCESS_TTL_S });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await gw?.close();
  await upstream?.close();
  await op?.close();
});

type Echo = { status: number; url?: string; headers?: Record<string, string> };

test('sign in, call the API, refresh after expiry, log out — in Chromium', { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  op.account = 'carol';
  await page.goto(`${gw.url}/app/home?tab=1`);
  assert.equal(page.url(), `${gw.url}/app/home?tab=1`);
  const landed = JSON.parse((await page.textContent('body')) ?? '{}') as Echo;
  assert.equal(landed.url, '/app/home?tab=1');
  assert.equal(landed.headers?.['x-consumer-username'], 'carol');

  const cookies = (await context.cookies(gw.url)).filter((c) => c.name.startsWith('ng_oidc'));
  assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite, c.path]), [['ng_oidc', true, true, 'Lax', '/']]);
  assert.equal(await page.evaluate('document.cookie'), '', 'not readable by scripts');

  const call = (): Promise<Echo> =>
    page.evaluate(async () => {
      const r = await fetch('/api/me', { headers: { accept: 'application/json' } });
      return { status: r.status, ...(r.status === 200 ? ((await r.json()) as object) : {}) };
    });
  const first = await call();
  assert.equal(first.status, 200);
  assert.equal(first.headers?.['x-user-email'], 'carol@example.test');
  const token = first.headers?.['authorization'];
  assert.match(token ?? '', /^Bearer /);

  // After the access token expired, the next call is served with a refreshed one.
  await new Promise((r) => setTimeout(r, ACCESS_TTL_S * 1000 + 500));
  const refreshed = await call();
  assert.equal(refreshed.status, 200);
  assert.notEqual(refreshed.headers?.['authorization'], token);
  assert.ok((op.grants['refresh_token'] ?? 0) >= 1);

  // Logout through the provider's page (it confirms by script) and back to the site.
  await page.goto(`${gw.url}/oidc/logout`);
  await page.waitForURL(`${gw.url}/bye`);
  assert.equal((await call()).status, 401);
  assert.deepEqual((await context.cookies(gw.url)).filter((c) => c.name === 'ng_oidc'), []);
  await context.close();
});

test('a fetch() without a session gets 401, not a redirect to the provider', { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${op.issuer}/.well-known/openid-configuration`);
  // From another origin's page, with credentials: the gateway answers 401 (CORS hides the body, not the status).
  const fromGateway = await context.request.get(`${gw.url}/api/me`, { headers: { accept: 'application/json' }, maxRedirects: 0 });
  assert.equal(fromGateway.status(), 401);
  assert.equal(fromGateway.headers()['location'], undefined);
  await context.close();
});
