// The rate-limit plugin: GCRA exactness, standard headers, keys and scopes, and the
// cluster-wide policy on a real Redis shared by three gateway processes, including Redis
// going away and coming back.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decide, type Limit } from '../../src/plugins/rate-limit/gcra.js';
import { http, startCli, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';
import { stablePort } from '../helpers/ports.js';

const statuses = (list: Array<{ status: number }>) => list.map((r) => r.status);
const count = (list: Array<{ status: number }>, s: number) => list.filter((r) => r.status === s).length;

describe('GCRA', () => {
  test('exactly max in a burst, then one per interval; never above the burst plus the rate', () => {
    const limits: Limit[] = [{ period: 60_000, max: 10, name: '1m' }];
    let tats: number[] = [];
    let admitted = 0;
    for (let i = 0; i < 25; i++) {
      const r = decide(limits, tats, 1_000_000);
      tats = r.tats;
      if (r.decision.allowed) admitted++;
    }
    assert.equal(admitted, 10);
    // 6 s later (one interval) exactly one more.
    assert.equal(decide(limits, tats, 1_006_000).decision.allowed, true);
    assert.equal(decide(limits, decide(limits, tats, 1_006_000).tats, 1_006_000).decision.allowed, false);
    // Random arrivals: between any two admitted requests, at most max + elapsed / interval (GCRA's bound).
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let t = 0;
    tats = [];
    const times: number[] = [];
    for (let i = 0; i < 3000; i++) {
      t += rand() * 2000;
      const r = decide(limits, tats, t);
      tats = r.tats;
      if (r.decision.allowed) times.push(t);
    }
    assert.ok(times.length > 100, 'the rate was exercised');
    for (let i = 0; i < times.length; i += 7) {
      for (let j = i; j < times.length; j += 13) assert.ok(j - i + 1 <= 10 + (times[j]! - times[i]!) / 6000 + 1e-9, `${j - i + 1} admitted in ${times[j]! - times[i]!} ms`);
    }
  });
});

describe('rate-limit, local', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://up"
    routes:
      - { name: a, paths: ["/a"], plugins: { rate-limit: { limits: [{ per: 1m, max: 5 }], key: ip } } }
      - { name: b, paths: ["/b"], plugins: { rate-limit: { limits: [{ per: 1m, max: 5 }], key: ip } } }
      - { name: burst, paths: ["/burst"], plugins: { rate-limit: { limits: [{ per: 1m, max: 20 }], key: ip } } }
      - { name: by-key, paths: ["/key"], plugins: { rate-limit: { limits: [{ per: 1m, max: 2 }], key: "header:x-api-key" } } }
      - { name: two, paths: ["/two"], plugins: { rate-limit: { limits: [{ per: 1h, max: 100 }, { per: 10s, max: 2 }], key: ip } } }
`, upstreams: { up: () => ({ body: 'ok' }) } });
  });
  after(async () => {
    await gw.close();
  });

  test('admits exactly max, then 429 problem+json with Retry-After; RateLimit headers count down', async () => {
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await gw.request({ path: '/a' }));
    assert.deepEqual(statuses(results), [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.equal(results[0]!.headers['ratelimit-policy'], '"1m";q=5;w=60');
    assert.deepEqual(results.slice(0, 5).map((r) => /r=(\d+)/.exec(r.headers['ratelimit'] as string)![1]), ['4', '3', '2', '1', '0']);
    const denied = results[5]!;
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(denied.body) as { type: string }).type, 'urn:northgate:problem:rate-limited');
    assert.ok(Number(denied.headers['retry-after']) >= 1 && Number(denied.headers['retry-after']) <= 12);
  });

  test('routes keep separate counters; the exact count holds under concurrency', async () => {
    assert.equal((await gw.request({ path: '/b' })).status, 200, 'route b is not charged for route a');
    const burst = await Promise.all(Array.from({ length: 100 }, () => gw.request({ path: '/burst' })));
    assert.equal(count(burst, 200), 20);
    assert.equal(count(burst, 429), 80);
  });

  test('key by header: each key has its own budget', async () => {
    const one = [await gw.request({ path: '/key', headers: { 'x-api-key': 'k1' } }), await gw.request({ path: '/key', headers: { 'x-api-key': 'k1' } }), await gw.request({ path: '/key', headers: { 'x-api-key': 'k1' } })];
    assert.deepEqual(statuses(one), [200, 200, 429]);
    assert.equal((await gw.request({ path: '/key', headers: { 'x-api-key': 'k2' } })).status, 200);
  });

  test('several limits: the tightest decides and is named in the headers', async () => {
    const r = [await gw.request({ path: '/two' }), await gw.request({ path: '/two' }), await gw.request({ path: '/two' })];
    assert.deepEqual(statuses(r), [200, 200, 429]);
    assert.equal(r[0]!.headers['ratelimit-policy'], '"10s";q=2;w=10, "1h";q=100;w=3600');
    assert.match(r[2]!.headers['ratelimit'] as string, /^"10s";r=0;t=\d+$/);
  });
});

describe('rate-limit, local, two workers of one node', () => {
  test('--workers 2 (real CLI): the master owns the counters, a concurrent burst admits exactly max', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${up.url}"
    routes:
      - { name: shared, paths: ["/shared"], plugins: { rate-limit: { limits: [{ per: 1h, max: 25 }], key: route, on_store_error: deny } } }
`);
    const gw = await startCli(['--config', file, '--workers', '2']);
    try {
      // The master hands connections to the workers round-robin: both serve this burst.
      const results = await Promise.all(Array.from({ length: 120 }, () => http(`${gw.url}/shared`)));
      assert.equal(count(results, 200), 25, JSON.stringify(statuses(results).filter((s) => s !== 200 && s !== 429)));
      assert.equal(count(results, 429), 95);
      const ids = results.map((r) => r.headers['x-request-id'] as string);
      const lines = await Promise.all(ids.map((id) => gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === id)));
      const pids = new Set(lines.map((l) => l['pid']));
      assert.equal(pids.size, 2, 'both workers answered part of the burst');
      const ok = results.filter((r) => r.status === 200).map((r) => Number(/r=(\d+)/.exec(r.headers['ratelimit'] as string)![1])).sort((a, b) => a - b);
      assert.deepEqual(ok, Array.from({ length: 25 }, (_, i) => i), 'one counter: every remaining value from 24 down to 0 exactly once');
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

const redisSkip = await redisSkipReason();

describe('rate-limit, redis', { skip: redisSkip }, () => {
  let up: Upstream;
  const gateways: CliGateway[] = [];
  let proxy: TcpServer;
  let proxyPort = 0;
  const proxied = new Set<Socket>();
  const prefix = `ngtest:${randomUUID()}:`;

  /** A TCP relay in front of Redis that the test can cut and restore ("Redis stopped mid-test"). */
  async function startRelay(port: number): Promise<void> {
    const target = new URL(REDIS_URL);
    proxy = createTcpServer((client) => {
      const server = connect(Number(target.port || 6379), target.hostname);
      proxied.add(client).add(server);
      client.pipe(server).pipe(client);
      const drop = () => {
        client.destroy();
        server.destroy();
        proxied.delete(client);
        proxied.delete(server);
      };
      client.on('error', drop).on('close', drop);
      server.on('error', drop).on('close', drop);
    });
    proxy.listen(port, '127.0.0.1');
    await once(proxy, 'listening');
    proxyPort = (proxy.address() as { port: number }).port;
  }
  async function cutRelay(): Promise<void> {
    await new Promise<void>((r) => {
      proxy.close(() => r());
      for (const s of proxied) s.destroy();
    });
  }

  before(async () => {
    up = await startUpstream((_req, res) => res.end('ok'));
    // Below the ephemeral range: the relay comes back on it after a cut (ports.ts).
    await startRelay(await stablePort());
    // All routes share one connection (same URL and timeout). The timeout is generous and the
    // shared route denies on a store error, so a slow CI machine shows up as a 503 in the
    // assertion message instead of silently admitting extra requests.
    const config = (onError: string, route: string, max: number, timeout = '2s') => `
      - name: ${route}
        paths: ["/${route}"]
        plugins: { rate-limit: { limits: [{ per: 1h, max: ${max} }], key: route, policy: redis, redis: { url: "redis://127.0.0.1:${proxyPort}", prefix: "${prefix}", timeout: ${timeout} }, on_store_error: ${onError} } }`;
    const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: s
    url: "${up.url}"
    routes:${config('deny', 'shared', 50)}${config('allow', 'open', 1000000)}${config('deny', 'strict', 1000000)}
`);
    for (let i = 0; i < 3; i++) gateways.push(await startCli(['--config', file]));
    // Each gateway's first Redis connection is up (a response with RateLimit headers came
    // through the store); what happens before that: rate-limit-startup.test.ts.
    for (const g of gateways) {
      for (let i = 0; i < 100; i++) {
        if ((await http(`${g.url}/open`)).headers['ratelimit'] !== undefined) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  after(async () => {
    for (const g of gateways) await g.stop();
    await up.close();
    proxy.close();
    for (const s of proxied) s.destroy();
  });

  test('three gateways on one Redis admit exactly max out of 300 concurrent requests', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => http(`${gateways[i % 3]!.url}/shared`)));
    assert.equal(count(results, 200), 50, JSON.stringify(statuses(results).filter((s) => s !== 200 && s !== 429)));
    assert.equal(count(results, 429), 250);
  });

  test('Redis away: allow keeps serving, deny answers 503; both recover when it is back', async () => {
    assert.equal((await http(`${gateways[0]!.url}/strict`)).status, 200);
    await cutRelay();
    const during = await Promise.all([http(`${gateways[0]!.url}/open`), http(`${gateways[1]!.url}/strict`)]);
    assert.equal(during[0]!.status, 200, 'on_store_error: allow');
    assert.equal(during[1]!.status, 503, 'on_store_error: deny');
    assert.equal((JSON.parse(during[1]!.body) as { type: string }).type, 'urn:northgate:problem:rate-limit-unavailable');
    await startRelay(proxyPort);
    // The client reconnects by itself (bounded wait: at most ~10 s of retries).
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await http(`${gateways[1]!.url}/strict`)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, 'deny route serves again once Redis is back');
  });
});
