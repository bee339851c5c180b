// Metering export for billing: requests metered into SQLite in the hour 10:00 of an injected
// clock, then `northgate usage export` (CSV and JSON) and the scheduled push of a gateway
// started an hour later, to a real HTTP receiver that fails the first push: the closed hour
// arrives as buckets per consumer, credential, service and route with the consumer's plan and
// the same stable ids the CLI prints; the accepted hour is not pushed again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { BillingBucket } from '../../src/metering/export.js';
import { startLogReceiver } from '../helpers/log-receiver.js';
import { http, runCli, startCli, startUpstream, tempDir, writeConfig } from '../helpers/servers.js';

const config = (upstream: string, store: string, exportTo = ''): string => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
metering: { store: "${store}", flush_interval: 1s${exportTo} }
plans: [{ name: gold }]
consumers:
  - { username: alice, plan: gold, credentials: { key-auth: [{ id: alice-main, key: alice-key-0001 }] } }
  - { username: bob, credentials: { key-auth: [{ key: bob-key-00001 }] } }
services:
  - name: api
    url: "${upstream}"
    routes: [{ name: items, paths: ["/items"], plugins: { key-auth: {} } }]
  - name: public
    url: "${upstream}"
    routes: [{ name: open, paths: ["/open"] }]
`;

test('usage export and the scheduled push carry the same buckets with stable ids', async () => {
  const up = await startUpstream((_req, res) => res.end('x'.repeat(100)));
  const dir = tempDir();
  const store = join(dir, 'usage.sqlite');
  const file = writeConfig(config(up.url, store));
  const gw = await startCli(['--config', file], { NORTHGATE_TEST_CLOCK: '2031-05-10T10:30:00Z' });
  try {
    for (let i = 0; i < 12; i++) assert.equal((await http(`${gw.url}/items`, { headers: { apikey: 'alice-key-0001' } })).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await http(`${gw.url}/items`, { headers: { apikey: 'bob-key-00001' } })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.url}/open`)).status, 200);
  } finally {
    assert.equal(await gw.stop(), 0);
  }

  const later = { NORTHGATE_TEST_CLOCK: '2031-05-10T11:30:00Z' };
  const json = await runCli(['usage', 'export', '--config', file, '--from', '2031-05-10', '--to', '2031-05-11', '--format', 'json'], { env: later });
  assert.equal(json.code, 0, json.stderr);
  assert.match(json.stderr, /hours from 2031-05-10T11:00:00\.000Z are not closed yet and are left out/);
  const buckets = JSON.parse(json.stdout) as BillingBucket[];
  assert.equal(buckets.length, 3);
  const alice = buckets.find((b) => b.consumer === 'alice')!;
  assert.deepEqual(
    { ...alice, latency_ms_avg: 0, latency_ms_p50: 0, latency_ms_p95: 0, latency_ms_p99: 0 },
    { id: alice.id, period_start: '2031-05-10T10:00:00.000Z', period_end: '2031-05-10T11:00:00.000Z', consumer: 'alice', credential: 'alice-main', service: 'api', route: 'items', plan: 'gold', requests: 12, status: { '2xx': 12 }, bytes_in: 0, bytes_out: 1200, latency_ms_avg: 0, latency_ms_p50: 0, latency_ms_p95: 0, latency_ms_p99: 0 },
  );
  assert.match(alice.id, /^[0-9a-f]{32}$/);
  assert.equal(buckets.find((b) => b.consumer === 'bob')!.plan, '');
  assert.equal(buckets.find((b) => b.consumer === '')!.requests, 3);
  assert.equal(new Set(buckets.map((b) => b.id)).size, 3);

  const csv = await runCli(['usage', 'export', '--store', store, '--from', '2031-05-10T10:00:00Z', '--to', '2031-05-10T11:00:00Z'], { env: later });
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'id,period_start,period_end,consumer,credential,service,route,plan,requests,2xx,3xx,4xx,5xx,other,bytes_in,bytes_out,latency_ms_avg,latency_ms_p50,latency_ms_p95,latency_ms_p99');
  assert.equal(lines.length, 4);
  assert.ok(lines.some((l) => l.startsWith(`${alice.id},2031-05-10T10:00:00.000Z,2031-05-10T11:00:00.000Z,alice,alice-main,api,items,,12,12,0,0,0,0,0,1200,`)), 'without --config no plan; the same id');

  // The scheduled push, from a gateway started in the next hour: the first push fails (500).
  const receiver = await startLogReceiver((n) => (n === 0 ? 500 : 200));
  const pusher = await startCli(['--config', writeConfig(config(up.url, store, `, export: { url: "${receiver.url}/usage", headers: { authorization: "Bearer billing-token" }, interval: 1s }`))], later);
  try {
    await pusher.waitFor((l) => l['type'] === 'metering' && l['msg'] === 'usage export: push failed; retrying at the next interval' && l['reason'] === 'answered 500');
    const pushed = (await receiver.records(1)) as unknown as Array<{ buckets: BillingBucket[] }>;
    assert.equal(receiver.accepted[0]!.headers['authorization'], 'Bearer billing-token');
    assert.deepEqual(
      pushed[0]!.buckets.map((b) => [b.id, b.requests, b.plan]).sort(),
      buckets.map((b) => [b.id, b.requests, b.plan]).sort(),
      'the ids and totals usage export prints',
    );
    const posts = receiver.posts;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(receiver.posts, posts, 'an accepted hour is not pushed again');
  } finally {
    await pusher.stop();
    await receiver.close();
    await up.close();
  }
});

test('usage export: whole hours only, required range, format checked', async () => {
  const misaligned = await runCli(['usage', 'export', '--from', '2031-05-10T10:30:00Z', '--to', '2031-05-11']);
  assert.equal(misaligned.code, 2);
  assert.match(misaligned.stderr, /--from must be on a whole hour/);
  const missing = await runCli(['usage', 'export', '--to', '2031-05-11']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--from is required/);
  const format = await runCli(['usage', 'export', '--from', '2031-05-10', '--to', '2031-05-11', '--format', 'xml']);
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format takes csv or json/);
  const help = await runCli(['usage', 'export', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /stable id/);
});
