// Weighted backends (`routes[].backends`) against real upstreams: the distribution by counts,
// weight 0, all weights 0 (500), per-backend header edits after the route's plugins, a dead
// backend's health and retries, the progress kept across a reload, an HTTP/2 client, and the
// chosen backend in the access log and in northgate_backend_requests_total.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:http2';
import { WebSocket, WebSocketServer } from 'ws';
import { after, before, describe, test } from 'node:test';
import { http, startCli, startGateway, startUpstream, writeConfig, type CliGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

interface Seen {
  name: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** An upstream that answers with its name, the path and the headers it received. */
function named(name: string): Promise<Upstream> {
  return startUpstream((req, res) => {
    req.resume();
    const body = JSON.stringify({ name, path: req.url ?? '', headers: req.headers } satisfies Seen);
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
}

/** A port nothing listens on (an upstream started and closed). */
async function deadUrl(): Promise<string> {
  const u = await startUpstream((_req, res) => res.end());
  await u.close();
  return u.url;
}

/** `n` sequential requests; the count of answers per upstream name (status other than 200 as "status NNN"). */
async function tally(url: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const res = await http(url, { headers });
    const key = res.status === 200 ? (JSON.parse(res.body) as Seen).name : `status ${res.status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('weighted backends', () => {
  const ups: Record<string, Upstream> = {};
  let dead: string;
  let gw: InProcessGateway;
  let config: string;
  before(async () => {
    for (const n of ['v1', 'v2', 'v3', 'a1', 'a2']) ups[n] = await named(n);
    dead = await deadUrl();
    config = `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: v1, targets: [{ url: "${ups['v1']!.url}" }] }
  - { name: v2, targets: [{ url: "${ups['v2']!.url}" }] }
  - name: half-dead
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 1m } }
    targets: [{ url: "${dead}" }, { url: "${ups['a1']!.url}" }]
  - name: dead
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 1m } }
    targets: [{ url: "${dead}" }]
services:
  - name: shop
    url: ${ups['v1']!.url}
    routes:
      - name: weights
        paths: ["/weights"]
        backends:
          - { upstream: v1, weight: 70 }
          - { upstream: v2, weight: 30 }
          - { url: "${ups['v3']!.url}", weight: 0 }
      - name: zero
        paths: ["/zero"]
        backends: [{ upstream: v1, weight: 0 }, { upstream: v2, weight: 0 }]
      - name: edits
        paths: ["/edits"]
        plugins: { headers: { request: { set: { backend: route, x-route: "yes" } } } }
        backends:
          - { upstream: v1, headers: { request: { set: { backend: infra-backend-v1 }, add: { x-extra: [a, b] }, remove: [x-drop] } } }
          - { upstream: v2, headers: { request: { set: { backend: infra-backend-v2 } } } }
      - name: based
        paths: ["/based"]
        strip_path: true
        backends: [{ url: "${ups['v3']!.url}/v3/" }]
      - name: failover
        paths: ["/failover"]
        backends: [{ upstream: half-dead }, { upstream: v2 }]
      - name: down
        paths: ["/down"]
        backends: [{ upstream: dead, weight: 3 }, { upstream: v2, weight: 1 }]
`;
    gw = await startGateway(config);
  });
  after(async () => {
    await gw.close();
    for (const u of Object.values(ups)) await u.close();
  });

  test('requests follow the weights (70/30 of 500, as the Gateway API conformance test); weight 0 gets none', async () => {
    const counts = await tally(gw.url + '/weights', 500);
    // Smooth weighted round-robin is exact over every 100 requests; the tolerance is the conformance test's 5%.
    assert.ok(Math.abs((counts.get('v1') ?? 0) - 350) <= 25, JSON.stringify([...counts]));
    assert.ok(Math.abs((counts.get('v2') ?? 0) - 150) <= 25, JSON.stringify([...counts]));
    assert.equal(counts.get('v3'), undefined);
    assert.equal([...counts.values()].reduce((a, b) => a + b), 500);
  });

  test('every weight 0: 500 problem+json no-backend, and no upstream is called', async () => {
    const res = await http(gw.url + '/zero');
    assert.equal(res.status, 500);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    const problem = JSON.parse(res.body) as { type: string; detail: string };
    assert.equal(problem.type, 'urn:northgate:problem:no-backend');
    assert.equal(problem.detail, 'every backend of the route has weight 0');
  });

  test('each backend\'s request-header edits apply after the route\'s plugins, to its own requests only', async () => {
    let v1 = 0;
    let v2 = 0;
    for (let i = 0; i < 10; i++) {
      const res = await http(gw.url + '/edits', { headers: { 'x-drop': 'gone', 'x-extra': 'client' } });
      const seen = JSON.parse(res.body) as Seen;
      assert.equal(seen.headers['x-route'], 'yes');
      if (seen.name === 'v1') {
        v1++;
        assert.equal(seen.headers['backend'], 'infra-backend-v1');
        assert.equal(seen.headers['x-drop'], undefined);
        assert.equal(seen.headers['x-extra'], 'client, a, b');
      } else {
        v2++;
        assert.equal(seen.headers['backend'], 'infra-backend-v2');
        assert.equal(seen.headers['x-drop'], 'gone');
        assert.equal(seen.headers['x-extra'], 'client');
      }
    }
    assert.deepEqual([v1, v2], [5, 5]);
  });

  test('a url backend\'s path is its base path', async () => {
    const seen = JSON.parse((await http(gw.url + '/based/x?q=1')).body) as Seen;
    assert.deepEqual([seen.name, seen.path], ['v3', '/v3/x?q=1']);
  });

  test('a dead target of a backend: the retry stays on that backend, the target is ejected, nothing fails', async () => {
    const counts = await tally(gw.url + '/failover', 20);
    assert.deepEqual(Object.fromEntries(counts), { a1: 10, v2: 10 });
  });

  test('a backend whose every target is ejected is skipped; the others keep their order', async () => {
    // Its first request meets the dead target (connect failure: ejected at once, and its retry
    // finds no other target of that backend): 503 upstream-unhealthy.
    const counts = await tally(gw.url + '/down', 12);
    assert.equal(counts.get('status 503'), 1, JSON.stringify([...counts]));
    assert.equal(counts.get('v2'), 11, JSON.stringify([...counts]));
  });

  test('a backend\'s upstream that no service uses still gets its active health checks: down, it is skipped', async () => {
    const sick = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(req.url === '/health' ? 503 : 200).end('sick');
    });
    const probed = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: probed
    healthcheck: { active: { path: /health, interval: 100ms, timeout: 100ms, unhealthy: { failures: 1 } } }
    targets: [{ url: "${sick.url}" }]
services:
  - name: s
    url: ${ups['v2']!.url}
    routes: [{ paths: ["/"], backends: [{ upstream: probed }, { url: "${ups['v2']!.url}" }] }]
`);
    try {
      // Bounded wait for the first probe (every 100 ms): then every request goes to v2.
      let streak = 0;
      for (let i = 0; i < 100 && streak < 10; i++) {
        const res = await http(probed.url + '/x');
        streak = res.body === 'sick' ? 0 : streak + 1;
        if (streak === 0) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(streak, 10, 'the probed backend was never taken out');
    } finally {
      await probed.close();
      await sick.close();
    }
  });

  test('a reload that keeps the backends keeps the round-robin progress; changed weights start afresh', async () => {
    const text = config.replace('{ upstream: v1, weight: 70 }', '{ upstream: v1, weight: 1 }').replace('{ upstream: v2, weight: 30 }', '{ upstream: v2, weight: 3 }');
    assert.equal(gw.reload(text).ok, true);
    const names: string[] = [];
    for (let round = 0; round < 4; round++) {
      names.push((JSON.parse((await http(gw.url + '/weights')).body) as Seen).name);
      // A reload between every two requests, with an unrelated change each time.
      assert.equal(gw.reload(`${text}\n# reload ${round}\n`).ok, true);
      names.push((JSON.parse((await http(gw.url + '/weights')).body) as Seen).name);
    }
    // Eight requests are two whole windows of 1 + 3: exactly 2 to v1, never two v1 in a row.
    assert.equal(names.filter((n) => n === 'v1').length, 2, names.join(' '));
    assert.deepEqual(names.slice(0, 4).filter((n) => n === 'v1').length, 1, names.join(' '));
  });

  test('an HTTP/2 client gets the same distribution and header edits', async () => {
    const h2 = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
services:
  - name: s
    url: ${ups['v1']!.url}
    routes:
      - paths: ["/"]
        backends:
          - { upstream: v1, weight: 3, headers: { request: { set: { backend: one } } } }
          - { upstream: v2, weight: 1, headers: { request: { set: { backend: two } } } }
upstreams:
  - { name: v1, targets: [{ url: "${ups['v1']!.url}" }] }
  - { name: v2, targets: [{ url: "${ups['v2']!.url}" }] }
`);
    const session = connect(h2.url);
    try {
      const counts = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const seen = await new Promise<Seen>((resolve, reject) => {
          const req = session.request({ ':path': '/x' });
          let body = '';
          req.setEncoding('utf8');
          req.on('data', (c: string) => (body += c));
          req.on('end', () => resolve(JSON.parse(body) as Seen));
          req.on('error', reject);
        });
        assert.equal(seen.headers['backend'], seen.name === 'v1' ? 'one' : 'two');
        counts.set(seen.name, (counts.get(seen.name) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(counts), { v1: 30, v2: 10 });
    } finally {
      session.close();
      await h2.close();
    }
  });
});

describe('a WebSocket handshake on a route with weighted backends', () => {
  test('goes to one backend by weight, with that backend\'s header edits and base path; all weights 0 is a 500', async () => {
    const seen: Array<{ name: string; url: string; backend: string | undefined }> = [];
    const servers: Upstream[] = [];
    const wss = new WebSocketServer({ noServer: true });
    for (const name of ['ws1', 'ws2']) {
      const up = await startUpstream((_req, res) => res.writeHead(426).end());
      up.server.on('upgrade', (req, socket, head) => {
        seen.push({ name, url: req.url ?? '', backend: req.headers['backend'] as string | undefined });
        wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(`${name}:${d.toString()}`)));
      });
      servers.push(up);
    }
    const gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: chat
    url: ${servers[0]!.url}
    routes:
      - paths: ["/chat"]
        backends:
          - { url: "${servers[0]!.url}/one", weight: 1, headers: { request: { set: { backend: one } } } }
          - { url: "${servers[1]!.url}/two", weight: 1, headers: { request: { set: { backend: two } } } }
      - { paths: ["/none"], backends: [{ url: "${servers[0]!.url}", weight: 0 }] }
`);
    try {
      const echoes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const ws = new WebSocket(gw.url.replace('http:', 'ws:') + '/chat');
        await once(ws, 'open');
        ws.send('hi');
        const [data] = (await once(ws, 'message')) as [Buffer];
        echoes.push(data.toString());
        ws.close();
        await once(ws, 'close');
      }
      assert.deepEqual(echoes.sort(), ['ws1:hi', 'ws1:hi', 'ws2:hi', 'ws2:hi']);
      assert.deepEqual(seen.map((s) => `${s.name} ${s.url} ${s.backend}`).sort(), ['ws1 /one/chat one', 'ws1 /one/chat one', 'ws2 /two/chat two', 'ws2 /two/chat two']);
      const refused = new WebSocket(gw.url.replace('http:', 'ws:') + '/none');
      const [, res] = (await once(refused, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 500);
      refused.on('error', () => undefined);
      refused.terminate();
    } finally {
      wss.close();
      await gw.close();
      for (const s of servers) await s.close();
    }
  });
});

describe('the chosen backend in the access log and metrics', () => {
  const ups: Upstream[] = [];
  let gw: CliGateway;
  before(async () => {
    ups.push(await named('blue'), await named('green'));
    gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { fields: [request_id, route, service, upstream, backend, target, status] }
upstreams: [{ name: blue, targets: [{ url: "${ups[0]!.url}" }] }]
services:
  - name: shop
    url: ${ups[0]!.url}
    routes:
      - name: canary
        paths: ["/c"]
        backends: [{ upstream: blue, weight: 1 }, { url: "${ups[1]!.url}", weight: 1 }]
      - { name: plain, paths: ["/p"] }
`)]);
  });
  after(async () => {
    await gw?.stop();
    for (const u of ups) await u.close();
  });

  test('access log: backend and upstream name the backend chosen; null on a route without backends', async () => {
    const lines = [];
    for (const path of ['/c', '/c', '/p']) {
      const res = await http(gw.url + path);
      lines.push(await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === res.headers['x-request-id']));
    }
    assert.deepEqual(
      lines.map((l) => [l['route'], l['service'], l['upstream'], l['backend'], l['target']]),
      [
        ['canary', 'shop', 'blue', 'blue', ups[0]!.url],
        ['canary', 'shop', ups[1]!.url, ups[1]!.url, ups[1]!.url],
        ['plain', 'shop', 'service:shop', null, ups[0]!.url],
      ],
    );
  });

  test('northgate_backend_requests_total counts by backend and code, for routes with backends only', async () => {
    for (let i = 0; i < 6; i++) assert.equal((await http(gw.url + '/c')).status, 200);
    const text = (await http(`http://127.0.0.1:${gw.statusPort}/metrics`)).body;
    const series = text.split('\n').filter((l) => l.startsWith('northgate_backend_requests_total{'));
    // 2 requests of the test before, 6 of this one: 4 each.
    assert.deepEqual(series.sort(), [
      `northgate_backend_requests_total{service="shop",route="canary",backend="${ups[1]!.url}",code="200"} 4`,
      'northgate_backend_requests_total{service="shop",route="canary",backend="blue",code="200"} 4',
    ].sort());
  });
});
