// The statsd log sink against a real UDP socket: per request a counter, a status counter and
// timings under `<prefix>.<service>.<route>.…`, or fixed names with DogStatsD tags; lines
// packed into datagrams of at most 1432 bytes; names from the config with dots kept out of
// the metric path.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { eventually, sinkCounts } from '../helpers/log-receiver.js';
import { http, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream, DEAD_PORT } from '../helpers/servers.js';

let plain: Socket;
let tagged: Socket;
const plainPackets: Buffer[] = [];
const taggedPackets: Buffer[] = [];
let echo: Upstream;
let gw: CliGateway;

async function udpReceiver(into: Buffer[]): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', (m) => into.push(m));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

before(async () => {
  plain = await udpReceiver(plainPackets);
  tagged = await udpReceiver(taggedPackets);
  echo = await startEchoUpstream();
  const dead = { port: DEAD_PORT };
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
log_sinks:
  - { name: plain, type: statsd, address: "127.0.0.1:${plain.address().port}", prefix: ng, batch: { interval: 100ms } }
  - { name: tagged, type: statsd, address: "127.0.0.1:${tagged.address().port}", tags: dogstatsd, batch: { interval: 100ms } }
services:
  - { name: orders.v2, url: "${echo.url}", routes: [{ name: list, paths: ["/orders"] }] }
  - { name: dead, url: "http://127.0.0.1:${dead.port}", routes: [{ name: dead, paths: ["/dead"] }] }
`)]);
});
after(async () => {
  await gw?.stop();
  plain.close();
  tagged.close();
  await echo.close();
});

const lines = (packets: Buffer[]): string[] => packets.flatMap((p) => p.toString().split('\n'));
const sum = (all: string[], name: string): number => all.filter((l) => l.startsWith(`${name}:`)).reduce((n, l) => n + Number(/:(\d+)\|c/.exec(l)![1]), 0);

test('counters and timings per service, route and status; DogStatsD tags', async () => {
  for (let i = 0; i < 30; i++) assert.equal((await http(`${gw.url}/orders`, { method: 'POST', body: 'abc' })).status, 200);
  assert.equal((await http(`${gw.url}/dead`)).status, 502);
  for (const sink of ['plain', 'tagged']) await eventually(() => sinkCounts(gw.statusPort!, sink), (c) => c.sent === 31);
  await eventually(async () => sum(lines(plainPackets), 'ng.orders_v2.list.request.count'), (n) => n === 30, 5000);

  const p = lines(plainPackets);
  assert.equal(sum(p, 'ng.orders_v2.list.request.count'), 30);
  assert.equal(sum(p, 'ng.orders_v2.list.status.200'), 30);
  assert.equal(sum(p, 'ng.dead.dead.request.count'), 1);
  assert.equal(sum(p, 'ng.dead.dead.status.502'), 1);
  const latencies = p.filter((l) => l.startsWith('ng.orders_v2.list.request.latency:'));
  assert.equal(latencies.length, 30);
  for (const l of latencies) assert.match(l, /^ng\.orders_v2\.list\.request\.latency:\d+(\.\d+)?\|ms$/);
  assert.equal(p.filter((l) => l === 'ng.orders_v2.list.request.size:3|ms').length, 30);
  assert.equal(p.filter((l) => l.startsWith('ng.orders_v2.list.upstream.latency:')).length, 30);
  assert.ok(p.every((l) => /^ng\.[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_.]+:[\d.]+\|(c|ms)$/.test(l)), 'every line is a StatsD line');
  assert.ok(plainPackets.every((b) => b.length <= 1432), 'datagrams fit an Ethernet MTU');
  assert.ok(plainPackets.length < 31, 'lines of several requests share a datagram');

  const t = lines(taggedPackets);
  assert.equal(t.filter((l) => l === 'northgate.request.count:1|c|#service:orders_v2,route:list,status:200').length, 30);
  assert.equal(t.filter((l) => l === 'northgate.request.count:1|c|#service:dead,route:dead,status:502').length, 1);
  assert.equal(t.filter((l) => l === 'northgate.request.size:3|h|#service:orders_v2,route:list,status:200').length, 30);
  assert.equal(t.filter((l) => /^northgate\.request\.latency:[\d.]+\|ms\|#service:orders_v2,route:list,status:200$/.test(l)).length, 30);
});
