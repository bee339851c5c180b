// Active health checks against real upstreams: a target failing its check gets no traffic
// and comes back when it passes again; hanging checks time out; a passively ejected target
// comes back through the active check; the ejected-share cap holds; with every target down
// the answer is 503 problem+json with Retry-After at once; a reload that changes the checks
// stops the old ones.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import { targetHealthChannel } from '../../src/base/events.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

interface HealthEvent {
  upstream: string;
  target: string;
  healthy: boolean;
  reason: string;
}

/** Resolves with the first active-check state change matching `pred` (fails after 10 s). */
function nextHealthEvent(pred: (e: HealthEvent) => boolean): Promise<HealthEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe(targetHealthChannel.name, on);
      reject(new Error('no matching health event within 10 s'));
    }, 10_000);
    const on = (m: unknown) => {
      const e = m as HealthEvent;
      if (!pred(e)) return;
      clearTimeout(timer);
      unsubscribe(targetHealthChannel.name, on);
      resolve(e);
    };
    subscribe(targetHealthChannel.name, on);
  });
}

interface Backend {
  up: Upstream;
  name: string;
  /** Status of GET /health; 0 = hang without answering. */
  health: number;
  /** Status of every other path. */
  status: number;
  /** Requests other than health checks. */
  hits: number;
  probes: string[];
  /** Host header of the last probe. */
  probeHost: string;
}

async function backend(name: string): Promise<Backend> {
  const b: Backend = { up: null as never, name, health: 200, status: 200, hits: 0, probes: [], probeHost: '' };
  b.up = await startUpstream((req, res) => {
    req.resume();
    if (req.headers['user-agent'] === 'northgate-health-check') {
      b.probes.push(req.url!);
      b.probeHost = req.headers.host ?? '';
      if (b.health === 0) return; // hangs: the check's timeout must end it
      res.writeHead(b.health).end();
      return;
    }
    b.hits++;
    res.writeHead(b.status).end(name);
  });
  return b;
}

describe('active health checks', () => {
  const backends: Backend[] = [];
  let gw: InProcessGateway;
  let a: Backend, b: Backend, c: Backend, d: Backend, e: Backend;
  const config = (path = '/health') => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: checked
    targets: [{ url: "${a.up.url}" }, { url: "${b.up.url}" }]
    healthcheck:
      active: { path: ${path}, interval: 500ms, timeout: 500ms, healthy: { successes: 2 }, unhealthy: { failures: 2, timeouts: 3 } }
  - name: passive-and-active
    targets: [{ url: "${c.up.url}" }, { url: "${d.up.url}" }]
    healthcheck:
      passive: { consecutive_failures: 1, base_ejection: 1h }
      active: { path: /health, interval: 300ms, timeout: 300ms, healthy: { successes: 2 }, unhealthy: { failures: 0, timeouts: 0 } }
  - name: lonely
    targets: [{ url: "${e.up.url}" }]
    healthcheck:
      active: { path: /health, interval: 500ms, timeout: 500ms, host: lonely.internal, unhealthy: { failures: 2 } }
services:
  - { name: checked, upstream: checked, routes: [{ paths: ["/checked"] }] }
  - { name: pa, upstream: passive-and-active, routes: [{ paths: ["/pa"] }] }
  - { name: lonely, upstream: lonely, routes: [{ paths: ["/lonely"] }] }
`;
  before(async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) backends.push(await backend(n));
    [a, b, c, d, e] = backends as [Backend, Backend, Backend, Backend, Backend];
    e.health = 503;
    const lonelyDown = nextHealthEvent((ev) => ev.upstream === 'lonely' && !ev.healthy);
    gw = await startGateway(config());
    await lonelyDown;
  });
  after(async () => {
    await gw.close();
    for (const x of backends) await x.up.close();
  });

  const bodies = async (path: string, n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await http(gw.url + path)).body);
    return out;
  };

  test('a target failing its check gets no traffic, and gets it again once it passes', async () => {
    assert.deepEqual(new Set(await bodies('/checked', 4)), new Set(['a', 'b']));
    const down = nextHealthEvent((ev) => ev.target === b.up.url && !ev.healthy);
    b.health = 500;
    assert.match((await down).reason, /2 failed checks/);
    const hits = b.hits;
    assert.deepEqual(await bodies('/checked', 10), Array(10).fill('a'));
    assert.equal(b.hits, hits, 'not one request reached the failing target');
    assert.deepEqual(
      gw.gateway.targets().filter((t) => t.upstream === 'checked'),
      [
        { upstream: 'checked', target: a.up.url, healthy: true },
        { upstream: 'checked', target: b.up.url, healthy: false },
      ],
      'what northgate_upstream_target_health reports',
    );
    const up = nextHealthEvent((ev) => ev.target === b.up.url && ev.healthy);
    b.health = 200;
    await up;
    assert.ok((await bodies('/checked', 4)).includes('b'));
  });

  test('a check that hangs times out and counts as a timeout', async () => {
    const down = nextHealthEvent((ev) => ev.target === a.up.url && !ev.healthy);
    a.health = 0;
    assert.match((await down).reason, /3 timed-out checks/);
    assert.deepEqual(await bodies('/checked', 4), Array(4).fill('b'));
    const up = nextHealthEvent((ev) => ev.target === a.up.url && ev.healthy);
    a.health = 200;
    await up;
  });

  test('passive ejection still works with active checks on, and the active check brings the target back early', async () => {
    c.status = 500;
    c.health = 503;
    let ejected = false;
    for (let i = 0; i < 4 && !ejected; i++) ejected = (await http(gw.url + '/pa')).status === 500;
    assert.ok(ejected, 'c answered 500 once and was ejected (for 1h)');
    const hits = c.hits;
    assert.deepEqual(await bodies('/pa', 8), Array(8).fill('d'));
    assert.equal(c.hits, hits);
    const back = nextHealthEvent((ev) => ev.target === c.up.url && ev.healthy);
    c.status = 200;
    c.health = 200;
    assert.match((await back).reason, /successful checks/);
    assert.ok((await bodies('/pa', 4)).includes('c'), 'back long before the hour of ejection is over');
  });

  test('every target down by its check: 503 problem+json with Retry-After at once, the network untouched', async () => {
    const res = await http(gw.url + '/lonely');
    assert.equal(res.status, 503);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:upstream-unhealthy');
    assert.equal(res.headers['retry-after'], '1', 'two checks 500 ms apart: come back in a second');
    assert.equal(e.hits, 0);
    assert.equal(e.probeHost, 'lonely.internal', 'the configured Host header of the probes');
    assert.equal(a.probeHost, `127.0.0.1:${a.up.port}`, 'by default the target\'s own host');
  });

  test('a reload with other check settings stops the old checks (no duplicate timers); health survives', async () => {
    const seen = a.probes.length;
    assert.equal(gw.reload(config('/ready')).ok, true);
    // Wait (bounded) for three probes on the new path.
    for (let i = 0; i < 100 && a.probes.slice(seen).filter((p) => p === '/ready').length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    const after = a.probes.slice(seen);
    const firstNew = after.indexOf('/ready');
    assert.ok(firstNew !== -1, JSON.stringify(after));
    assert.deepEqual(
      after.slice(firstNew + 1).filter((p) => p !== '/ready'),
      [],
      'no probe on the old path once the new checker runs',
    );
    assert.equal((await http(gw.url + '/lonely')).status, 503, 'the lonely target is still down after the reload');
  });
});

describe('passive ejection cap', () => {
  const backends: Backend[] = [];
  let gw: InProcessGateway;
  before(async () => {
    for (const n of ['w', 'x', 'y', 'z']) {
      const x = await backend(n);
      x.status = 500;
      backends.push(x);
    }
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: all-failing
    targets: [${backends.map((x) => `{ url: "${x.up.url}" }`).join(', ')}]
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 1h, max_ejected_percent: 50 } }
services:
  - { name: s, upstream: all-failing, routes: [{ paths: ["/"] }] }
`);
  });
  after(async () => {
    await gw.close();
    for (const x of backends) await x.up.close();
  });

  test('at most max_ejected_percent of the targets are ejected at once; the rest keep serving', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) statuses.push((await http(gw.url + '/')).status);
    assert.deepEqual(new Set(statuses), new Set([500]), 'never 503: half the targets stay in');
    assert.equal(gw.gateway.targets().filter((t) => !t.healthy).length, 2);
    const served = backends.filter((x) => x.hits > 1).length;
    assert.equal(served, 2, 'the two targets left in keep receiving traffic');
  });
});
