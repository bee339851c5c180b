// A cluster-wide limit holds from the first request after start, and a node is not ready
// until the stores its config uses answer. Three gateway processes (the real CLI) start
// together on one real Redis reached through a relay that holds every connection until the
// test lets it through ("Redis slow to answer at start"); a burst right after start admits
// at most `max`. /readyz stays 503 until the store answers, or until the bounded wait ends
// (then ready, with a warning), for a Redis port where nothing listens and for one that
// accepts and never answers.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { http, startCli, startGateway, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';

const redisSkip = await redisSkipReason();
const count = (list: Array<{ status: number }>, s: number) => list.filter((r) => r.status === s).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay to Redis that accepts connections but passes nothing either way until `release()`; `forward: false` never does. */
async function holdingRelay(forward = true): Promise<{ port: number; release(): void; close(): void }> {
  const target = new URL(REDIS_URL);
  const held: Socket[] = [];
  const sockets = new Set<Socket>();
  let released = false;
  const pass = (client: Socket) => {
    const server = connect(Number(target.port || 6379), target.hostname);
    sockets.add(server);
    client.pipe(server).pipe(client);
    client.resume();
    const drop = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', drop).on('close', drop);
    server.on('error', drop).on('close', drop);
  };
  const relay: TcpServer = createTcpServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.on('error', () => client.destroy());
    if (released && forward) pass(client);
    else held.push(client);
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  return {
    port: (relay.address() as { port: number }).port,
    release() {
      released = true;
      if (forward) for (const c of held.splice(0)) if (!c.destroyed) pass(c);
    },
    close() {
      relay.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function config(upstream: string, redisUrl: string, prefix: string, onError: 'allow' | 'deny' = 'allow'): string {
  return `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: s
    url: "${upstream}"
    routes:
      - name: shared
        paths: ["/shared"]
        plugins: { rate-limit: { limits: [{ per: 1h, max: 50 }], key: route, policy: redis, redis: { url: "${redisUrl}", prefix: "${prefix}", timeout: 2s }, on_store_error: ${onError} } }
`;
}

const readyz = async (g: CliGateway) => (await http(`http://127.0.0.1:${g.statusPort}/readyz`)).status;

/** Polls /readyz (at most `tries` times, 50 ms apart) until it is 200; the statuses seen. */
async function pollReady(g: CliGateway, tries: number): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < tries; i++) {
    const s = await readyz(g);
    seen.push(s);
    if (s === 200) break;
    await sleep(50);
  }
  return seen;
}

describe('rate-limit with Redis, from the first request after start', { skip: redisSkip }, () => {
  let up: Upstream;
  const gateways: CliGateway[] = [];
  const relays: Array<{ close(): void }> = [];
  before(async () => {
    up = await startUpstream((_req, res) => res.end('ok'));
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    for (const r of relays) r.close();
    await up.close();
  });

  test('three nodes started together admit at most max (exactly 50 of 300) while Redis is still answering its first connection', async () => {
    const relay = await holdingRelay();
    relays.push(relay);
    const file = writeConfig(config(up.url, `redis://127.0.0.1:${relay.port}`, `ngtest:${randomUUID()}:`));
    const nodes = await Promise.all([0, 1, 2].map(() => startCli(['--config', file])));
    gateways.push(...nodes);
    const burst = Promise.all(Array.from({ length: 300 }, (_, i) => http(`${nodes[i % 3]!.url}/shared`)));
    // Redis answers a moment after the burst went out (each node waits for it up to its connect timeout, 2 s).
    await sleep(300);
    relay.release();
    const results = await burst;
    assert.equal(count(results, 200), 50, `admitted ${count(results, 200)}; statuses other than 200/429: ${JSON.stringify(results.map((r) => r.status).filter((s) => s !== 200 && s !== 429))}`);
    assert.equal(count(results, 429), 250);
    for (const g of nodes) assert.equal((await pollReady(g, 200)).at(-1), 200);
  });

  test('/readyz is 503 until the store answers, then 200 without a warning', async () => {
    const relay = await holdingRelay();
    relays.push(relay);
    const g = await startCli(['--config', writeConfig(config(up.url, `redis://127.0.0.1:${relay.port}`, `ngtest:${randomUUID()}:`))]);
    gateways.push(g);
    const before = [await readyz(g), await readyz(g), await readyz(g)];
    assert.deepEqual(before, [503, 503, 503], 'ready before the rate-limit store answered');
    assert.equal(JSON.parse((await http(`http://127.0.0.1:${g.statusPort}/readyz`)).body).stores_ready, false);
    relay.release();
    const seen = await pollReady(g, 200);
    assert.equal(seen.at(-1), 200, `ready once the store answered: ${JSON.stringify(seen)}`);
    assert.equal(g.lines.find((l) => l['type'] === 'readiness'), undefined, 'no warning: the store answered in time');
  });

  test('a quota and a cache on Redis hold readiness the same way', async () => {
    for (const plugin of ['quota: { period: day, max: 10, store: redis, redis: { url: "URL", prefix: "PREFIX" } }', 'cache: { store: redis, redis: { url: "URL", prefix: "PREFIX" } }']) {
      const relay = await holdingRelay();
      relays.push(relay);
      const yaml = `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: s
    url: "${up.url}"
    routes: [{ name: r, paths: ["/r"], plugins: { ${plugin.replace('URL', `redis://127.0.0.1:${relay.port}`).replace('PREFIX', `ngtest:${randomUUID()}:`)} } }]
`;
      const g = await startCli(['--config', writeConfig(yaml)]);
      gateways.push(g);
      assert.equal(await readyz(g), 503, plugin);
      relay.release();
      assert.equal((await pollReady(g, 200)).at(-1), 200, plugin);
      assert.equal(g.lines.find((l) => l['type'] === 'readiness'), undefined, plugin);
    }
  });

  test('--workers 2: the master reports ready once every worker\'s store answered', async () => {
    const relay = await holdingRelay();
    relays.push(relay);
    const g = await startCli(['--config', writeConfig(config(up.url, `redis://127.0.0.1:${relay.port}`, `ngtest:${randomUUID()}:`)), '--workers', '2']);
    gateways.push(g);
    const before = await http(`http://127.0.0.1:${g.statusPort}/readyz`);
    assert.equal(before.status, 503);
    assert.equal(JSON.parse(before.body).stores_ready, 0);
    relay.release();
    const seen = await pollReady(g, 200);
    assert.equal(seen.at(-1), 200, JSON.stringify(seen));
    assert.equal(JSON.parse((await http(`http://127.0.0.1:${g.statusPort}/readyz`)).body).stores_ready, 2);
  });

  test('a reload to another Redis: requests wait for the new connection too, the limit holds', async () => {
    const prefix = `ngtest:${randomUUID()}:`;
    const gw = await startGateway(config(up.url, REDIS_URL, prefix).replace('status: "127.0.0.1:0"', 'status: null'));
    try {
      assert.equal((await http(`${gw.url}/shared`)).status, 200);
      const relay = await holdingRelay();
      relays.push(relay);
      // The same Redis behind another URL (a new client), with a fresh prefix: a budget of 50.
      const r = gw.reload(config(up.url, `redis://127.0.0.1:${relay.port}`, `${prefix}after:`).replace('status: "127.0.0.1:0"', 'status: null'));
      assert.equal(r.ok, true, JSON.stringify(r.problems));
      const burst = Promise.all(Array.from({ length: 120 }, () => http(`${gw.url}/shared`)));
      await sleep(300);
      relay.release();
      const results = await burst;
      assert.equal(count(results, 200), 50, `admitted ${count(results, 200)}`);
      assert.equal(count(results, 429), 70);
    } finally {
      await gw.close();
      gw.gateway.snapshot.dispose();
    }
  });

  for (const [what, redisUrl] of [
    ['nothing listens on the Redis port', async () => `redis://127.0.0.1:${await closedPort()}`],
    ['the Redis port accepts and never answers', async () => {
      const relay = await holdingRelay(false);
      relays.push(relay);
      return `redis://:secret-password@127.0.0.1:${relay.port}`;
    }],
  ] as const) {
    test(`${what}: /readyz is 503 until the bounded wait ends, then ready with a warning; requests get on_store_error`, async () => {
      const url = await redisUrl();
      const g = await startCli(['--config', writeConfig(config(up.url, url, `ngtest:${randomUUID()}:`, 'deny'))]);
      gateways.push(g);
      assert.equal(await readyz(g), 503);
      // deny: the first requests wait for the connection (bounded), then are refused, never admitted.
      const early = await Promise.all(Array.from({ length: 5 }, () => http(`${g.url}/shared`)));
      assert.deepEqual(early.map((r) => r.status), [503, 503, 503, 503, 503]);
      assert.equal((JSON.parse(early[0]!.body) as { type: string }).type, 'urn:northgate:problem:rate-limit-unavailable');
      // The wait is 5 s: poll up to 15 s.
      const seen = await pollReady(g, 300);
      assert.equal(seen.at(-1), 200, `ready after the bounded wait: ${JSON.stringify(seen)}`);
      const warning = await g.waitFor((l) => l['type'] === 'readiness', 5000);
      assert.equal(warning['level'], 'warn', JSON.stringify(warning));
      assert.deepEqual(warning['stores'], [`redis ${url.replace('secret-password', '***').replace('//:***@', '//***@')}`]);
      assert.ok(!JSON.stringify(warning).includes('secret-password'), 'the password is not logged');
    });
  }
});
