// Load shedding with real upstreams: max_concurrent with a bounded FIFO queue (503
// `overloaded` at once past it, 503 after queue.timeout, a client leaving the queue), and
// the adaptive limit bringing the concurrency at a slow upstream down and back up.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ConcurrencyLimiter } from '../../src/upstream/concurrency.js';
import { http, startGateway, startUpstream, type HttpResult, type InProcessGateway, type Upstream } from '../helpers/servers.js';

/** Waits (bounded) for a condition that has no event to await. */
async function waitUntil(pred: () => boolean, what: string, capMs = 10_000): Promise<void> {
  const end = performance.now() + capMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const problemType = (r: HttpResult): string => (JSON.parse(r.body) as { type: string }).type;

describe('max_concurrent with a queue', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  const held: Array<{ id: string; release: () => void }> = [];
  const arrived: string[] = [];
  before(async () => {
    up = await startUpstream((req, res) => {
      const id = String(req.headers['x-id']);
      arrived.push(id);
      req.resume();
      held.push({ id, release: () => res.end(`done ${id}`) });
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: small
    url: "${up.url}"
    max_concurrent: 2
    queue: { size: 2, timeout: 150ms }
    routes: [{ paths: ["/small"] }]
  - name: fifo
    url: "${up.url}"
    max_concurrent: 1
    queue: { size: 3, timeout: 1m }
    routes: [{ paths: ["/fifo"] }]
  - name: noqueue
    url: "${up.url}"
    max_concurrent: 1
    routes: [{ paths: ["/noqueue"] }]
`);
  });
  after(async () => {
    for (const h of held.splice(0)) h.release();
    await gw.close();
    await up.close();
  });
  const limiter = (service: string): ConcurrencyLimiter => gw.gateway.snapshot.services.get(service)!.guard!.limiter!;
  const get = (path: string, id: string) => http(gw.url + path, { headers: { 'x-id': id } });
  const releaseAll = () => {
    for (const h of held.splice(0)) h.release();
  };

  test('beyond max_concurrent + queue: 503 overloaded at once; queued requests time out with 503; freed slots serve the queue', async () => {
    const a = get('/small', 'a');
    const b = get('/small', 'b');
    await waitUntil(() => held.length === 2, 'two requests at the upstream');
    const c = get('/small', 'c');
    const d = get('/small', 'd');
    await waitUntil(() => limiter('small').queued === 2, 'two queued');
    const e = await get('/small', 'e');
    assert.equal(e.status, 503);
    assert.equal(problemType(e), 'urn:northgate:problem:overloaded');
    assert.equal(e.headers['retry-after'], '1');
    // Nobody frees a slot: the queued ones wait queue.timeout, then get 503.
    for (const r of await Promise.all([c, d])) {
      assert.equal(r.status, 503);
      assert.equal(problemType(r), 'urn:northgate:problem:overloaded');
      assert.match((JSON.parse(r.body) as { detail: string }).detail, /queue timeout/);
    }
    assert.deepEqual(arrived.splice(0), ['a', 'b'], 'neither the refused nor the expired requests reached the upstream');
    releaseAll();
    assert.deepEqual((await Promise.all([a, b])).map((r) => r.status), [200, 200]);
    assert.equal(limiter('small').inflight, 0);
  });

  test('the queue is FIFO', async () => {
    const first = get('/fifo', '1');
    await waitUntil(() => held.length === 1, 'the first request at the upstream');
    const rest: Array<Promise<HttpResult>> = [];
    for (const id of ['2', '3', '4']) {
      rest.push(get('/fifo', id));
      await waitUntil(() => limiter('fifo').queued === Number(id) - 1, `request ${id} queued`);
    }
    for (let i = 0; i < 4; i++) {
      await waitUntil(() => held.length === 1, 'one request at the upstream');
      held.shift()!.release();
    }
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(results.map((r) => r.body), ['done 1', 'done 2', 'done 3', 'done 4']);
    assert.deepEqual(arrived.splice(0), ['1', '2', '3', '4']);
  });

  test('a client that disconnects while queued leaves the queue and never reaches the upstream', async () => {
    const first = get('/fifo', 'x');
    await waitUntil(() => held.length === 1, 'x at the upstream');
    const gone = httpRequest({ host: '127.0.0.1', port: gw.port, path: '/fifo', headers: { 'x-id': 'gone' }, agent: false });
    gone.on('error', () => undefined);
    gone.end();
    await waitUntil(() => limiter('fifo').queued === 1, 'the request queued');
    gone.destroy();
    await waitUntil(() => limiter('fifo').queued === 0, 'the queue emptied by the disconnect');
    const next = get('/fifo', 'y');
    await waitUntil(() => limiter('fifo').queued === 1, 'y queued');
    held.shift()!.release();
    await waitUntil(() => held.length === 1, 'y at the upstream');
    held.shift()!.release();
    assert.deepEqual((await Promise.all([first, next])).map((r) => r.body), ['done x', 'done y']);
    assert.deepEqual(arrived.splice(0), ['x', 'y']);
  });

  test('without a queue, a request beyond max_concurrent gets 503 at once', async () => {
    const a = get('/noqueue', 'n1');
    await waitUntil(() => held.length === 1, 'n1 at the upstream');
    const b = await get('/noqueue', 'n2');
    assert.equal(b.status, 503);
    assert.equal(problemType(b), 'urn:northgate:problem:overloaded');
    releaseAll();
    assert.equal((await a).status, 200);
    assert.deepEqual(arrived.splice(0), ['n1']);
  });
});

describe('adaptive concurrency', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  let delayMs = 20;
  let current = 0;
  /** Concurrency seen by each arrival at the upstream, in order. */
  const seen: number[] = [];
  before(async () => {
    up = await startUpstream((req, res) => {
      current++;
      seen.push(current);
      req.resume();
      setTimeout(() => {
        current--;
        res.end('ok');
      }, delayMs);
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: adaptive
    url: "${up.url}"
    adaptive_concurrency: { sample_window: 50ms, min_rtt_samples: 10, min_rtt_interval: 1h, min_limit: 2, max_limit: 64 }
    queue: { size: 64, timeout: 2s }
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('a slow upstream gets fewer concurrent requests (the excess answered 503); the limit recovers when it is fast again', async () => {
    const CLIENTS = 24;
    let stop = false;
    const statuses = new Map<number, number>();
    const loops = Array.from({ length: CLIENTS }, async () => {
      // Bounded: at most 400 requests per client, and the phases below end the loop.
      for (let i = 0; i < 400 && !stop; i++) {
        const r = await http(gw.url + '/');
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    });
    const maxSince = (from: number) => Math.max(0, ...seen.slice(from));
    try {
      // Fast (20 ms): the limit climbs well above min_limit.
      await waitUntil(() => maxSince(0) >= 12, 'concurrency at the fast upstream to reach 12', 20_000);
      // Slow (20x): arrivals find at most a few requests in flight, while the clients keep 24 outstanding.
      delayMs = 400;
      const slowFrom = seen.length;
      const refusedBefore = statuses.get(503) ?? 0;
      let lowRun = 0;
      let lastChecked = slowFrom;
      await waitUntil(
        () => {
          for (; lastChecked < seen.length; lastChecked++) lowRun = seen[lastChecked]! <= 3 ? lowRun + 1 : 0;
          return lowRun >= 6;
        },
        'six arrivals in a row with at most 3 in flight at the slow upstream',
        30_000,
      );
      await waitUntil(() => (statuses.get(503) ?? 0) > refusedBefore, 'the excess answered 503', 20_000);
      // Fast again: the limit recovers.
      delayMs = 20;
      const fastFrom = seen.length;
      await waitUntil(() => maxSince(fastFrom) >= 12, 'concurrency back above 12 at the fast upstream', 30_000);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    assert.ok((statuses.get(200) ?? 0) > 0);
    assert.deepEqual([...statuses.keys()].filter((s) => s !== 200 && s !== 503), [], 'only 200 and 503 answers');
  });
});
