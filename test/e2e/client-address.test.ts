// The client address through a trusted proxy, end to end: a rate limit by IP and the access
// log's client_ip, with X-Forwarded-For hops a client could choose.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { http, startCli, startUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

describe('client address behind a trusted proxy', () => {
  let up: Upstream;
  let gw: CliGateway;
  const log = join(tempDir(), 'access.log');
  before(async () => {
    up = await startUpstream((_q, r) => r.end('ok'));
    gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]
access_log: { path: "${log}", fields: [request_id, client_ip, status] }
services:
  - name: s
    url: "${up.url}"
    routes:
      - { name: limited, paths: ["/limited"], plugins: { rate-limit: { key: ip, limits: [{ per: 1h, max: 3 }] } } }
      - { name: open, paths: ["/open"] }
`)]);
  });
  after(async () => {
    await gw?.stop();
    await up.close();
  });

  const GARBAGE = ['unknown', 'garbage', 'garbage-2', ', ,', '999.1.1.1', '01.2.3.4', 'fe80::1%eth0', '1.2.3.4:99999', '_proxy', `x${'9'.repeat(6000)}`];

  test('attack: hops that are no address do not give fresh rate-limit buckets', async () => {
    // The proxy's own bucket (127.0.0.1) is used up first ...
    for (let i = 0; i < 3; i++) assert.equal((await http(gw.url + '/limited')).status, 200);
    assert.equal((await http(gw.url + '/limited')).status, 429);
    // ... and every garbage hop, alone or hiding a forged address on its left, counts there.
    for (const hop of GARBAGE) {
      assert.equal((await http(gw.url + '/limited', { headers: { 'x-forwarded-for': hop } })).status, 429, hop);
      if (hop.trim() !== ', ,') assert.equal((await http(gw.url + '/limited', { headers: { 'x-forwarded-for': `203.0.113.${GARBAGE.indexOf(hop)}, ${hop}` } })).status, 429, `forged, ${hop}`);
    }
    // Behind an inner proxy, garbage falls back to that proxy: one bucket for all of them
    // (empty list elements are list syntax, skipped, not hops).
    const inner = [];
    for (const hop of GARBAGE.filter((h) => h !== ', ,')) inner.push((await http(gw.url + '/limited', { headers: { 'x-forwarded-for': `203.0.113.9, ${hop}, 10.1.2.3` } })).status);
    assert.deepEqual(inner, [200, 200, 200, ...GARBAGE.slice(4).map(() => 429)]);
  });

  test('attack: spellings of one address (ports, brackets, IPv4-mapped, IPv6 forms) share one bucket', async () => {
    const v4 = ['198.51.100.7', '198.51.100.7:1', '198.51.100.7:2', '::ffff:198.51.100.7', '[::ffff:198.51.100.7]:3'];
    const statuses = [];
    for (const hop of v4) statuses.push((await http(gw.url + '/limited', { headers: { 'x-forwarded-for': hop } })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const v6 = ['2001:db8::7', '2001:DB8::7', '[2001:db8:0:0::7]:80', '2001:0db8:0000:0000:0000:0000:0000:0007'];
    const v6Statuses = [];
    for (const hop of v6) v6Statuses.push((await http(gw.url + '/limited', { headers: { 'x-forwarded-for': hop } })).status);
    assert.deepEqual(v6Statuses, [200, 200, 200, 429]);
  });

  test('the access log names a valid address only', async () => {
    const ids = new Map<string, string>();
    for (const [hop, want] of [['unknown', '127.0.0.1'], ['203.0.113.9, 999.1.1.1', '127.0.0.1'], ['198.51.100.7:8080', '198.51.100.7'], ['[2001:DB8::1]:443, 10.0.0.9', '2001:db8::1']] as const) {
      const res = await http(gw.url + '/open', { headers: { 'x-forwarded-for': hop } });
      assert.equal(res.status, 200);
      ids.set(res.headers['x-request-id'] as string, want);
    }
    await gw.stop();
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [id, want] of ids) assert.equal(lines.find((l) => l['request_id'] === id)?.['client_ip'], want, id);
  });
});
