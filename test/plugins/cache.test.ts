// The `cache` plugin: memory and Redis stores, Cache-Control, Vary, ETag, Age, purge, collapsing.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { get as nodeGet, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { hitFormOf } from '../../src/plugins/cache/hit.js';
import { MemoryStore } from '../../src/plugins/cache/memory-store.js';
import { etagMatches, freshnessSeconds, parseCacheControl, varyNames } from '../../src/plugins/cache/policy.js';
import { isLoopback } from '../../src/plugins/cache/purge-endpoint.js';
import { purgeRedis } from '../../src/plugins/cache/redis-store.js';
import type { CacheEntry } from '../../src/plugins/cache/store.js';
import type { RequestContext } from '../../src/proxy/context.js';
import { startStatusServer } from '../../src/runtime/status-server.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { http, runCli, startCli, startGateway, startUpstream, writeConfig, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'k.yaml');

/** An upstream whose answers are chosen by path; bodies carry a per-path counter so hits are visible. */
function cacheUpstream() {
  const counts = new Map<string, number>();
  const held: Array<() => void> = [];
  const arrived = { n: 0 };
  const count = (p: string) => counts.get(p) ?? 0;
  const start = () =>
    startUpstream((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const path = url.pathname;
      const n = count(path) + 1;
      counts.set(path, n);
      const body = `${path} #${n}`;
      const h: Record<string, string | string[]> = { 'content-type': 'text/plain', 'cache-control': 'max-age=60' };
      const send = () => res.writeHead(200, { ...h, 'content-length': String(Buffer.byteLength(body)) }).end(body);
      switch (path.replace(/^\/[^/]+(?=\/)/, "")) {
        case '/fresh':
          h['etag'] = '"e1"';
          h['last-modified'] = 'Tue, 01 Sep 2026 10:00:00 GMT';
          h['surrogate-key'] = 'tag-a tag-b';
          break;
        case '/other-tag':
          h['surrogate-key'] = 'tag-c';
          break;
        case '/nostore':
          h['cache-control'] = 'no-store';
          break;
        case '/private':
          h['cache-control'] = 'private, max-age=60';
          break;
        case '/none':
          delete h['cache-control'];
          break;
        case '/cookie':
          h['set-cookie'] = 'sid=secret';
          break;
        case '/vary':
          h['vary'] = 'Accept-Language';
          break;
        case '/varystar':
          h['vary'] = '*';
          break;
        case '/aged':
          h['age'] = '50';
          break;
        case '/big':
          return res.writeHead(200, h).end(Buffer.alloc(5000, 'x'));
        case '/bytes': {
          // Not ASCII: UTF-8 text and bytes that are not UTF-8 at all.
          const bytes = Buffer.concat([Buffer.from(`héllo ✓ #${n} `), Buffer.from([0x00, 0x80, 0xfe, 0xff])]);
          return res.writeHead(200, { ...h, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }).end(bytes);
        }
        case '/chunked':
          res.writeHead(200, h);
          res.write(body.slice(0, 3));
          return res.end(body.slice(3));
        case '/slow':
        case '/slow-nostore':
          if (path.endsWith('nostore')) h['cache-control'] = 'no-store';
          arrived.n++;
          held.push(send);
          res.emit('held');
          return;
      }
      send();
    });
  return { counts, count, held, arrived, start };
}

describe('cache plugin: schema and rules', () => {
  test('config problems are located', () => {
    assert.ok(problemsOf(routeWithPlugin('cache', '{ store: redis }')).some((l) => /^k\.yaml:8:\d+ .*plugins\.cache\.redis: store: redis needs redis: \{ url \}$/.test(l)));
    assert.ok(problemsOf(routeWithPlugin('cache', '{ redis: { url: "redis://x" } }')).some((l) => /plugins\.cache\.redis: only used with store: redis$/.test(l)));
    assert.ok(problemsOf(routeWithPlugin('cache', '{ default_ttl: 10 }')).some((l) => /plugins\.cache\.default_ttl: must be a duration/.test(l)));
    assert.ok(problemsOf(routeWithPlugin('cache', '{ key: { headers: [Authorization] } }')).some((l) => /plugins\.cache\.key\.headers: "Authorization" would make one entry per client/.test(l)));
    assert.deepEqual(problemsOf(routeWithPlugin('cache', '{ default_ttl: 30s, key: { consumer: true, headers: [accept-version] }, collapse: { wait: 2s } }')), []);
  });

  test('Cache-Control, freshness, Vary and ETag comparison', () => {
    const d = parseCacheControl('public, max-age=60, s-maxage="120", private="set-cookie"');
    assert.equal(d.private, true);
    assert.equal(freshnessSeconds(d, undefined, undefined, undefined), 120, 's-maxage wins');
    assert.equal(freshnessSeconds(parseCacheControl('max-age=abc'), undefined, undefined, 5), 0, 'a malformed max-age is stale');
    assert.equal(freshnessSeconds(parseCacheControl(undefined), 'Thu, 01 Jan 2026 00:01:00 GMT', 'Thu, 01 Jan 2026 00:00:00 GMT', undefined), 60);
    assert.equal(freshnessSeconds(parseCacheControl(undefined), 'garbage', undefined, 9), 0);
    assert.equal(freshnessSeconds(parseCacheControl('public'), undefined, undefined, undefined), undefined);
    assert.deepEqual(varyNames(['Accept-Language, accept-encoding', 'Origin']), ['accept-encoding', 'accept-language', 'origin']);
    assert.equal(varyNames(['Origin, *']), null);
    assert.ok(etagMatches('"a", W/"e1"', '"e1"'));
    assert.ok(etagMatches('*', '"x"'));
    assert.ok(!etagMatches('"e2"', '"e1"'));
  });

  test('the memory store is an LRU bounded by bytes, indexed for purges', () => {
    const store = new MemoryStore('unit', 9000);
    const entry = (path: string, tags: string[]): CacheEntry => ({ status: 200, headers: ['a', 'b'], body: Buffer.alloc(1000), storedAt: Date.now(), expiresAt: Date.now() + 60_000, initialAge: 0, etag: undefined, lastModified: undefined, vary: [], varyValues: '', tags, path });
    store.set('k1', entry('/1', ['t']), null);
    store.set('k2', entry('/2', ['t']), null);
    store.set('k3', entry('/3', []), null);
    assert.ok(store.get('k1') !== undefined, 'k1 used: now the most recent');
    store.set('k4', entry('/4', []), null);
    assert.ok(store.bytes <= 9000, `${store.bytes} bytes`);
    assert.equal(store.get('k2'), undefined, 'the least recently used entry went first');
    assert.ok(store.get('k1') && store.get('k3') && store.get('k4'));
    assert.equal(store.purge({ tags: ['t'] }), 1, 'k1 (k2 is gone already)');
    assert.equal(store.purge({ paths: ['/3'] }), 1);
    assert.equal(store.size, 1);
    store.set('huge', { ...entry('/h', []), body: Buffer.alloc(9000) }, null);
    assert.equal(store.get('huge'), undefined, 'an entry larger than the whole store is not kept');
  });

  test('the memory store counts what its entries really take (heap and buffers, hit forms built)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const n = 20_000;
    const store = new MemoryStore('accounting', 1e12);
    gc();
    const before = process.memoryUsage();
    for (let i = 0; i < n; i++) {
      const body = Buffer.allocUnsafeSlow(100).fill(120);
      const now = Date.now();
      const headers = ['server', `nginx/1.22.${i % 3}`, 'date', `Fri, 27 Nov 2026 08:30:0${i % 10} GMT`, 'content-type', `application/json${' '.repeat(i % 2)}`, 'content-length', String(100 + (i % 2))];
      const key = `127.0.0.1 /items?k=${i}`;
      store.set(key, { status: 200, headers, body, storedAt: now, expiresAt: now + 60_000, initialAge: 0, etag: undefined, lastModified: undefined, vary: [], varyValues: '', tags: [], path: `/items${''.padEnd(i % 2)}` }, null);
      hitFormOf(store.get(key) as CacheEntry).reply(now, false);
    }
    gc();
    const after = process.memoryUsage();
    // Buffers count once (process.memoryUsage's external includes arrayBuffers).
    const real = (after.heapUsed - before.heapUsed + after.external - before.external) / n;
    const counted = store.bytes / n;
    assert.equal(store.size, n);
    assert.ok(real <= counted * 1.25 && real >= counted * 0.6, `really ${real.toFixed(0)} bytes per entry, counted ${counted.toFixed(0)}`);
  });

  test('the memory store frees what it evicts and purges, after any number of hits', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = new MemoryStore('freeing', 3_000_000);
    gc();
    const base = process.memoryUsage();
    // The heap only: buffers' backing stores are freed by a background sweeper, after gc() returns.
    const mem = () => process.memoryUsage().heapUsed - base.heapUsed;
    const put = (i: number) => {
      const now = Date.now();
      store.set(`k${i}`, { status: 200, headers: ['content-type', 'text/plain'], body: Buffer.allocUnsafeSlow(1000).fill(97), storedAt: now, expiresAt: now + 60_000, initialAge: 0, etag: undefined, lastModified: undefined, vary: [], varyValues: '', tags: ['all'], path: `/p${i}` }, null);
    };
    // Far more than fits: the store evicts all along; then many hits move entries around.
    for (let i = 0; i < 20_000; i++) put(i);
    assert.ok(store.bytes <= 3_000_000 && store.size < 20_000, `${store.size} entries, ${store.bytes} bytes`);
    for (let round = 0; round < 200; round++) for (let i = 20_000 - store.size; i < 20_000; i += 7) store.get(`k${i}`);
    gc();
    const full = mem();
    assert.ok(full < 3_000_000, `a full 3 MB store holds ${(full / 1e6).toFixed(1)} MB of heap`);
    store.purge({ tags: ['all'] });
    assert.equal(store.size, 0);
    gc();
    // Half, not zero: other work of this process allocates between the two readings (seen: 0.3 of 1.1 MB
    // on a loaded machine); a store that kept its entries would hold all of it.
    assert.ok(mem() < full / 2, `after purging everything ${(mem() / 1e6).toFixed(1)} MB are still held (full: ${(full / 1e6).toFixed(1)} MB)`);
  });

  test('purges are accepted from loopback peers only', () => {
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.5'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('::ffff:10.0.0.1') && !isLoopback(undefined));
  });
});

describe('cache plugin behaviour (memory store)', () => {
  const u = cacheUpstream();
  let up: Upstream;
  let gw: InProcessGateway;
  let status: { server: Server; port: number };
  before(async () => {
    up = await u.start();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
consumers:
  - { username: alice, credentials: { key-auth: [{ key: alice-key-0123456789abcdef }] } }
  - { username: bob, credentials: { key-auth: [{ key: bob-key-0123456789abcdefgh }] } }
services:
  - name: s
    url: "${up.url}"
    routes:
      - paths: ["/consumer"]
        plugins: { key-auth: {}, cache: { key: { consumer: true } } }
      - paths: ["/ttl"]
        plugins: { cache: { default_ttl: 30s } }
      - paths: ["/cookie-ok"]
        plugins: { cache: { cache_set_cookie: true } }
      - paths: ["/"]
        plugins: { cache: { max_entry_bytes: 4096, collapse: { wait: 20s } } }
`);
    status = await startStatusServer('127.0.0.1', 0, () => ({ ready: true, detail: {} }));
  });
  after(async () => {
    status.server.close();
    await gw.close();
    await up.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => http(gw.url + path, { method, headers });

  test('a fresh response is stored: MISS, then HIT with the same body, Age, and the upstream asked once', async () => {
    const a = await get('/fresh');
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-cache'], 'MISS');
    assert.equal(a.headers['content-length'], String(a.body.length), 'capturing the body keeps Content-Length');
    const b = await get('/fresh');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.equal(b.body, '/fresh #1');
    assert.match(String(b.headers['age']), /^[0-9]+$/);
    assert.equal(b.headers['etag'], '"e1"');
    assert.notEqual(b.headers['x-request-id'], a.headers['x-request-id'], 'a hit has its own request id');
    const head = await get('/fresh', {}, 'HEAD');
    assert.equal(head.headers['x-cache'], 'HIT');
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], '9');
    assert.equal(u.count('/fresh'), 1);
    await get('/chunked');
    const c = await get('/chunked');
    assert.equal(c.headers['x-cache'], 'HIT');
    assert.equal(c.body, '/chunked #1');
    assert.equal(c.headers['content-length'], '11', 'a chunked upstream body is served with its length from the cache');
  });

  test('a hit sends the stored bytes exactly, ASCII or not', async () => {
    const raw = (path: string) =>
      new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        nodeGet(gw.url + path, { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        }).on('error', reject);
      });
    for (const path of ['/bytes', '/fresh']) {
      const a = await raw(path);
      const b = await raw(path);
      assert.equal(b.headers['x-cache'], 'HIT', path);
      assert.ok(b.body.equals(a.body), `${path}: ${b.body.toString('hex')} vs ${a.body.toString('hex')}`);
      assert.equal(b.headers['content-length'], String(a.body.length), path);
    }
  });

  test('If-None-Match / If-Modified-Since are answered 304 from the cache', async () => {
    await get('/fresh');
    const nm = await get('/fresh', { 'if-none-match': 'W/"e1"' });
    assert.equal(nm.status, 304);
    assert.equal(nm.headers['x-cache'], 'HIT');
    assert.equal(nm.headers['etag'], '"e1"');
    assert.equal(nm.headers['content-length'], undefined);
    assert.equal(nm.body, '');
    assert.equal((await get('/fresh', { 'if-none-match': '"other"' })).status, 200);
    assert.equal((await get('/fresh', { 'if-modified-since': 'Wed, 02 Sep 2026 10:00:00 GMT' })).status, 304);
    assert.equal((await get('/fresh', { 'if-modified-since': 'Mon, 31 Aug 2026 10:00:00 GMT' })).status, 200);
    assert.equal(u.count('/fresh'), 1);
  });

  test('Age includes the upstream Age', async () => {
    await get('/aged');
    const b = await get('/aged');
    assert.equal(b.headers['x-cache'], 'HIT');
    assert.ok(Number(b.headers['age']) >= 50, String(b.headers['age']));
  });

  test('no-store, private, no freshness, Set-Cookie, Vary: * and oversized bodies are not stored', async () => {
    for (const path of ['/nostore', '/private', '/none', '/cookie', '/varystar', '/big']) {
      await get(path);
      const b = await get(path);
      assert.equal(b.headers['x-cache'], 'MISS', path);
      assert.equal(u.count(path), 2, path);
    }
  });

  test('default_ttl caches responses without freshness; cache_set_cookie stores without the cookie', async () => {
    await get('/ttl/none');
    assert.equal((await get('/ttl/none')).headers['x-cache'], 'HIT');
    const first = await get('/cookie-ok/cookie');
    assert.deepEqual(first.headers['set-cookie'], ['sid=secret'], 'the miss keeps its cookie');
    const hit = await get('/cookie-ok/cookie');
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.headers['set-cookie'], undefined, 'the cookie is never served from the cache');
  });

  test('requests with Authorization bypass the cache and are not stored', async () => {
    const a = await get('/private-data/fresh', { authorization: 'Bearer x' });
    assert.equal(a.headers['x-cache'], 'BYPASS');
    assert.equal((await get('/private-data/fresh')).headers['x-cache'], 'MISS', 'the authorized answer was not stored');
  });

  test('request no-cache refreshes from the upstream; no-store bypasses without storing', async () => {
    await get('/refresh/fresh');
    const r = await get('/refresh/fresh', { 'cache-control': 'no-cache' });
    assert.equal(r.headers['x-cache'], 'BYPASS');
    assert.equal(r.body, '/refresh/fresh #2');
    assert.equal((await get('/refresh/fresh')).body, '/refresh/fresh #2', 'the refreshed response replaced the entry');
    const s = await get('/nostore-req/fresh', { 'cache-control': 'no-store' });
    assert.equal(s.headers['x-cache'], 'BYPASS');
    assert.equal((await get('/nostore-req/fresh')).headers['x-cache'], 'MISS');
  });

  test('Vary: each variant has its own entry', async () => {
    const en = await get('/vary', { 'accept-language': 'en' });
    const fr = await get('/vary', { 'accept-language': 'fr' });
    assert.equal(en.headers['x-cache'], 'MISS');
    assert.equal(fr.headers['x-cache'], 'MISS');
    const en2 = await get('/vary', { 'accept-language': 'en' });
    const fr2 = await get('/vary', { 'accept-language': 'fr' });
    assert.equal(en2.headers['x-cache'], 'HIT');
    assert.equal(en2.body, en.body);
    assert.equal(fr2.headers['x-cache'], 'HIT');
    assert.equal(fr2.body, fr.body);
    assert.equal(u.count('/vary'), 2);
  });

  test('key.consumer: one entry per consumer', async () => {
    const alice = { apikey: 'alice-key-0123456789abcdef' };
    const bob = { apikey: 'bob-key-0123456789abcdefgh' };
    assert.equal((await get('/consumer/fresh', alice)).headers['x-cache'], 'MISS');
    assert.equal((await get('/consumer/fresh', bob)).headers['x-cache'], 'MISS');
    const a2 = await get('/consumer/fresh', alice);
    assert.equal(a2.headers['x-cache'], 'HIT');
    assert.equal(a2.body, '/consumer/fresh #1');
    assert.equal((await get('/consumer/fresh', bob)).body, '/consumer/fresh #2');
  });

  test('POST /cache/purge on the status listener purges by tag and by path', async () => {
    await get('/p1/fresh');
    await get('/p2/other-tag');
    assert.equal((await get('/p1/fresh')).headers['x-cache'], 'HIT');
    const purge = (body: string, method = 'POST') => http(`http://127.0.0.1:${status.port}/cache/purge`, { method, body, headers: { 'content-type': 'application/json' } });
    const r = await purge('{"tags": ["tag-b"]}');
    assert.equal(r.status, 200, r.body);
    assert.ok((JSON.parse(r.body) as { purged: number }).purged >= 1);
    assert.equal((await get('/p1/fresh')).headers['x-cache'], 'MISS');
    assert.equal((await get('/p2/other-tag')).headers['x-cache'], 'HIT', 'other tags stay');
    assert.equal(JSON.parse((await purge('{"paths": ["/p2/other-tag"]}')).body).purged, 1);
    assert.equal((await get('/p2/other-tag')).headers['x-cache'], 'MISS');
    assert.equal((await purge('{"paths": ["p2"]}')).status, 400);
    assert.equal((await purge('{}')).status, 400);
    assert.equal((await purge('nope')).status, 400);
    assert.equal((await purge('{"tags": ["x"]}', 'GET')).status, 405);
    assert.equal((await purge(JSON.stringify({ tags: ['x'.repeat(70_000)] }))).status, 413);
  });

  test('50 concurrent misses for one key send ONE request upstream', async () => {
    let started = 0;
    let all!: () => void;
    const allStarted = new Promise<void>((r) => (all = r));
    const onStart = (m: unknown) => {
      if ((m as RequestContext).path === '/slow' && ++started === 50) all();
    };
    subscribe('northgate:request:start', onStart);
    try {
      const pending = Array.from({ length: 50 }, () => get('/slow'));
      await allStarted;
      // Each request registered as leader or follower in the same tick as its start event.
      await new Promise((r) => setImmediate(r));
      assert.equal(u.count('/slow') <= 1, true);
      while (u.held.length === 0) await once(up.server, 'request');
      u.held.shift()!();
      const results = await Promise.all(pending);
      assert.equal(u.count('/slow'), 1, 'the upstream saw one request');
      assert.ok(results.every((r) => r.status === 200 && r.body === '/slow #1'));
      assert.equal(results.filter((r) => r.headers['x-cache'] === 'MISS').length, 1);
      assert.equal(results.filter((r) => r.headers['x-cache'] === 'HIT').length, 49);
    } finally {
      unsubscribe('northgate:request:start', onStart);
    }
  });

  test('when the leader response is not cacheable, the followers go upstream themselves', async () => {
    let started = 0;
    let all!: () => void;
    const allStarted = new Promise<void>((r) => (all = r));
    const onStart = (m: unknown) => {
      if ((m as RequestContext).path === '/slow-nostore' && ++started === 5) all();
    };
    subscribe('northgate:request:start', onStart);
    try {
      const pending = Array.from({ length: 5 }, () => get('/slow-nostore'));
      await allStarted;
      await new Promise((r) => setImmediate(r));
      while (u.held.length === 0) await once(up.server, 'request');
      assert.equal(u.count('/slow-nostore'), 1, 'followers wait while the leader is out');
      u.held.shift()!();
      // The four followers now reach the upstream; release each as it arrives.
      for (let i = 0; i < 4; i++) {
        while (u.held.length === 0) await once(up.server, 'request');
        u.held.shift()!();
      }
      const results = await Promise.all(pending);
      assert.equal(u.count('/slow-nostore'), 5);
      assert.ok(results.every((r) => r.status === 200 && r.headers['x-cache'] === 'MISS'));
    } finally {
      unsubscribe('northgate:request:start', onStart);
    }
  });
});

describe('cache plugin with Redis (shared by gateways)', async () => {
  const skip = await redisSkipReason();
  const prefix = `northgate-test-cache-${process.pid}:`;
  const u = cacheUpstream();
  let up: Upstream;
  let a: InProcessGateway;
  let b: InProcessGateway;
  let redis: Redis;
  before(async () => {
    if (skip) return;
    up = await u.start();
    // Behind one load balancer (a trusted proxy saying port 443, https) the two gateways
    // forward the same origin, so they share entries (each listens on a port of its own).
    const yaml = `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
trusted_proxies: ["127.0.0.1/32"]
services:
  - name: s
    url: "${up.url}"
    routes:
      - name: all
        paths: ["/"]
        plugins: { cache: { store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}", timeout: 2s } } }
`;
    a = await startGateway(yaml);
    b = await startGateway(yaml);
    redis = new Redis(REDIS_URL);
  });
  after(async () => {
    if (skip) return;
    const keys = await redis.keys(prefix + '*');
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    // Disposing the live snapshots runs the plugins' close(): the gateways' Redis connections end.
    for (const g of [a, b]) {
      await g.close();
      g.gateway.snapshot.dispose();
    }
    await up.close();
  });

  // The first command of a new connection may find it still connecting (no offline queue): a MISS, never an error.
  const warm = async (gw: InProcessGateway) => {
    for (let i = 0; i < 50 && (await redis.ping()) !== 'PONG'; i++);
    await http(gw.url + '/warm/nostore');
  };
  const viaBalancer = { host: 'api.example', 'x-forwarded-port': '443', 'x-forwarded-proto': 'https' };
  const get = (gw: InProcessGateway, path: string, headers: Record<string, string> = {}) => http(gw.url + path, { headers: { ...viaBalancer, ...headers } });
  /** The Redis key of the entry stored for `path` (bounded wait for the store to land), or undefined. */
  const stored = async (path: string, suffix = ''): Promise<string | undefined> => {
    for (let i = 0; i < 20; i++) {
      const key = (await redis.smembers(`${prefix}p:${path}`)).find((k) => k.endsWith(path + suffix));
      if (key !== undefined) return key;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };

  test('an entry stored by one gateway is a HIT on another; it expires with its freshness', { skip }, async () => {
    await warm(a);
    await warm(b);
    const first = await get(a, '/redis/fresh');
    const key = await stored('/redis/fresh');
    assert.equal(first.headers['x-cache'], 'MISS');
    const hit = await get(b, '/redis/fresh');
    assert.equal(hit.headers['x-cache'], 'HIT');
    assert.equal(hit.body, '/redis/fresh #1');
    const pttl = await redis.pttl(key!);
    assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
    const nm = await get(b, '/redis/fresh', { 'if-none-match': '"e1"' });
    assert.equal(nm.status, 304);
    assert.equal((await get(b, '/redis/fresh', { 'x-forwarded-port': '8443' })).headers['x-cache'], 'MISS', 'another forwarded origin: another entry');
    await get(a, '/redis/vary', { 'accept-language': 'de' });
    await stored('/redis/vary', '\nde');
    assert.equal((await get(b, '/redis/vary', { 'accept-language': 'de' })).headers['x-cache'], 'HIT');
    assert.equal((await get(b, '/redis/vary', { 'accept-language': 'it' })).headers['x-cache'], 'MISS');
  });

  test('purge by tag and by path in Redis (what `northgate cache purge` does), also through the CLI', { skip }, async () => {
    await get(a, '/redis/other-tag');
    await get(a, '/redis/fresh');
    await stored('/redis/other-tag');
    assert.equal(await purgeRedis(redis, prefix, { tags: ['tag-c'] }), 1);
    assert.equal((await get(b, '/redis/other-tag')).headers['x-cache'], 'MISS');
    const file = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${up.url}"
    routes:
      - paths: ["/"]
        plugins: { cache: { store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" } } }
`);
    const cli = await runCli(['cache', 'purge', '--config', file, '--path', '/redis/fresh']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /purged 2 entr/, 'both forwarded origins of the path (port 443 and 8443)');
    assert.equal((await get(b, '/redis/fresh')).headers['x-cache'], 'MISS');
  });
});

/** One route with a memory cache, a status listener for purges, for a gateway started with --workers. */
function memoryCacheConfig(upstreamUrl: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: s
    url: "${upstreamUrl}"
    routes:
      - paths: ["/"]
        plugins: { cache: {} }
`;
}

describe('cache purge across workers', () => {
  test('northgate cache purge reaches the memory caches of every worker (through the master)', async () => {
    const u = cacheUpstream();
    const up = await u.start();
    const file = writeConfig(memoryCacheConfig(up.url));
    const gw = await startCli(['--config', file, '--workers', '2']);
    try {
      // Each worker stores the entry on its first request (a MISS); count how many did.
      let misses = 0;
      for (let i = 0; i < 20; i++) if ((await http(gw.url + '/w/fresh')).headers['x-cache'] === 'MISS') misses++;
      assert.ok(misses >= 1 && misses <= 2, `misses ${misses}`);
      const cli = await runCli(['cache', 'purge', '--config', file, '--status', `http://127.0.0.1:${gw.statusPort}`, '--tag', 'tag-a']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, new RegExp(`gateway memory caches: purged ${misses}\\n`), 'every worker that held the entry purged it');
    } finally {
      await gw.stop();
      await up.close();
    }
  });

  test('POST /cache/purge on the status listener is relayed by the master to both workers', async () => {
    const u = cacheUpstream();
    const up = await u.start();
    const file = writeConfig(memoryCacheConfig(up.url));
    const gw = await startCli(['--config', file, '--workers', '2']);
    // One connection per request: the master hands connections to the workers in turn, so
    // the entry ends up stored once per worker (two MISSes), then only HITs.
    const missesWithin = async (limit: number, want: number): Promise<{ misses: number; first: string }> => {
      let misses = 0;
      let first = '';
      for (let i = 0; i < limit && misses < want; i++) {
        const x = String((await http(gw.url + '/w/fresh')).headers['x-cache']);
        if (i === 0) first = x;
        if (x === 'MISS') misses++;
      }
      return { misses, first };
    };
    try {
      assert.equal((await missesWithin(40, 2)).misses, 2, 'both workers store the entry');
      assert.equal((await http(gw.url + '/w/fresh')).headers['x-cache'], 'HIT');
      const purge = await http(`http://127.0.0.1:${gw.statusPort}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: ['/w/fresh'] }) });
      assert.equal(purge.status, 200, purge.body);
      assert.deepEqual(JSON.parse(purge.body), { purged: 2 }, 'each worker purged its copy and the master summed the counts');
      const again = await missesWithin(40, 2);
      assert.equal(again.first, 'MISS', 'no worker answers from a purged entry');
      assert.equal(again.misses, 2, 'both workers went upstream again');
      assert.equal(u.count('/w/fresh'), 4);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
