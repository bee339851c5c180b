// Balancers against real upstreams on loopback: least-connections and P2C peak-EWMA send a
// slow target fewer requests than fast ones (round-robin, on the same targets, does not);
// consistent-hash keeps a key on one target across requests, spreads keyless requests, and
// moves only the keys of an ejected target.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

/** An upstream that answers its own name, after `delayMs` (a slow instance) — or 500 while `failing`. */
async function named(name: string, hits: Map<string, number>, delayMs = 0, state = { failing: false }): Promise<Upstream> {
  return startUpstream((req, res) => {
    req.resume();
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const answer = () => (state.failing ? res.writeHead(500).end('failing') : res.end(name));
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
}

/** `clients` concurrent loops of `each` sequential requests; returns the status counts. */
async function load(url: string, clients: number, each: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < each; i++) {
        const s = (await http(url)).status;
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

describe('latency- and load-aware balancers', () => {
  const hits = new Map<string, number>();
  const ups: Upstream[] = [];
  let gw: InProcessGateway;
  before(async () => {
    ups.push(await named('fast-1', hits), await named('fast-2', hits), await named('slow', hits, 400));
    const targets = ups.map((u) => `{ url: "${u.url}" }`).join(', ');
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: rr, targets: [${targets}] }
  - { name: lc, balancer: least-connections, targets: [${targets}] }
  - { name: p2c, balancer: random-two-choices, targets: [${targets}] }
services:
  - { name: rr, upstream: rr, routes: [{ paths: ["/rr"] }] }
  - { name: lc, upstream: lc, routes: [{ paths: ["/lc"] }] }
  - { name: p2c, upstream: p2c, routes: [{ paths: ["/p2c"] }] }
`);
  });
  after(async () => {
    await gw.close();
    for (const u of ups) await u.close();
  });

  test('round-robin gives the slow target its full third (the baseline)', async () => {
    hits.clear();
    const statuses = await load(gw.url + '/rr', 6, 10);
    assert.deepEqual([...statuses], [[200, 60]]);
    assert.equal(hits.get('slow'), 20);
  });

  test('least-connections sends the slow target far fewer requests than the fast ones', async () => {
    hits.clear();
    const statuses = await load(gw.url + '/lc', 6, 15);
    assert.deepEqual([...statuses], [[200, 90]]);
    const slow = hits.get('slow') ?? 0;
    assert.ok(slow <= 15, `slow target got ${slow} of 90 (round-robin: 30)`);
    assert.ok((hits.get('fast-1') ?? 0) > 2 * slow && (hits.get('fast-2') ?? 0) > 2 * slow, JSON.stringify([...hits]));
  });

  test('P2C peak-EWMA learns the slow target is slow and mostly avoids it, even one request at a time', async () => {
    hits.clear();
    const statuses = await load(gw.url + '/p2c', 1, 60);
    assert.deepEqual([...statuses], [[200, 60]]);
    const slow = hits.get('slow') ?? 0;
    assert.ok(slow <= 8, `slow target got ${slow} of 60 (round-robin: 20)`);
    // Each fast target wins at least the pairs it is drawn with the slow one (a third of the
    // draws, ~20 of 60): how the pairs of the two fast ones split follows their latency noise.
    assert.ok((hits.get('fast-1') ?? 0) >= 8 && (hits.get('fast-2') ?? 0) >= 8, `both fast targets share the load: ${JSON.stringify([...hits])}`);
    hits.clear();
    await load(gw.url + '/p2c', 6, 10);
    assert.ok((hits.get('slow') ?? 0) <= 10, `under concurrency too: ${JSON.stringify([...hits])}`);
  });
});

describe('consistent-hash', () => {
  const hits = new Map<string, number>();
  const ups: Upstream[] = [];
  const states = [{ failing: false }, { failing: false }, { failing: false }, { failing: false }];
  let gw: InProcessGateway;
  before(async () => {
    for (let i = 0; i < 4; i++) ups.push(await named(`t${i}`, hits, 0, states[i]));
    const targets = ups.map((u) => `{ url: "${u.url}" }`).join(', ');
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - name: by-header
    balancer: { algorithm: consistent-hash, hash_on: header, name: X-User }
    targets: [${targets}]
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 1h } }
  - { name: by-cookie, balancer: { algorithm: consistent-hash, hash_on: cookie, name: session }, targets: [${targets}] }
  - { name: by-query, balancer: { algorithm: consistent-hash, hash_on: query_arg, name: user }, targets: [${targets}] }
  - { name: by-path, balancer: { algorithm: consistent-hash, hash_on: path }, targets: [${targets}] }
services:
  - { name: header, upstream: by-header, routes: [{ paths: ["/h"] }] }
  - { name: cookie, upstream: by-cookie, routes: [{ paths: ["/c"] }] }
  - { name: query, upstream: by-query, routes: [{ paths: ["/q"] }] }
  - { name: path, upstream: by-path, routes: [{ paths: ["/p"] }] }
`);
  });
  after(async () => {
    await gw.close();
    for (const u of ups) await u.close();
  });

  const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);

  async function owners(get: (user: string) => Promise<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const u of users) out.set(u, await get(u));
    return out;
  }

  test('the same key lands on the same target across requests; keys spread over the targets', async () => {
    const readers: Array<(u: string) => Promise<string>> = [
      async (u) => (await http(gw.url + '/h', { headers: { 'x-user': u } })).body,
      async (u) => (await http(gw.url + '/c', { headers: { cookie: `theme=dark; session=${u}` } })).body,
      async (u) => (await http(`${gw.url}/q?lang=en&user=${u}`)).body,
      async (u) => (await http(`${gw.url}/p/${u}`)).body,
    ];
    for (const read of readers) {
      const first = await owners(read);
      const second = await owners(read);
      assert.deepEqual(second, first);
      assert.ok(new Set(first.values()).size >= 3, `24 keys use several targets: ${JSON.stringify([...first])}`);
    }
  });

  test('a request without the key is spread round-robin', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await http(gw.url + '/h')).body);
    assert.equal(seen.size, 4);
  });

  test('an ejected target is skipped for the next one in the table: only its keys move, and they stay put', async () => {
    const read = async (u: string) => (await http(gw.url + '/h', { headers: { 'x-user': u } })).body;
    const before = await owners(read);
    const victim = before.get('user-0')!;
    states[Number(victim.slice(1))]!.failing = true;
    assert.equal((await http(gw.url + '/h', { headers: { 'x-user': 'user-0' } })).status, 500, 'the failure that ejects it');
    const during = await owners(read);
    const again = await owners(read);
    assert.deepEqual(again, during, 'moved keys are stable too');
    for (const [u, t] of before) {
      if (t === victim) assert.notEqual(during.get(u), victim, `${u} left the ejected target`);
      else assert.equal(during.get(u), t, `${u} did not move`);
    }
    assert.equal(gw.gateway.targets().filter((t) => !t.healthy && t.upstream === 'by-header').length, 1);
  });
});
