// The operator console in a real headless Chromium (Debian's, driven by playwright-core)
// against a real gateway (the CLI, a SQLite store, an admin token): sign in, read the
// dashboard while traffic runs, create a service, a route, a key-auth plugin, a consumer and
// its key (shown once), call the new route through the proxy with that key, edit the plugin,
// see the server's validation error on its field, delete with the dependents named; entity
// names and tags render as text; read-only mode: file; keyboard, labels, phone width, dark
// theme, no CSP violation. Screenshots at desktop and phone width go to
// NORTHGATE_CONSOLE_SHOTS (or a fresh temporary directory), named in the diagnostics.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_TOKEN, adminClient, adminUrlOf, nodeConfig, type Api } from '../helpers/admin.js';
import { BROWSER_ARGS, CHROMIUM, browserSkipReason } from '../helpers/browser.js';
import { http, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const skip = browserSkipReason();
const SHOTS = process.env['NORTHGATE_CONSOLE_SHOTS'] ?? mkdtempSync(join(tmpdir(), 'northgate-console-shots-'));
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const XSS = '<img src=x onerror="window.__xss=1">';

let upstream: Upstream;
let gw: CliGateway;
let admin: string;
let api: Api;
let browser: Browser;
const problems: string[] = [];

before(async () => {
  if (skip) return;
  mkdirSync(SHOTS, { recursive: true });
  upstream = await startEchoUpstream();
  gw = await startCli(['-c', writeConfig(nodeConfig(`sqlite:${join(tempDir('northgate-console-ui-'), 'ng.db')}`))]);
  admin = adminUrlOf(gw);
  api = adminClient(admin);
  // Traffic to look at, and a tag that would run script if it were rendered as markup.
  assert.equal((await api('POST', '/services', { name: 'catalog', url: upstream.url, tags: ['team-a', XSS] })).status, 201);
  assert.equal((await api('POST', '/routes', { service: 'catalog', name: 'catalog-api', paths: ['/catalog'] })).status, 201);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  await upstream?.close();
});

async function open(size = DESKTOP, colorScheme: 'light' | 'dark' = 'light'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: size, colorScheme });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  return { context, page };
}

async function shot(page: Page, name: string, t: { diagnostic(s: string): void }): Promise<void> {
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${admin}/ui/`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

/** No element is wider than the viewport (nothing to scroll sideways at phone width). */
const overflow = (page: Page) => page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth);

/** Inputs, selects and textareas without a label a screen reader would announce. */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...(globalThis as any).document.querySelectorAll('input, select, textarea')]
      .filter((el: any) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
      .map((el: any) => el.outerHTML.slice(0, 80)),
  );

test('sign in, the dashboard under traffic, create service, route, plugin, consumer and key, call it, edit, a field error, delete', { skip }, async (t) => {
  const { context, page } = await open();
  await page.goto(`${admin}/ui/`);
  await shot(page, 'sign-in-desktop', t);
  assert.deepEqual(await unlabelled(page), []);
  await signIn(page);
  assert.equal(await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }).includes('token-0123')), false, 'the token is not in localStorage');
  assert.ok(!page.url().includes(ADMIN_TOKEN));
  const cookies = await context.cookies();
  assert.equal(cookies.length, 1);
  assert.deepEqual([cookies[0]!.httpOnly, cookies[0]!.sameSite], [true, 'Strict']);
  assert.equal(await page.evaluate(() => (globalThis as any).document.cookie), '', 'the page cannot read its session cookie');

  // Traffic runs while the dashboard refreshes: the route's row shows it (bounded loop).
  let stop = false;
  let sent = 0;
  const traffic = (async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      await http(`${gw.url}/catalog/${i}`);
      sent++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const row = page.getByRole('row').filter({ hasText: 'catalog / catalog-api' });
  await row.waitFor({ timeout: 30_000 });
  stop = true;
  await traffic;
  assert.ok(sent > 0);
  assert.match(await row.innerText(), /ms/, 'latency percentiles shown');
  await page.getByRole('button', { name: 'Chart catalog catalog-api' }).click();
  await page.getByRole('heading', { name: 'Traffic: catalog / catalog-api' }).waitFor();
  await shot(page, 'dashboard-desktop', t);

  // A service.
  await page.getByRole('link', { name: 'Services' }).click();
  await page.getByRole('button', { name: 'New service' }).click();
  await page.locator('#f-name').fill('shop');
  await page.getByLabel('url', { exact: true }).fill(upstream.url);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Created service shop.').waitFor();
  // Names and tags are text: the tag that looks like markup is shown as such and runs nothing.
  await page.getByText(XSS, { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined);
  assert.equal(await page.locator('main img').count(), 0);
  await shot(page, 'services-desktop', t);

  // A route on it, the service picked from the list of services.
  await page.getByRole('link', { name: 'Routes' }).click();
  await page.getByRole('button', { name: 'New route' }).click();
  await page.getByLabel('service', { exact: true }).selectOption('shop');
  await page.locator('#f-name').fill('shop-api');
  await page.getByLabel('paths', { exact: true }).fill('/shop');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Created route shop-api.').waitFor();

  // key-auth on the route, its config form generated from the plugin's schema.
  await page.getByRole('link', { name: 'Plugins' }).click();
  await page.getByRole('button', { name: 'New plugin' }).click();
  await page.locator('#f-name').selectOption('key-auth');
  await page.getByLabel('route', { exact: true }).selectOption('shop-api');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Created plugin route:shop-api/key-auth.').waitFor();

  // A consumer and a key: generated in the page, shown once.
  await page.getByRole('link', { name: 'Consumers' }).click();
  await page.getByRole('button', { name: 'New consumer' }).click();
  await page.getByLabel('username', { exact: true }).fill('alice');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Created consumer alice.').waitFor();
  await page.getByRole('link', { name: 'Credentials' }).click();
  await page.getByRole('button', { name: 'New credential' }).click();
  await page.getByLabel('consumer', { exact: true }).selectOption('alice');
  await page.getByRole('button', { name: 'Create' }).click();
  const key = (await page.getByTestId('new-key').innerText()).trim();
  assert.match(key, /^[A-Za-z0-9_-]{32}$/);
  await shot(page, 'credential-key-once-desktop', t);
  const listed = await api('GET', '/credentials?consumer=alice');
  assert.equal(listed.json.data[0].key_prefix, key.slice(0, 4));
  assert.ok(!JSON.stringify(listed.json).includes(key), 'the API never shows the key again');

  // Through the proxy with that key.
  assert.equal((await http(`${gw.url}/shop/items`)).status, 401);
  const ok = await http(`${gw.url}/shop/items`, { headers: { apikey: key } });
  assert.equal(ok.status, 200, ok.body);

  // Edit the plugin: the key travels in another header from now on.
  await page.getByRole('link', { name: 'Plugins' }).click();
  await page.getByRole('button', { name: 'Edit route:shop-api/key-auth' }).click();
  await page.getByText(/more fields of config$/).click();
  await page.getByLabel('key_names', { exact: true }).fill('x-shop-key');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved plugin route:shop-api/key-auth.').waitFor();
  assert.equal((await http(`${gw.url}/shop/items`, { headers: { 'x-shop-key': key } })).status, 200);
  assert.equal((await http(`${gw.url}/shop/items`, { headers: { apikey: key } })).status, 401);

  // The server's validation error lands on its field.
  await page.getByRole('link', { name: 'Routes' }).click();
  await page.getByRole('button', { name: 'Edit shop-api' }).click();
  await page.getByLabel('paths', { exact: true }).fill('no-leading-slash');
  await page.getByRole('button', { name: 'Save' }).click();
  const field = page.locator('.field.invalid').filter({ has: page.getByLabel('paths', { exact: true }) });
  await field.waitFor();
  assert.match(await field.innerText(), /paths\[0\]: /);
  assert.equal(await page.getByLabel('paths', { exact: true }).getAttribute('aria-invalid'), 'true');
  await shot(page, 'route-field-error-desktop', t);
  await page.getByRole('button', { name: 'Cancel' }).click();
  assert.deepEqual((await api('GET', '/routes/shop-api')).json.paths, ['/shop'], 'nothing was saved');

  // Delete the service: the confirmation names what goes with it.
  await page.getByRole('link', { name: 'Services' }).click();
  await page.getByRole('button', { name: 'Delete shop' }).click();
  const confirm = page.getByRole('alertdialog');
  await confirm.getByText('route shop-api').waitFor();
  const named = await confirm.innerText();
  assert.match(named, /route shop-api/);
  assert.match(named, /plugin route:shop-api\/key-auth/, 'what uses the route goes too, and is named');
  assert.match(named, /Delete 3 entities/);
  await shot(page, 'delete-confirm-desktop', t);
  await confirm.getByRole('button', { name: /^Delete/ }).click();
  await page.getByText('Deleted service shop.').waitFor();
  assert.equal((await api('GET', '/services/shop')).status, 404);
  assert.equal((await api('GET', '/routes/shop-api')).status, 404);
  assert.equal((await http(`${gw.url}/shop/items`, { headers: { 'x-shop-key': key } })).status, 404);

  // Tools: explain a request and the route table.
  await page.getByRole('link', { name: 'Tools' }).click();
  await page.getByLabel('URL or path').fill('/catalog/7?x=1');
  await page.getByRole('button', { name: 'Explain' }).click();
  await page.getByText('Forwards to').waitFor();
  assert.match(await page.locator('.facts').innerText(), new RegExp(`${upstream.url}/catalog/7\\?x=1`));
  await page.getByRole('table', { name: 'Route table, in match order' }).getByText('catalog-api').waitFor();
  await shot(page, 'tools-desktop', t);

  // Sign out: the session ends, the form is back.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Admin token').waitFor();
  await context.close();
  // The 400 of the field error and the 401s before sign-in are answers the page expected.
  assert.deepEqual(problems.filter((p) => !/status of 40[01] /.test(p)), [], 'no script error and no CSP violation');
});

test('phone width and dark theme: nothing scrolls sideways, the menu folds, every control is labelled', { skip }, async (t) => {
  const { context, page } = await open(PHONE, 'dark');
  await page.goto(`${admin}/ui/`);
  await shot(page, 'sign-in-phone-dark', t);
  await signIn(page);
  await page.getByText('config version').waitFor();
  assert.ok((await overflow(page)) <= 0, 'dashboard fits');
  await shot(page, 'dashboard-phone-dark', t);
  assert.equal(await page.getByRole('link', { name: 'Services' }).isVisible(), false, 'the menu is folded');
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Services' }).click();
  await page.getByText('team-a').waitFor();
  assert.ok((await overflow(page)) <= 0, 'services fit');
  await shot(page, 'services-phone-dark', t);
  await page.getByRole('button', { name: 'New service' }).click();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('.field.invalid').first().waitFor();
  assert.ok((await overflow(page)) <= 0, 'the form fits');
  assert.deepEqual(await unlabelled(page), []);
  await shot(page, 'service-form-error-phone-dark', t);
  const bg = await page.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor);
  assert.equal(bg, 'rgb(17, 20, 24)', 'the dark theme');
  await context.close();

  const light = await open(PHONE, 'light');
  await signIn(light.page);
  await light.page.getByRole('button', { name: 'Menu' }).click();
  await light.page.getByRole('link', { name: 'Tools' }).click();
  await light.page.getByRole('table', { name: 'Route table, in match order' }).waitFor();
  assert.ok((await overflow(light.page)) <= 0, 'tools fit');
  await shot(light.page, 'tools-phone', t);
  await light.context.close();
});

test('keyboard only: skip link, navigation, a form filled and sent without a pointer', { skip }, async () => {
  const { context, page } = await open();
  await signIn(page);
  const focused = () => page.evaluate(() => (globalThis as any).document.activeElement.textContent as string);
  // Each page puts focus on its heading; before it, the skip link and the navigation.
  for (let i = 0; i < 20 && (await focused()) !== 'Skip to content'; i++) await page.keyboard.press('Shift+Tab');
  assert.equal(await focused(), 'Skip to content');
  // To the Plans link by Tab, then Enter.
  for (let i = 0; i < 20; i++) {
    await page.keyboard.press('Tab');
    if ((await focused()) === 'Plans') break;
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Plans' }).waitFor();
  await page.getByRole('button', { name: 'New plan' }).focus();
  await page.keyboard.press('Enter');
  // The form that opens takes the focus; the next Tab is its first field.
  await page.getByRole('heading', { name: 'New plan' }).waitFor();
  assert.equal(await focused(), 'New plan');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement.id), 'f-name');
  await page.keyboard.type('gold');
  await page.keyboard.press('Enter');
  await page.getByText('Created plan gold.').waitFor();
  assert.equal((await api('GET', '/plans/gold')).status, 200);
  await context.close();
});

test('mode: file: read-only, an entity YAML, a proposed change as a diff', { skip }, async (t) => {
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: orders
    url: ${upstream.url}
    routes: [{ name: orders-v1, paths: [/v1/orders] }]
`);
  const fgw = await startCli(['-c', file]);
  t.after(() => fgw.stop());
  const { context, page } = await open();
  await page.goto(`${adminUrlOf(fgw)}/ui/#/entities/routes`);
  await page.getByText('the console is read-only').waitFor();
  assert.equal(await page.getByRole('button', { name: /^New / }).count(), 0);
  assert.equal(await page.getByRole('button', { name: /^Delete / }).count(), 0);
  await page.getByRole('button', { name: 'YAML of orders-v1' }).click();
  await page.getByText('name: orders-v1').waitFor();
  await page.getByRole('button', { name: 'Propose a change to orders-v1' }).click();
  await page.getByLabel('paths', { exact: true }).fill('/v1/orders\n/v2/orders');
  await page.getByRole('button', { name: 'Show the diff' }).click();
  await page.locator('pre.diff .add').filter({ hasText: '+  - /v2/orders' }).waitFor();
  const lines = (await page.locator('pre.diff').innerText()).split('\n');
  assert.ok(lines.includes('+  - /v2/orders') && lines.includes('   - /v1/orders'), `one diff line per line: ${JSON.stringify(lines)}`);
  await shot(page, 'file-mode-diff-desktop', t);
  await context.close();
});
