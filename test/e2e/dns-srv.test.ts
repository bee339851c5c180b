// SRV-discovered targets against a real DNS server (dnsmasq on a loopback port): the lowest
// priority with an available target takes the traffic, split by the records' weights; when
// its targets fail their health checks the next priority takes over; the records are asked
// again at their TTL and traffic follows a change; a DNS failure keeps the last good answer;
// an empty answer leaves the upstream without targets (503), and traffic comes back with
// the records; an answer too big for UDP is read over TCP.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, before, describe, test } from 'node:test';
import { dnsResolveChannel } from '../../src/base/events.js';
import { dnsmasqSkipReason, startDnsmasq, type Dnsmasq, type SrvRecordSpec, type Zone } from '../helpers/dnsmasq.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const skip = dnsmasqSkipReason();
const ORDERS = '_http._tcp.orders.example';
const MANY = '_http._tcp.many.example';

interface ResolveEvent {
  name: string;
  addresses: string[];
  source: string;
  changed: boolean;
  error: string | null;
}

function nextResolve(pred: (e: ResolveEvent) => boolean): Promise<ResolveEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe(dnsResolveChannel.name, on);
      reject(new Error('no matching DNS resolution within 10 s'));
    }, 10_000);
    const on = (m: unknown) => {
      const e = m as ResolveEvent;
      if (!pred(e)) return;
      clearTimeout(timer);
      unsubscribe(dnsResolveChannel.name, on);
      resolve(e);
    };
    subscribe(dnsResolveChannel.name, on);
  });
}

describe('SRV-discovered targets', { skip }, () => {
  const names = ['a', 'b', 'c', 'd'] as const;
  const down = new Set<string>();
  const ups = new Map<string, Upstream>();
  let dns: Dnsmasq;
  let gw: InProcessGateway;
  const port = (n: string) => ups.get(n)!.port;
  const record = (target: string, upstream: string, priority: number, weight: number): SrvRecordSpec => ({ service: ORDERS, target, port: port(upstream), priority, weight });
  /** 40 records on web-N.many.example: about 1.5 kB, over the 512 bytes UDP answers may take here. */
  const many = Array.from({ length: 40 }, (_v, i): SrvRecordSpec => ({ service: MANY, target: `web-${i}.many.example`, port: 9000 + i, priority: 0, weight: 1 }));
  const hosts = { 'web-a.orders.example': '127.0.0.1', 'web-b.orders.example': '127.0.0.1', 'web-c.orders.example': '127.0.0.1', ...Object.fromEntries(many.map((r) => [r.target, '127.0.0.1'])) };
  const zone = (srv: SrvRecordSpec[]): Zone => ({ srv: [...srv, ...many], hosts, ttl: 1, udpMax: 512 });
  const first = () => zone([record('web-a.orders.example', 'a', 10, 30), record('web-b.orders.example', 'b', 10, 10), record('web-c.orders.example', 'c', 20, 5)]);

  before(async () => {
    for (const n of names) {
      ups.set(
        n,
        await startUpstream((req, res) => {
          if (req.url === '/health') res.statusCode = down.has(n) ? 500 : 200;
          res.end(`${n} ${req.headers.host}`);
        }),
      );
    }
    dns = await startDnsmasq(first());
    // A failing check (status 500) ejects a target at once; slow checks only after five in a row, so
    // that a loaded machine does not eject every target between two requests of a count.
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
dns: { servers: ["127.0.0.1:${dns.port}"], timeout: 500ms, attempts: 2, min_ttl: 1s, error_retry: 200ms }
upstreams:
  - name: orders
    targets: [{ srv: "${ORDERS}" }]
    healthcheck: { active: { path: /health, interval: 100ms, timeout: 90ms, healthy: { successes: 1 }, unhealthy: { failures: 1, timeouts: 5 } } }
  - { name: many, targets: [{ srv: "${MANY}" }] }
services:
  - { name: orders, upstream: orders, routes: [{ paths: ["/orders"] }] }
  - { name: many, upstream: many, routes: [{ paths: ["/many"] }] }
`);
  });
  after(async () => {
    await gw?.close();
    await dns?.close();
    for (const u of ups.values()) await u.close();
  });

  const counts = async (n: number): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await http(gw.url + '/orders');
      // A refusal is counted under its status and problem detail, so that a failing count says why.
      const key = r.status === 200 ? r.body.split(' ')[0]! : `${r.status} ${/"detail":"([^"]*)"/.exec(r.body)?.[1] ?? r.body.slice(0, 80)}`;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  };
  /** Polls (bounded: 100 × 50 ms) until every target of `upstream` on the given ports has the given health. */
  const waitHealth = async (ports: number[], healthy: boolean) => {
    for (let i = 0; i < 100; i++) {
      const ts = gw.gateway.targets().filter((t) => t.upstream === 'orders' && ports.some((p) => t.target.endsWith(`:${p}`)));
      if (ts.length === ports.length && ts.every((t) => t.healthy === healthy)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`targets on ${ports.join(', ')} did not become ${healthy ? 'healthy' : 'unhealthy'}`);
  };

  test('the lowest priority takes the traffic, split by weight; the record host name is the Host header', async () => {
    const ordersTargets = gw.gateway.snapshot.upstreams.get('orders')!.targets;
    assert.deepEqual(
      ordersTargets.map((t) => [t.url, t.weight]).sort(),
      [
        [`http://127.0.0.1:${port('a')}`, 30],
        [`http://127.0.0.1:${port('b')}`, 10],
        [`http://127.0.0.1:${port('c')}`, 5],
      ].sort(),
    );
    const c = await counts(80);
    assert.equal(c['c'], undefined, `priority 20 gets nothing while priority 10 is up: ${JSON.stringify(c)}`);
    assert.ok(Math.abs(c['a']! - 60) <= 4 && Math.abs(c['b']! - 20) <= 4, `weights 30:10 over 80 requests: ${JSON.stringify(c)}`);
    const r = await http(gw.url + '/orders');
    assert.match(r.body, new RegExp(`^[ab] web-[ab]\\.orders\\.example:(${port('a')}|${port('b')})$`));
  });

  test('when every target of the lowest priority fails its health check, the next priority takes over, and gives it back', async () => {
    down.add('a').add('b');
    await waitHealth([port('a'), port('b')], false);
    assert.deepEqual(await counts(10), { c: 10 });
    down.clear();
    await waitHealth([port('a'), port('b')], true);
    const c = await counts(8);
    assert.equal(c['c'], undefined, JSON.stringify(c));
  });

  test('an answer too big for UDP is read over TCP: every record becomes a target', () => {
    const ts = gw.gateway.snapshot.upstreams.get('many')!.targets;
    assert.equal(ts.length, 40);
    assert.deepEqual(new Set(ts.map((t) => t.port)), new Set(many.map((r) => r.port)));
  });

  test('the records are asked again at their TTL: traffic follows a changed answer', async () => {
    const changed = nextResolve((e) => e.name === ORDERS && e.source === 'srv' && e.changed);
    await dns.load(zone([record('web-a.orders.example', 'd', 10, 1), record('web-c.orders.example', 'c', 20, 5)]));
    const e = await changed;
    assert.deepEqual(e.addresses, [`10 1 ${port('d')} web-a.orders.example`, `20 5 ${port('c')} web-c.orders.example`]);
    assert.deepEqual(await counts(6), { d: 6 });
  });

  test('when the DNS server stops answering, the last good records stay', async () => {
    const failed = nextResolve((e) => e.name === ORDERS && e.error !== null);
    await dns.stop();
    const e = await failed;
    assert.deepEqual(e.addresses, [`10 1 ${port('d')} web-a.orders.example`, `20 5 ${port('c')} web-c.orders.example`]);
    assert.deepEqual(await counts(4), { d: 4 });
    const back = nextResolve((ev) => ev.name === ORDERS && ev.error === null);
    await dns.load(zone([record('web-a.orders.example', 'd', 10, 1), record('web-c.orders.example', 'c', 20, 5)]));
    await back;
  });

  test('an empty answer (no record, or the "." target) leaves no target: 503 problem+json, until records come back', async () => {
    for (const srv of [[], [{ service: ORDERS, target: '.', port: 0, priority: 0, weight: 0 }]]) {
      const empty = nextResolve((e) => e.name === ORDERS && e.changed && e.addresses.length === 0);
      await dns.load(zone(srv));
      await empty;
      const r = await http(gw.url + '/orders');
      assert.equal(r.status, 503, r.body);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
      const back = nextResolve((e) => e.name === ORDERS && e.changed && e.addresses.length > 0);
      await dns.load(first());
      await back;
      assert.equal((await http(gw.url + '/orders')).status, 200);
    }
  });
});
