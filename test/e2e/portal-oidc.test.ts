// Sign-in through OIDC against a real provider (oidc-provider on loopback, its development
// login pages) in headless Chromium: authorization code with PKCE, account created from the
// verified email, session cookie set; a tampered callback is refused.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM, PortalClient, browserSkipReason, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';

const skip = browserSkipReason();
let provider: Server;
let issuer = '';
let gw: PortalGatewayHandle;
let browser: Browser;
/** Authorization requests the provider received (to check PKCE was used). */
const authorizeQueries: URLSearchParams[] = [];

before(async () => {
  if (skip) return;
  // No types ship with oidc-provider; it is a test-only dependency.
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => { callback(): (req: unknown, res: unknown) => void; proxy: boolean } };
  provider = createServer();
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  gw = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
portal:
  title: OIDC portal
  oidc: { issuer: "${issuer}", client_id: portal, client_secret: portal-secret-portal-secret, scopes: [openid, email], label: Sign in with Acme SSO }
`);
  const oidc = new Provider(issuer, {
    clients: [{ client_id: 'portal', client_secret: 'portal-secret-portal-secret', redirect_uris: [`${gw.portalUrl}/portal/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@sso.example`, email_verified: true }) }),
    cookies: { keys: ['test-only-cookie-key-0123456789'] },
  });
  const handle = oidc.callback();
  provider.on('request', (req, res) => {
    if (req.url?.startsWith('/auth?')) authorizeQueries.push(new URL(req.url, issuer).searchParams);
    handle(req, res);
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await gw?.close();
  provider?.closeAllConnections();
  provider?.close();
});

test('sign in through the OIDC provider with PKCE creates the account and a session', { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(gw.portalUrl + '/sign-in');
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click();
  // oidc-provider's development login and consent pages.
  await page.waitForURL((u) => u.href.startsWith(issuer));
  await page.fill('input[name="login"]', 'carol');
  await page.fill('input[name="password"]', 'anything');
  await page.click('button[type="submit"]');
  // Then the consent page (at most a few provider pages), until the provider sends the browser back.
  for (let i = 0; i < 4 && !page.url().startsWith(gw.portalUrl); i++) {
    await page.waitForLoadState('load');
    if (page.url().startsWith(gw.portalUrl)) break;
    const submit = page.locator('button[type="submit"]');
    assert.equal(await submit.count(), 1, `stuck at ${page.url()}: ${(await page.textContent('body'))?.slice(0, 300)}`);
    await Promise.all([page.waitForNavigation(), submit.click()]);
  }
  assert.equal(page.url(), gw.portalUrl + '/keys', (await page.textContent('body'))?.slice(0, 300));
  await page.waitForSelector('body[data-ready="true"]');
  assert.match((await page.textContent('#who')) ?? '', /carol@sso\.example/);
  const q = authorizeQueries.at(-1)!;
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.ok(q.get('state') && q.get('nonce'));
  // Cookies are not scoped by port: the provider's own (same host) are there too.
  const cookies = (await context.cookies(gw.portalUrl)).filter((c) => c.name.includes('portal'));
  assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.sameSite]), [['ng_portal', true, 'Lax']]);
  const session = await page.evaluate(() => fetch('/portal/api/session').then((r) => r.json()));
  assert.equal((session as { account: { email: string } }).account.email, 'carol@sso.example');
  await context.close();
});

test('a callback without a sign-in in progress, or with a forged state, is refused', { skip }, async () => {
  const c = new PortalClient(gw.portalUrl);
  assert.equal((await c.get('/portal/oidc/callback?code=x&state=y')).status, 400, 'no session');
  const start = await c.get('/portal/api/oidc/start');
  assert.equal(start.status, 302);
  assert.ok((start.headers['location'] as string).startsWith(issuer + '/auth?'));
  const forged = await c.get('/portal/oidc/callback?code=abc&state=forged&iss=' + encodeURIComponent(issuer));
  assert.equal(forged.status, 401);
  assert.equal((await c.get('/portal/api/session')).json['authenticated'], false);
});
