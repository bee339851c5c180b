// The portal shows the document a service is checked against (services[].openapi, $refs
// across files resolved), and a call from try-it that the document refuses comes back with
// every error's JSON pointer, which the page lists (headless Chromium).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { BROWSER_ARGS, CHROMIUM, PortalClient, browserSkipReason, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { ROOT, startUpstream, type Upstream } from '../helpers/servers.js';

const SHOP = join(ROOT, 'test', 'fixtures', 'openapi', 'shop', 'openapi.yaml');
let upstream: Upstream;
let gw: PortalGatewayHandle;
let c: PortalClient;

before(async () => {
  upstream = await startUpstream((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"id":1}');
  });
  gw = await startPortalGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0" }
access_log: { enabled: false }
portal: {}
services:
  - name: shop
    url: ${upstream.url}
    openapi: { spec: ${JSON.stringify(SHOP)}, routes: true }
    portal: { published: true }
    plugins: { request-validator: {} }
`);
  c = new PortalClient(gw.portalUrl);
  await c.signUp('dev@example.com');
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

test('the catalog and the API page show the service\'s own document, bundled', async () => {
  const api = await c.get('/portal/api/apis/shop');
  assert.equal(api.status, 200, api.body);
  const doc = api.json['openapi'] as { info: { title: string }; paths: Record<string, unknown>; 'x-northgate-bundle': Record<string, unknown> };
  assert.equal(doc.info.title, 'Shop');
  assert.deepEqual(Object.keys(doc.paths), ['/orders', '/orders/{orderId}', '/orders/{orderId}/payments', '/categories/{slug}.json']);
  assert.ok(!JSON.stringify(doc).includes('.yaml#'), 'every $ref is local');
});

test('try-it relays the 400 with every pointer', async () => {
  const r = await c.post('/portal/api/try', { service: 'shop', method: 'POST', path: '/orders', body: JSON.stringify({ id: 3, lines: [] }) });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json['status'], 400);
  const errors = (JSON.parse(r.json['body'] as string) as { errors: Array<{ pointer: string }> }).errors.map((e) => e.pointer).sort();
  assert.deepEqual(errors, ['/body', '/body/id', '/header/Idempotency-Key']);
});

test('the try-it panel lists the pointers', { skip: browserSkipReason() }, async () => {
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 60_000 });
  try {
    const context = await browser.newContext();
    const [name, value] = c.cookie.split('=') as [string, string];
    await context.addCookies([{ name, value, url: gw.portalUrl }]);
    const page = await context.newPage();
    await page.goto(`${gw.portalUrl}/apis/shop`);
    await page.getByRole('button', { name: 'Try POST /orders', exact: true }).click();
    await page.getByLabel('Path').fill('/orders');
    await page.locator('#try-body').fill('{"lines":[{"sku":"A-1","quantity":0}]}');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForSelector('#try-errors');
    const text = (await page.textContent('#try-errors')) ?? '';
    assert.match(text, /does not match the API description/);
    assert.match(text, /\/body\/lines\/0\/quantity must be >= 1/);
    assert.match(text, /\/header\/Idempotency-Key is required/);
  } finally {
    await browser.close();
  }
});
