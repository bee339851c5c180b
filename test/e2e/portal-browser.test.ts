// The portal in a real headless Chromium (Debian's, driven by playwright-core): sign up,
// browse the catalog, read an API's docs, create a key, call the API through the gateway
// (200), see the calls in the usage chart, revoke the key, call again (401); then every page
// at desktop and phone width as a person sees it (no "null", nothing wider than the phone,
// loading and empty states, the brand). Screenshots of every page at both widths go to a
// fresh temporary directory, named in the test's diagnostics.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM, ORDERS_OPENAPI, PortalClient, browserSkipReason, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { http, startUpstream, type Upstream } from '../helpers/servers.js';

const skip = browserSkipReason();
// Functions run in the page are written against `(globalThis as any).document`: the tests
// compile without DOM types, and the portal's CSP forbids evaluating strings.
const SHOTS = mkdtempSync(join(tmpdir(), 'northgate-portal-shots-'));
const ACCENT = '#0a7d5a';

let upstream: Upstream;
let gw: PortalGatewayHandle;
let browser: Browser;

before(async () => {
  if (skip) return;
  upstream = await startUpstream((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: req.url!.split('/').pop(), total: 12.5, status: 'open' }));
  });
  gw = await startPortalGateway(
    `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
plans: [{ name: free }, { name: pro }]
portal:
  title: Acme APIs
  brand: { accent_color: "${ACCENT}", logo_url: /brand/logo.svg }
  admins: [ops@example.com]
  self_service: { plans: [free, pro] }
services:
  - name: orders
    url: ${upstream.url}
    portal: { published: true, openapi: ./orders.yaml, tags: [commerce], description: Create and look up orders. }
    plugins: { key-auth: {} }
    routes: [{ paths: [/orders-api], strip_path: true }]
  - name: weather
    url: ${upstream.url}
    portal: { published: true, title: Weather, description: Forecasts by city, tags: [public] }
    routes: [{ paths: [/weather] }]
`,
    { 'orders.yaml': ORDERS_OPENAPI },
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  await gw?.close();
  await upstream?.close();
});

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', (await page.textContent('#status')) ?? '');
}

test('sign up, catalog, docs, key, call, usage, revoke — in Chromium', { skip }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const external: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(gw.portalUrl)) external.push(r.url());
  });
  page.setDefaultTimeout(30_000);
  const at = (path: string) => gw.portalUrl + path;

  // Sign up.
  await page.goto(at('/sign-up'));
  await ready(page);
  await page.getByLabel('Email').fill('browser@example.com');
  await page.getByLabel('Password').fill('a long browser password');
  await Promise.all([page.waitForURL(at('/keys')), page.getByRole('button', { name: 'Create account' }).click()]);
  await ready(page);
  assert.match((await page.textContent('#who')) ?? '', /browser@example\.com/);

  // Catalog: search and tag filter.
  await page.goto(at('/'));
  await ready(page);
  assert.deepEqual(await page.locator('#api-list h2').allTextContents(), ['Orders API', 'Weather']);
  await page.getByLabel('Search APIs').fill('forecast');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#api-list h2').length === 1);
  assert.deepEqual(await page.locator('#api-list h2').allTextContents(), ['Weather']);
  await page.getByLabel('Search APIs').fill('');
  await page.getByLabel('Tag').selectOption('commerce');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#api-list h2').length === 1 && (globalThis as any).document.querySelector('#api-list h2').textContent === 'Orders API');
  await page.getByLabel('Tag').selectOption('');
  await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#api-list h2').length === 2);
  await page.screenshot({ path: join(SHOTS, 'portal-catalog.png'), fullPage: true });

  // Keyboard: on a fresh page the first Tab reaches the skip link, Enter moves focus to the content.
  await page.goto(at('/'));
  await ready(page);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement.id), 'main');

  // The API page: operations, parameters, schemas, examples and the gateway's base URL.
  await Promise.all([page.waitForURL(at('/apis/orders')), page.getByRole('link', { name: 'Orders API' }).click()]);
  await ready(page);
  assert.equal(await page.textContent('#base-url'), `${gw.proxyUrl}/orders-api`);
  const ops = await page.locator('.operation h3').allTextContents();
  assert.ok(ops.some((t) => t.includes('GET') && t.includes('/orders/{id}') && t.includes('Get an order')), ops.join('\n'));
  assert.ok(ops.some((t) => t.includes('POST') && t.includes('/orders')), ops.join('\n'));
  const getOp = page.locator('.operation', { hasText: 'Get an order' });
  assert.match((await getOp.locator('table').textContent()) ?? '', /idpathyes.*The order id/);
  assert.match((await getOp.locator('pre').first().textContent()) ?? '', /"total": 12\.5/);
  assert.match((await page.locator('.named-schema').first().textContent()) ?? '', /Order.*id.*required.*string.*status.*one of: "open", "paid", "shipped"/s);
  await page.screenshot({ path: join(SHOTS, 'portal-api.png'), fullPage: true });

  // Create a key.
  await page.getByRole('link', { name: 'Keys' }).click();
  await ready(page);
  await page.getByLabel('Name').fill('browser-key');
  await page.getByLabel('Plan').selectOption('pro');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.locator('#new-secret').textContent())!;
  assert.match(secret, /^ng_/);
  await page.waitForSelector('#key-list table');
  assert.match((await page.locator('#key-list table').textContent()) ?? '', new RegExp(`browser-key${secret.slice(0, 10)}…pro`));

  // Call the API through the gateway: from the try-it panel, and directly.
  await page.goto(at('/apis/orders'));
  await ready(page);
  await page.getByRole('button', { name: 'Try GET /orders/{id}' }).click();
  // Try it offers the key this tab just created, already filled in.
  assert.match((await page.locator('#try-key-choice option:checked').textContent()) ?? '', new RegExp(`^browser-key \\(${secret.slice(0, 10)}…, pro\\)$`));
  assert.equal(await page.getByLabel('API key').inputValue(), secret);
  await page.getByLabel('Path').fill('/orders/42');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForSelector('#try-status');
  assert.match((await page.textContent('#try-status')) ?? '', /^Status 200/);
  assert.match((await page.textContent('#try-result pre')) ?? '', /"id": "42"/);
  const direct = await http(`${gw.proxyUrl}/orders-api/orders/7`, { headers: { 'x-api-key': secret } });
  assert.equal(direct.status, 200);

  // The calls appear in the usage page's chart and table.
  await page.getByRole('link', { name: 'Usage' }).click();
  await ready(page);
  assert.equal(await page.locator('#usage-summary [data-class="2xx"]').textContent(), '2');
  assert.equal(await page.locator('#calls-chart canvas').count(), 1, 'uPlot drew the calls chart');
  assert.match((await page.locator('#calls-chart').textContent()) ?? '', /2xx/);
  await page.screenshot({ path: join(SHOTS, 'portal-usage.png'), fullPage: true });

  // Revoke; the key stops working.
  await page.getByRole('link', { name: 'Keys' }).click();
  await ready(page);
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Revoke browser-key' }).click();
  await page.waitForFunction(() => (globalThis as any).document.querySelector('#status').textContent === 'Key "browser-key" revoked.');
  await page.waitForSelector('#key-list >> text=No keys yet.');
  const after = await http(`${gw.proxyUrl}/orders-api/orders/7`, { headers: { 'x-api-key': secret } });
  assert.equal(after.status, 401);

  assert.deepEqual(external, [], 'the portal makes no third-party request');
  await context.close();
});

test('every form control of the pages has a label', { skip }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  for (const path of ['/', '/sign-in', '/sign-up', '/apis/orders']) {
    await page.goto(gw.portalUrl + path);
    await ready(page);
    const unlabelled = await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('input, select, textarea')].filter((e: any) => e.labels.length === 0).map((e: any) => e.id || e.outerHTML));
    assert.deepEqual(unlabelled, [], path);
    assert.equal(await page.locator('main').count(), 1);
    assert.equal(await page.locator('nav[aria-label="Main"]').count(), 1);
  }
  await context.close();
});

test('the server sends the pages with their content: catalog, API summary, forms, loading states, brand', { skip }, async () => {
  // Plain HTTP, no script runs: what a person sees at once (and without JavaScript).
  const home = await http(gw.portalUrl + '/');
  assert.equal(home.status, 200);
  assert.match(home.body, /<a href="\/apis\/orders">Orders API<\/a>/);
  assert.match(home.body, /<a href="\/apis\/weather">Weather<\/a>/);
  assert.match(home.body, /<span id="brand-title">Acme APIs<\/span>/);
  assert.match(home.body, /<img class="logo" src="\/brand\/logo.svg"/);
  assert.doesNotMatch(home.body, /\b(null|undefined)\b/);
  assert.doesNotMatch(String(home.headers['content-security-policy']), /unsafe-inline|unsafe-eval|\*/);
  const found = await http(gw.portalUrl + '/?q=forecast');
  assert.match(found.body, /Weather/);
  assert.doesNotMatch(found.body, /Orders API/);
  const none = await http(gw.portalUrl + '/?q=nothing-like-this');
  assert.match(none.body, /No API matches your search\./);
  const apiPage = await http(gw.portalUrl + '/apis/orders');
  assert.match(apiPage.body, /<h1 id="page-title">Orders API<\/h1>/);
  assert.match(apiPage.body, /<dd id="api-version">1\.2\.0<\/dd>/);
  assert.match(apiPage.body, new RegExp(`<code id="base-url">${gw.proxyUrl}/orders-api</code>`));
  assert.match(apiPage.body, /Loading the API reference…/);
  assert.equal((await http(gw.portalUrl + '/apis/missing')).status, 404);
  assert.match((await http(gw.portalUrl + '/sign-in')).body, /<label for="email">Email<\/label>/);
  const keys = await http(gw.portalUrl + '/keys');
  assert.equal(keys.status, 302);
  assert.equal(keys.headers.location, '/sign-in');
  const dev = new PortalClient(gw.portalUrl);
  await dev.signUp('html@example.com');
  for (const [path, text] of [['/keys', 'Loading your keys…'], ['/usage', 'Loading your usage…']] as const) {
    const r = await dev.get(path);
    assert.equal(r.status, 200, path);
    assert.match(r.body, new RegExp(`<p class="loading" aria-busy="true">${text}</p>`), path);
  }
  assert.equal((await dev.get('/admin')).status, 403, 'a developer is no operator');
  assert.match((await dev.get('/apis/orders')).body, /<label for="try-key-choice">Your keys<\/label>/);
  const css = await http(gw.portalUrl + '/assets/brand.css');
  assert.match(css.body, new RegExp(`--accent: ${ACCENT};`));
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
});

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/** What a person sees on the page now: ready, no stray words, fits the width; a screenshot. */
async function looksRight(page: Page, name: string, expect: RegExp[] = []): Promise<void> {
  await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
  const width = page.viewportSize()!.width;
  const where = `${name} at ${width}px`;
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', `${where}: ${(await page.textContent('#status')) ?? ''}`);
  await page.waitForFunction(() => (globalThis as any).document.querySelector('[aria-busy="true"]') === null, undefined, { timeout: 30_000 });
  const text = await page.evaluate(() => (globalThis as any).document.body.innerText as string);
  assert.doesNotMatch(text, /\b(null|undefined|NaN)\b|\[object Object\]/, where);
  for (const re of expect) assert.match(text, re, where);
  assert.ok(await page.locator('h1').isVisible(), where);
  const scroll = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number);
  assert.ok(scroll <= width, `${where}: the page is ${scroll}px wide`);
  await page.screenshot({ path: join(SHOTS, `${name.replace(/[^a-z0-9]+/gi, '-')}-${width}.png`), fullPage: true });
}

test('every page at desktop and phone width: no "null", fits 390px, loading and empty states, the brand', { skip }, async (t) => {
  t.diagnostic(`screenshots: ${SHOTS}`);
  const anon = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  const ops = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  await ops.goto(gw.portalUrl + '/sign-up');
  await ready(ops);
  await ops.getByLabel('Email').fill('ops@example.com');
  await ops.getByLabel('Password').fill('an operator password');
  await Promise.all([ops.waitForURL(gw.portalUrl + '/keys'), ops.getByRole('button', { name: 'Create account' }).click()]);

  for (const size of [DESKTOP, PHONE]) {
    await anon.setViewportSize(size);
    await ops.setViewportSize(size);
    const visit = async (page: Page, path: string, name: string, expect: RegExp[] = []) => {
      await page.goto(gw.portalUrl + path);
      await looksRight(page, name, expect);
    };
    await visit(anon, '/', 'catalog', [/Orders API/, /Weather/, /2 APIs/]);
    await visit(anon, '/?q=nothing-like-this', 'catalog-no-match', [/No API matches your search\./]);
    await visit(anon, '/apis/orders', 'api-orders', [/Version\s+1\.2\.0/i, /Get an order/, /Sign in to call this API/]);
    await visit(anon, '/apis/weather', 'api-without-openapi', [/No API reference is published for this API\./]);
    await visit(anon, '/apis/missing', 'api-missing', [/No published API is named “missing”/]);
    await visit(anon, '/sign-in', 'sign-in', [/Email/, /Password/]);
    await visit(anon, '/sign-up', 'sign-up', [/At least 10 characters/]);
    await visit(ops, '/usage', 'usage-empty', [/No calls in this period yet\./]);
    await visit(ops, '/admin', 'admin', [/Nothing waits for approval\./, /ops@example\.com/]);
    await visit(ops, '/apis/orders', 'api-signed-in', [/Your keys/, /Send/]);

    // The brand: its title in the header and the page title, its accent colour on the page.
    assert.equal(await anon.locator('#brand-title').textContent(), 'Acme APIs');
    assert.match(await anon.title(), / · Acme APIs$/);
    assert.equal(await ops.locator('button', { hasText: 'Send' }).evaluate((b: any) => (globalThis as any).getComputedStyle(b).backgroundColor), 'rgb(10, 125, 90)');
  }

  // Keys: the empty state, then a key in a table that fits the phone.
  await visit390(ops, '/keys', 'keys-empty', [/No keys yet\./]);
  await ops.getByLabel('Name').fill('a-rather-long-key-name-for-a-phone');
  await ops.getByRole('button', { name: 'Create key' }).click();
  await ops.waitForSelector('#key-list table');
  await looksRight(ops, 'keys-created', [/Copy it now/]);

  // Try it at phone width: the key is offered, a long answer wraps inside the panel.
  await visit390(ops, '/apis/orders', 'api-try', []);
  await ops.getByLabel('Path').fill('/orders/' + 'x'.repeat(600));
  await ops.getByRole('button', { name: 'Send' }).click();
  await ops.waitForSelector('#try-status');
  const pre = ops.locator('#try-result pre.response').first();
  assert.ok(await pre.isVisible());
  const [sw, cw] = await pre.evaluate((p: any) => [p.scrollWidth, p.clientWidth]);
  assert.ok(sw <= cw, `the answer is ${sw}px wide in a ${cw}px box`);
  await looksRight(ops, 'api-try-answer', [/Status 200/]);
  await anon.context().close();
  await ops.context().close();
});

async function visit390(page: Page, path: string, name: string, expect: RegExp[]): Promise<void> {
  await page.setViewportSize(PHONE);
  await page.goto(gw.portalUrl + path);
  await looksRight(page, name, expect);
}
