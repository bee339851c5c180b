// What a retry policy retries, and how many tries it makes, against real upstreams: a
// response status named in `retries.on` (a 500, a 429) is retried and the client sees the
// answer that followed; a status not named, or a POST, is answered as it came; and
// `attempts` bounds every try at the upstream, counted on a backend that resets every
// request sent on a kept-alive connection (the engine's HTTP/1.1 client would otherwise send
// such a request once more on a fresh connection, on top of the policy's attempts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

describe('retries on response statuses', () => {
  let backend: Upstream;
  let gw: InProcessGateway;
  /** Requests seen per key (the `k` query argument). */
  const seen = new Map<string, number>();
  before(async () => {
    // `?k=KEY&fail=N&status=S`: the first N requests with one key are answered S, the next 200.
    backend = await startUpstream((req, res) => {
      req.resume();
      const u = new URL(req.url ?? '/', 'http://backend');
      const key = u.searchParams.get('k') ?? '';
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const fail = Number(u.searchParams.get('fail') ?? '0');
      if (n <= fail) return void res.writeHead(Number(u.searchParams.get('status')), { 'content-type': 'text/plain' }).end(`failure ${n}`);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok after ${n - 1}`);
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: one
    targets: [{ url: "${backend.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
services:
  - { name: on-500, upstream: one, retries: { attempts: 3, on: [connect-failure, 500, "429"], backoff: { base: 1ms, max: 1ms } }, routes: [{ paths: ["/named"] }] }
  - { name: default, upstream: one, routes: [{ paths: ["/default"] }] }
`);
  });
  after(async () => {
    await gw.close();
    await backend.close();
  });

  test('a 500 the policy names is retried: the client gets the 200 that followed', async () => {
    const res = await http(`${gw.url}/named?k=a&fail=1&status=500`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok after 1');
    assert.equal(seen.get('a'), 2);
  });

  test('a 4xx the policy names is retried too', async () => {
    const res = await http(`${gw.url}/named?k=b&fail=2&status=429`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok after 2');
    assert.equal(seen.get('b'), 3);
  });

  test('past the attempts, the last answer reaches the client as the upstream gave it', async () => {
    const res = await http(`${gw.url}/named?k=c&fail=5&status=500`);
    assert.equal(res.status, 500);
    assert.equal(res.body, 'failure 3');
    assert.equal(seen.get('c'), 3, 'attempts: 3 tries at most');
  });

  test('a status the policy does not name, and a POST, are answered as they came', async () => {
    const other = await http(`${gw.url}/named?k=d&fail=1&status=502`);
    assert.equal(other.status, 502);
    assert.equal(seen.get('d'), 1);
    const byDefault = await http(`${gw.url}/default?k=e&fail=1&status=500`);
    assert.equal(byDefault.status, 500);
    assert.equal(seen.get('e'), 1);
    const post = await http(`${gw.url}/named?k=f&fail=1&status=500`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 500, 'a POST is not retried (non_idempotent is off)');
    assert.equal(seen.get('f'), 1);
  });
});

describe('attempts bound every try at the upstream', () => {
  let backend: Upstream;
  let gw: InProcessGateway;
  let connections = 0;
  /** Requests to /r/reset and /one/reset the backend received (and reset). */
  let resets = 0;
  /** Resets /r/flaky still gets before it is answered. */
  let flakyResets = 0;
  before(async () => {
    // /warm is answered (its connection kept alive, so that the next request reuses it); /reset
    // resets the connection once the request has arrived, on every try.
    backend = await startUpstream((req, res) => {
      req.resume();
      const reset = req.url!.endsWith('/reset') || (req.url!.endsWith('/flaky') && flakyResets-- > 0);
      if (reset) {
        resets++;
        return void req.socket.resetAndDestroy();
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    backend.server.on('connection', () => connections++);
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: three
    targets: [{ url: "${backend.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
  - name: single
    targets: [{ url: "${backend.url}" }]
    healthcheck: { passive: { consecutive_failures: 0 } }
services:
  - { name: three, upstream: three, retries: { attempts: 3, on: [reset], backoff: { base: 1ms, max: 1ms } }, routes: [{ paths: ["/r"] }] }
  - { name: single, upstream: single, retries: { attempts: 1 }, routes: [{ paths: ["/one"] }] }
`);
  });
  after(async () => {
    await gw.close();
    await backend.close();
  });

  test('attempts: 3 on a backend that resets every try: 3 tries, then 502', async () => {
    assert.equal((await http(`${gw.url}/r/warm`)).status, 200);
    resets = 0;
    connections = 0;
    const res = await http(`${gw.url}/r/reset`);
    assert.equal(res.status, 502);
    assert.equal(resets, 3, 'the first try, on the kept-alive connection, is one of the 3');
    assert.equal(connections, 2, 'the two retries each opened a connection');
  });

  test('attempts: 1: one try, even on a kept-alive connection that fails before any answer', async () => {
    assert.equal((await http(`${gw.url}/one/warm`)).status, 200);
    resets = 0;
    connections = 0;
    const res = await http(`${gw.url}/one/reset`);
    assert.equal(res.status, 502);
    assert.equal(resets, 1);
    assert.equal(connections, 0);
  });

  test('two resets then an answer, within attempts: 3: the client gets the answer', async () => {
    assert.equal((await http(`${gw.url}/r/warm`)).status, 200);
    resets = 0;
    flakyResets = 2;
    const res = await http(`${gw.url}/r/flaky`);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    assert.equal(resets, 2);
  });
});
