// DNS-resolved targets against a real DNS server: a small UDP responder on 127.0.0.1
// answers A/AAAA records with a TTL; when the answer changes, traffic moves to the new
// address after the TTL (re-resolved in the background, not per request), the health of
// unchanged addresses survives, a failing DNS server leaves the last good addresses in
// place, and `localhost` comes from the hosts file.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { dnsResolveChannel } from '../../src/base/events.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

interface Record_ {
  type: 'A' | 'AAAA';
  address: string;
  ttl: number;
}

interface DnsServer {
  port: number;
  /** name → records; a name absent answers NXDOMAIN. */
  zone: Map<string, Record_[]>;
  /** Answer SERVFAIL to everything. */
  failing: boolean;
  queries: string[];
  close(): Promise<void>;
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A DNS responder (RFC 1035 wire format) answering A and AAAA questions from `zone`. */
async function startDns(): Promise<DnsServer> {
  const socket: Socket = createSocket('udp4');
  const server: DnsServer = { port: 0, zone: new Map(), failing: false, queries: [], close: () => new Promise((r) => socket.close(() => r())) };
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 17) return;
    let at = 12;
    const labels: string[] = [];
    while (at < msg.length && msg[at] !== 0) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]!).toString('latin1'));
      at += msg[at]! + 1;
    }
    const questionEnd = at + 5;
    const qtype = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    server.queries.push(`${name}/${qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : qtype}`);
    const records = server.zone.get(name);
    const rcode = server.failing ? 2 : records === undefined ? 3 : 0;
    const answers = (rcode === 0 ? records! : []).filter((r) => (r.type === 'A' ? 1 : 28) === qtype);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const parts: Buffer[] = [header, msg.subarray(12, questionEnd)];
    for (const r of answers) {
      const rdata = r.type === 'A' ? Buffer.from(r.address.split('.').map(Number)) : ipv6Bytes(r.address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(r.type === 'A' ? 1 : 28, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(r.ttl, 6);
      rr.writeUInt16BE(rdata.length, 10);
      parts.push(rr, rdata);
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  server.port = socket.address().port;
  return server;
}

interface ResolveEvent {
  name: string;
  addresses: string[];
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

describe('DNS-resolved targets', () => {
  let dns: DnsServer;
  let v4: Upstream;
  let v6: Server;
  let local: Upstream;
  let gw: InProcessGateway;
  let port = 0;
  before(async () => {
    dns = await startDns();
    v4 = await startUpstream((req, res) => res.end(`v4 ${req.headers.host}`));
    port = v4.port;
    v6 = createServer((req, res) => res.end(`v6 ${req.headers.host}`));
    v6.listen(port, '::1');
    await once(v6, 'listening');
    local = await startUpstream((_req, res) => res.end('local'));
    dns.zone.set('svc.test', [{ type: 'A', address: '127.0.0.1', ttl: 1 }]);
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
dns: { servers: ["127.0.0.1:${dns.port}"], timeout: 2s, attempts: 2, error_retry: 200ms }
upstreams:
  - { name: svc, targets: [{ url: "http://svc.test:${port}", weight: 5 }] }
  - { name: local, targets: [{ url: "http://localhost:${local.port}" }] }
services:
  - { name: svc, upstream: svc, routes: [{ paths: ["/svc"] }] }
  - { name: local, upstream: local, routes: [{ paths: ["/local"] }] }
`);
  });
  after(async () => {
    await gw.close();
    await v4.close();
    v6.closeAllConnections();
    await new Promise((r) => v6.close(r));
    await local.close();
    await dns.close();
  });

  const bodies = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await http(gw.url + '/svc')).body);
    return out;
  };
  const svcTargets = () => gw.gateway.snapshot.upstreams.get('svc')!.targets;

  test('a host name is resolved before traffic: its address is the target, the name is the Host header', async () => {
    assert.deepEqual(await bodies(3), Array(3).fill(`v4 svc.test:${port}`));
    assert.deepEqual(
      svcTargets().map((t) => [t.url, t.weight]),
      [[`http://127.0.0.1:${port}`, 5]],
      'one target per address, with the weight of the named target',
    );
    assert.deepEqual(
      gw.gateway.targets().filter((t) => t.upstream === 'svc'),
      [{ upstream: 'svc', target: `http://127.0.0.1:${port}`, healthy: true }],
    );
  });

  test('new addresses after the TTL: traffic moves, unchanged addresses keep their health, no lookup per request', async () => {
    const v4Health = svcTargets()[0]!.health;
    const both = nextResolve((e) => e.name === 'svc.test' && e.changed);
    dns.zone.set('svc.test', [
      { type: 'A', address: '127.0.0.1', ttl: 1 },
      { type: 'AAAA', address: '::1', ttl: 1 },
    ]);
    assert.deepEqual((await both).addresses, ['127.0.0.1', '::1']);
    assert.deepEqual(svcTargets().map((t) => t.url).sort(), [`http://127.0.0.1:${port}`, `http://[::1]:${port}`]);
    assert.equal(svcTargets().find((t) => t.url.includes('127.0.0.1'))!.health, v4Health, 'the unchanged address kept its state');
    assert.deepEqual(new Set(await bodies(4)), new Set([`v4 svc.test:${port}`, `v6 svc.test:${port}`]));

    const moved = nextResolve((e) => e.name === 'svc.test' && e.changed);
    dns.zone.set('svc.test', [{ type: 'AAAA', address: '::1', ttl: 1 }]);
    assert.deepEqual((await moved).addresses, ['::1']);
    const queries = dns.queries.length;
    assert.deepEqual(await bodies(20), Array(20).fill(`v6 svc.test:${port}`));
    assert.ok(dns.queries.length - queries <= 4, `20 requests, ${dns.queries.length - queries} DNS queries: resolution is in the background`);
  });

  test('when the DNS server fails, the last good addresses stay', async () => {
    const failed = nextResolve((e) => e.name === 'svc.test' && e.error !== null);
    dns.failing = true;
    const e = await failed;
    assert.deepEqual(e.addresses, ['::1']);
    assert.deepEqual(await bodies(3), Array(3).fill(`v6 svc.test:${port}`));
    const recovered = nextResolve((ev) => ev.name === 'svc.test' && ev.error === null);
    dns.failing = false;
    await recovered;
  });

  test('localhost comes from the hosts file (dns.lookup), not from the DNS server', async () => {
    const res = await http(gw.url + '/local');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'local');
    const urls = gw.gateway.snapshot.upstreams.get('local')!.targets.map((t) => t.url);
    assert.ok(urls.includes(`http://127.0.0.1:${local.port}`), JSON.stringify(urls));
    assert.ok(!dns.queries.some((q) => q.startsWith('localhost')), JSON.stringify(dns.queries));
  });
});
