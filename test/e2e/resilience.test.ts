// Passive health and retries with real fault-injecting upstreams: a refused port, one that
// answers 500, one that answers 503; retries land on another target, failing targets are
// ejected and come back, and with every target ejected the gateway answers 503 at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

async function deadPort(): Promise<number> {
  const u = await startUpstream(() => undefined);
  await u.close();
  return u.port;
}

describe('retries', () => {
  let ok: Upstream;
  let unavailable: Upstream;
  let gw: InProcessGateway;
  let okHits = 0;
  let unavailableHits = 0;
  before(async () => {
    ok = await startUpstream((req, res) => {
      okHits++;
      req.resume();
      res.end('ok');
    });
    unavailable = await startUpstream((req, res) => {
      unavailableHits++;
      req.resume();
      res.writeHead(503).end('down');
    });
    const dead = await deadPort();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: half-dead
    targets: [{ url: "http://127.0.0.1:${dead}" }, { url: "${ok.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
  - name: half-503
    targets: [{ url: "${unavailable.url}" }, { url: "${ok.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
services:
  - { name: default-retries, upstream: half-dead, routes: [{ paths: ["/a"] }] }
  - { name: no-retries, upstream: half-dead, retries: { attempts: 1 }, routes: [{ paths: ["/b"] }] }
  - { name: on-503, upstream: half-503, retries: { attempts: 2, on: ["503"] }, routes: [{ paths: ["/c"] }] }
  - { name: not-on-503, upstream: half-503, routes: [{ paths: ["/d"] }] }
`);
  });
  after(async () => {
    await gw.close();
    await ok.close();
    await unavailable.close();
  });

  test('a refused connection is retried on the other target (idempotent methods, by default)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await http(gw.url + '/a')).status);
    assert.deepEqual(statuses, Array(10).fill(200));
  });

  test('without retries, or for POST, the refused half fails', async () => {
    const noRetry: number[] = [];
    for (let i = 0; i < 10; i++) noRetry.push((await http(gw.url + '/b')).status);
    assert.equal(noRetry.filter((s) => s === 502).length, 5);
    const post: number[] = [];
    for (let i = 0; i < 10; i++) post.push((await http(gw.url + '/a', { method: 'POST', body: 'x' })).status);
    assert.equal(post.filter((s) => s === 502).length, 5, 'a request with a body is never replayed');
  });

  test('a 503 is retried on another target only when `on` lists it', async () => {
    okHits = 0;
    unavailableHits = 0;
    const retried: number[] = [];
    for (let i = 0; i < 10; i++) retried.push((await http(gw.url + '/c')).status);
    assert.deepEqual(retried, Array(10).fill(200));
    assert.equal(okHits, 10);
    assert.ok(unavailableHits >= 5, 'the failing target was tried, and the other one answered');
    const plain: number[] = [];
    for (let i = 0; i < 10; i++) plain.push((await http(gw.url + '/d')).status);
    assert.equal(plain.filter((s) => s === 503).length, 5);
  });
});

describe('outlier ejection', () => {
  let bad: Upstream;
  let good: Upstream;
  let gw: InProcessGateway;
  let badHits = 0;
  let gwConfig = '';
  before(async () => {
    bad = await startUpstream((_req, res) => {
      badHits++;
      res.writeHead(500).end('boom');
    });
    good = await startUpstream((_req, res) => res.end('ok'));
    gwConfig = `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: mixed
    targets: [{ url: "${bad.url}" }, { url: "${good.url}" }]
    healthcheck: { passive: { consecutive_failures: 3, base_ejection: 300ms, max_ejected_percent: 50 } }
  - name: all-bad
    targets: [{ url: "${bad.url}" }]
    healthcheck: { passive: { consecutive_failures: 2, base_ejection: 30s } }
services:
  - { name: mixed, upstream: mixed, routes: [{ paths: ["/mixed"] }] }
  - { name: all-bad, upstream: all-bad, routes: [{ paths: ["/all-bad"] }] }
`;
    gw = await startGateway(gwConfig);
  });
  after(async () => {
    await gw.close();
    await bad.close();
    await good.close();
  });

  test('consecutive 5xx eject a target: traffic stops reaching it, then it comes back after the ejection time', async () => {
    badHits = 0;
    for (let i = 0; i < 6; i++) await http(gw.url + '/mixed');
    assert.equal(badHits, 3, 'ejected after three consecutive failures');
    const during: number[] = [];
    for (let i = 0; i < 10; i++) during.push((await http(gw.url + '/mixed')).status);
    assert.deepEqual(during, Array(10).fill(200), 'only the healthy target answers while the other is ejected');
    assert.equal(badHits, 3);
    // Back after the ejection time (bounded wait).
    for (let i = 0; i < 40 && badHits === 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await http(gw.url + '/mixed');
    }
    assert.ok(badHits > 3, 'the ejected target receives traffic again');
  });

  test('with every target ejected: 503 problem+json with Retry-After, without trying the network', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await http(gw.url + '/all-bad')).status, 500);
    const hits = badHits;
    const res = await http(gw.url + '/all-bad');
    assert.equal(res.status, 503);
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:upstream-unhealthy');
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(retryAfter >= 25 && retryAfter <= 30, `Retry-After ${retryAfter}`);
    assert.equal(badHits, hits, 'no request reached the upstream');
    // A reload keeps what passive health learned: the target stays ejected.
    assert.equal(gw.reload(gwConfig).ok, true);
    assert.equal((await http(gw.url + '/all-bad')).status, 503);
    assert.equal(badHits, hits);
  });
});
