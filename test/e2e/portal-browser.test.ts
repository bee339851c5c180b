// The portal in a real headless Chromium (Debian's, driven by playwright-core): sign up,
// browse the catalog, read an API's docs, create a key, call the API through the gateway
// (200), see the calls in the usage chart, revoke the key, call again (401). Screenshots of
// the catalog, an API page and the usage page go to test-results/ on every run.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM, ORDERS_OPENAPI, browserSkipReason, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { ROOT, http, startUpstream, type Upstream } from '../helpers/servers.js';

const skip = browserSkipReason();
// Functions run in the page are written against `(globalThis as any).document`: the tests
// compile without DOM types, and the portal's CSP forbids evaluating strings.
const SHOTS = join(ROOT, 'test-results');

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
  mkdirSync(SHOTS, { recursive: true });
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
  await page.getByLabel('API key').fill(secret);
  await page.getByLabel('Path').fill('/orders/42');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForSelector('#try-status');
  assert.match((await page.textContent('#try-status')) ?? '', /^Status 200/);
  assert.match((await page.textContent('#try-result pre')) ?? '', /"id":"42"/);
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
