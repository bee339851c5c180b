// Timeouts and retries with real upstreams (slow, hanging, 503-answering): route-level
// overrides, the total deadline (504, attempt aborted, no backoff past it), the replay
// buffer (bodies that fit are resent on the retry, longer ones are not retried), and the
// retry budget holding under a failing upstream.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { http, startGateway, startUpstream, type HttpResult, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const problem = (r: HttpResult) => JSON.parse(r.body) as { type: string; detail: string };

describe('route timeouts and the total deadline', () => {
  let slow: Upstream;
  let hang: Upstream;
  let unavailable: Upstream;
  let gw: InProcessGateway;
  let hangAborted: Promise<unknown> = Promise.resolve();
  let unavailableHits = 0;
  before(async () => {
    slow = await startUpstream((req, res) => {
      req.resume();
      setTimeout(() => res.end('slow ok'), 1500); // undici's read timer fires up to ~1 s late
    });
    hang = await startUpstream((req) => {
      req.resume();
      hangAborted = once(req.socket, 'close');
    });
    unavailable = await startUpstream((req, res) => {
      unavailableHits++;
      req.resume();
      res.writeHead(503).end('down');
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: unavailable, targets: [{ url: "${unavailable.url}" }], healthcheck: { passive: { consecutive_failures: 0 } } }
services:
  - name: slow
    url: "${slow.url}"
    timeouts: { read: 5s }
    routes:
      - { name: normal, paths: ["/slow/normal"] }
      - { name: short, paths: ["/slow/short"], timeouts: { read: 100ms } }
  - name: hang
    url: "${hang.url}"
    timeouts: { read: 30s, total: 300ms }
    retries: { attempts: 5, on: [timeout, reset] }
    routes:
      - { paths: ["/hang"] }
  - name: hang-route
    url: "${hang.url}"
    routes:
      - { paths: ["/hang-route"], timeouts: { total: 200ms } }
  - name: backoff
    upstream: unavailable
    timeouts: { total: 1s }
    retries: { attempts: 3, on: ["503"], backoff: { base: 20s, max: 20s } }
    routes:
      - { paths: ["/backoff"] }
`);
  });
  after(async () => {
    await gw.close();
    for (const u of [slow, hang, unavailable]) await u.close();
  });

  test("a route's read timeout overrides its service's", async () => {
    assert.equal((await http(gw.url + '/slow/normal')).status, 200);
    const short = await http(gw.url + '/slow/short');
    assert.equal(short.status, 504);
    assert.equal(problem(short).type, 'urn:northgate:problem:upstream-timeout');
  });

  test('the total deadline answers 504 and aborts the attempt in flight', async () => {
    const res = await http(gw.url + '/hang');
    assert.equal(res.status, 504);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.match(problem(res).detail, /total deadline/);
    await hangAborted; // the upstream connection of the attempt was closed
    const routeLevel = await http(gw.url + '/hang-route');
    assert.equal(routeLevel.status, 504, "the route's total deadline applies to a service without one");
    assert.match(problem(routeLevel).detail, /total deadline/);
  });

  test('a retry whose backoff would end past the deadline is not made: the failure is answered at once', async () => {
    unavailableHits = 0;
    const res = await http(gw.url + '/backoff');
    assert.equal(res.status, 503, 'the upstream answer, not a 504 after sleeping into the deadline');
    assert.equal(res.body, 'down');
    assert.equal(unavailableHits, 1);
  });
});

describe('replay buffer: retried bodies', () => {
  let bad: Upstream;
  let echo: Upstream;
  let gw: InProcessGateway;
  const badBodies: number[] = [];
  before(async () => {
    bad = await startUpstream((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        badBodies.push(n);
        res.writeHead(503).end('down');
      });
    });
    echo = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: half
    targets: [{ url: "${bad.url}" }, { url: "${echo.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
services:
  - name: replay
    upstream: half
    retries: { attempts: 2, on: ["503"], replay_buffer: 1024, budget_percent: 100 }
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    await bad.close();
    await echo.close();
  });

  /** Sends `n` requests; returns their statuses and how many first attempts landed on the 503 target. */
  async function run(n: number, opts: Parameters<typeof http>[1]): Promise<{ statuses: number[]; bodies: string[]; badHits: number }> {
    badBodies.length = 0;
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await http(gw.url + '/', opts);
      statuses.push(r.status);
      bodies.push(r.body);
    }
    return { statuses, bodies, badHits: badBodies.length };
  }

  test('a body within the buffer is resent on the retry (Content-Length and chunked)', async () => {
    const body = 'x'.repeat(1000);
    const sized = await run(6, { method: 'PUT', body });
    assert.deepEqual(sized.statuses, Array(6).fill(200));
    assert.deepEqual(sized.bodies, Array(6).fill(body), 'the upstream that answered got the whole body');
    assert.ok(sized.badHits >= 1, 'some first attempts failed and were retried');
    assert.deepEqual(badBodies, Array(sized.badHits).fill(1000));
    const chunked = await run(6, { method: 'PUT', body, headers: { 'transfer-encoding': 'chunked' } });
    assert.deepEqual(chunked.statuses, Array(6).fill(200));
    assert.deepEqual(chunked.bodies, Array(6).fill(body));
    assert.ok(chunked.badHits >= 1);
  });

  test('a body past the buffer (Content-Length or streamed) is not retried', async () => {
    const body = 'y'.repeat(4096);
    const sized = await run(6, { method: 'PUT', body });
    assert.ok(sized.badHits >= 1);
    assert.equal(sized.statuses.filter((s) => s === 503).length, sized.badHits, 'every failed first attempt reached the client');
    assert.deepEqual(sized.bodies.filter((b) => b !== 'down'), Array(6 - sized.badHits).fill(body));
    const chunked = await run(6, { method: 'PUT', body, headers: { 'transfer-encoding': 'chunked' } });
    assert.ok(chunked.badHits >= 1);
    assert.equal(chunked.statuses.filter((s) => s === 503).length, chunked.badHits);
    assert.deepEqual(badBodies, Array(chunked.badHits).fill(4096), 'the streamed body reached the upstream whole');
  });

  test('POST is not retried by default, even with a small body', async () => {
    const post = await run(6, { method: 'POST', body: 'z' });
    assert.ok(post.badHits >= 1);
    assert.equal(post.statuses.filter((s) => s === 503).length, post.badHits);
  });
});

describe('retry budget under a failing upstream', () => {
  let up: Upstream;
  let hits = 0;
  let gw: InProcessGateway;
  /** The first 20 requests are held until all of them arrived, then all answered 503 together. */
  const held: Array<() => void> = [];
  before(async () => {
    up = await startUpstream((req, res) => {
      hits++;
      req.resume();
      const answer = () => res.writeHead(503).end('down');
      if (hits > 20) return answer();
      held.push(answer);
      if (held.length === 20) for (const a of held.splice(0)) a();
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: failing, targets: [{ url: "${up.url}" }], healthcheck: { passive: { consecutive_failures: 0 } } }
services:
  - name: budget
    upstream: failing
    retries: { attempts: 2, on: ["503"], budget_percent: 20, backoff: { base: 200ms, max: 200ms } }
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('with 20 requests failing at once, at most 20% of them (4) are retried', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => http(gw.url + '/')));
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(503));
    assert.ok(hits > 20, 'some requests were retried');
    assert.ok(hits <= 24, `upstream calls ${hits}: the budget allows 4 retries in flight for 20 requests`);
  });
});
