// `request-mirror` with several mirrors (`mirrors:`, the Gateway API's several RequestMirror
// filters on one rule), on real sockets: each mirror gets its copies, counted where they
// arrive; each draws its own share; a dead mirror's copies are dropped and counted under its
// name while the others and every client are served as if it were not there. WebSocket
// upgrades are never copied, with one mirror or several.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { configProblems } from '../helpers/config.js';
import { DEAD_PORT, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { recorder, until, type Recorder } from '../helpers/recorder.js';

describe('request-mirror with several mirrors', () => {
  let upstream: Recorder;
  let a: Recorder;
  let b: Recorder;
  let c: Recorder;
  let gw: InProcessGateway;
  let client: Pool;
  const deadUrl = `http://127.0.0.1:${DEAD_PORT}`;
  /** Drops by `route:mirror:reason`. */
  const drops = new Map<string, number>();
  const onDrop = (m: unknown) => {
    const { ctx, reason, mirror } = m as { ctx: { route: { name: string } }; reason: string; mirror: string };
    const k = `${ctx.route.name}:${mirror}:${reason}`;
    drops.set(k, (drops.get(k) ?? 0) + 1);
  };
  const dropped = (k: string) => drops.get(k) ?? 0;
  const droppedOn = (route: string) => [...drops].filter(([k]) => k.startsWith(`${route}:`)).reduce((n, [, v]) => n + v, 0);

  before(async () => {
    subscribe('northgate:mirror:dropped', onDrop);
    upstream = await recorder();
    a = await recorder();
    b = await recorder();
    c = await recorder();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: shadow-b, targets: [{ url: "${b.url}" }] }
services:
  - name: s
    url: "${upstream.url}"
    routes:
      - name: all
        paths: ["/all"]
        plugins: { request-mirror: { mirrors: [{ url: "${a.url}" }, { upstream: shadow-b }, { url: "${c.url}" }] } }
      - name: shares
        paths: ["/shares"]
        plugins: { request-mirror: { mirrors: [{ url: "${a.url}", percent: 100 }, { upstream: shadow-b, percent: 0 }, { url: "${c.url}", percent: 50 }] } }
      - name: dead
        paths: ["/dead"]
        plugins: { request-mirror: { timeout: 2s, mirrors: [{ url: "${deadUrl}" }, { url: "${a.url}" }, { upstream: shadow-b }] } }
      - name: bodies
        paths: ["/bodies"]
        plugins: { request-mirror: { max_body_bytes: 8, mirrors: [{ url: "${a.url}" }, { url: "${b.url}", larger_bodies: head }, { url: "${c.url}", max_body_bytes: 100 }] } }
`);
    client = new Pool(gw.url, { connections: 8 });
  });
  after(async () => {
    unsubscribe('northgate:mirror:dropped', onDrop);
    await client.close();
    await gw.close();
    for (const s of [upstream, a, b, c]) await s.close();
  });

  async function send(path: string, body?: string): Promise<{ status: number; body: string }> {
    const r = await client.request({ path, method: body === undefined ? 'GET' : 'POST', body });
    return { status: r.statusCode, body: await r.body.text() };
  }

  const clear = () => [upstream, a, b, c].forEach((s) => (s.seen.length = 0));

  test('each mirror gets a copy of every request, the request as the upstream got it, with its own Host', async () => {
    clear();
    const n = 20;
    for (let i = 0; i < n; i++) assert.deepEqual(await send(`/all/${i}?q=${i}`, i % 2 === 0 ? `body-${i}` : undefined), { status: 200, body: 'ok' });
    await until(() => a.seen.length === n && b.seen.length === n && c.seen.length === n, () => `copies: ${a.seen.length}, ${b.seen.length}, ${c.seen.length} of ${n}`);
    assert.equal(upstream.seen.length, n);
    const sent = upstream.seen.map((s) => [s.method, s.url, s.body]).sort();
    for (const m of [a, b, c]) {
      assert.deepEqual(m.seen.map((s) => [s.method, s.url, s.body]).sort(), sent);
      assert.ok(m.seen.every((s) => s.host === new URL(m.url).host));
    }
    assert.equal(droppedOn('all'), 0);
  });

  test('each mirror draws its own share: 100% gets every request, 0% none, 50% about half', async () => {
    clear();
    const n = 200;
    for (let i = 0; i < n; i++) assert.equal((await send(`/shares/${i}`)).status, 200);
    await until(() => a.seen.length === n, () => `copies at the 100% mirror: ${a.seen.length} of ${n}`);
    // The 50% mirror's copies of the same requests left in the same turns as the 100% one's.
    await until(() => upstream.seen.length === n, () => `requests upstream: ${upstream.seen.length}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(b.seen.length, 0);
    // Binomial(200, 0.5): 100 ± 7; 60..140 is more than 5 standard deviations either way.
    assert.ok(c.seen.length >= 60 && c.seen.length <= 140, `copies at the 50% mirror: ${c.seen.length} of ${n}`);
    assert.equal(droppedOn('shares'), 0);
  });

  test('a dead mirror costs the others nothing: every client answered, every copy to the live mirrors, its failures counted under its name', async () => {
    clear();
    const n = 30;
    for (let i = 0; i < n; i++) assert.deepEqual(await send(`/dead/${i}`, `x${i}`), { status: 200, body: 'ok' });
    assert.equal(upstream.seen.length, n);
    await until(() => a.seen.length === n && b.seen.length === n, () => `copies to the live mirrors: ${a.seen.length}, ${b.seen.length} of ${n}`);
    // Refused at first, then ejected by passive health: every copy of the dead one is counted, as error or unavailable.
    await until(() => dropped(`dead:${deadUrl}:error`) + dropped(`dead:${deadUrl}:unavailable`) === n, () => `dead mirror's drops: ${JSON.stringify([...drops])}`);
    assert.ok(dropped(`dead:${deadUrl}:error`) >= 1);
    assert.equal(droppedOn('dead'), n, JSON.stringify([...drops]));
  });

  test('bodies: read once, each mirror applies its own max_body_bytes and larger_bodies', async () => {
    clear();
    const before = [dropped(`bodies:${a.url}:body`), dropped(`bodies:${b.url}:body`)];
    // 20 bytes: over a's and b's 8 (a skips it, b gets the head alone), within c's 100.
    assert.deepEqual(await send('/bodies/big', 'y'.repeat(20)), { status: 200, body: 'ok' });
    await until(() => b.seen.length === 1 && c.seen.length === 1, () => `copies: b ${b.seen.length}, c ${c.seen.length}`);
    assert.equal(upstream.seen[0]!.body, 'y'.repeat(20));
    assert.deepEqual([b.seen[0]!.method, b.seen[0]!.body], ['POST', '']);
    assert.equal(c.seen[0]!.body, 'y'.repeat(20));
    assert.equal(dropped(`bodies:${a.url}:body`), before[0]! + 1);
    assert.equal(a.seen.length, 0);
    // 4 bytes fit every mirror's bound.
    assert.deepEqual(await send('/bodies/small', 'zzzz'), { status: 200, body: 'ok' });
    await until(() => a.seen.length === 1 && b.seen.length === 2 && c.seen.length === 2, () => `copies: a ${a.seen.length}, b ${b.seen.length}, c ${c.seen.length}`);
    assert.deepEqual([a.seen[0]!.body, b.seen[1]!.body, c.seen[1]!.body], ['zzzz', 'zzzz', 'zzzz']);
  });

  test('config errors: both a mirror and mirrors, an item without a destination or with an unknown upstream, located in the list', () => {
    const doc = (mirror: string) => `_format_version: "1"
upstreams:
  - { name: shadow, targets: [{ url: "http://127.0.0.1:1" }] }
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths: ["/"]
        plugins:
          request-mirror: ${mirror}
`;
    const problems = (mirror: string) => configProblems(doc(mirror), 't.yaml').join('\n');
    assert.equal(problems('{ mirrors: [{ upstream: shadow }, { url: "http://m:1", percent: 5 }] }'), '');
    assert.equal(problems('{ percent: 10, timeout: 1s, mirrors: [{ upstream: shadow }] }'), '');
    assert.match(problems('{ upstream: shadow, mirrors: [{ url: "http://m:1" }] }'), /request-mirror: names its mirrors either with "url"\/"upstream" or with "mirrors", not both/);
    assert.match(problems('{ mirrors: [{ url: "http://m:1" }, { percent: 5 }] }'), /request-mirror\.mirrors\[1\]: needs exactly one of "url" \(an origin\) or "upstream"/);
    assert.match(problems('{ mirrors: [{ upstream: shadw }] }'), /^t\.yaml:\d+:\d+ services\[0\]\.routes\[0\]\.plugins\.request-mirror\.mirrors\[0\]\.upstream: no upstream named "shadw" \(did you mean "shadow"\?\)$/);
    assert.match(problems('{ mirrors: [] }'), /request-mirror\.mirrors/);
    assert.match(problems('{ mirrors: [{ url: "http://m:1", weight: 2 }] }'), /request-mirror\.mirrors\[0\]/);
  });
});

describe('request-mirror and WebSocket upgrades', () => {
  let upstream: Upstream;
  let wss: WebSocketServer;
  let m1: Recorder;
  let m2: Recorder;
  let gw: InProcessGateway;
  before(async () => {
    upstream = await startUpstream((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ noServer: true });
    upstream.server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(`echo:${d.toString()}`))));
    m1 = await recorder();
    m2 = await recorder();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes:
      - { name: one, paths: ["/one"], plugins: { request-mirror: { url: "${m1.url}" } } }
      - { name: many, paths: ["/many"], plugins: { request-mirror: { mirrors: [{ url: "${m1.url}" }, { url: "${m2.url}" }] } } }
`);
  });
  after(async () => {
    wss.close();
    await gw.close();
    for (const s of [upstream, m1, m2]) await s.close();
  });

  for (const route of ['one', 'many']) {
    test(`${route} mirror(s): the tunnel works and is not copied; a plain request after it is`, async () => {
      m1.seen.length = 0;
      m2.seen.length = 0;
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/${route}/socket`);
      await once(ws, 'open');
      ws.send('hi');
      assert.equal(String((await once(ws, 'message'))[0]), 'echo:hi');
      ws.close();
      await once(ws, 'close');
      const r = await fetch(`${gw.url}/${route}/after`);
      assert.deepEqual([r.status, await r.text()], [200, 'plain']);
      const mirrors = route === 'one' ? [m1] : [m1, m2];
      // Copies leave in order: once the later request's copy is in, an earlier one would be too.
      await until(() => mirrors.every((m) => m.seen.length >= 1), () => `copies: ${mirrors.map((m) => m.seen.length).join(', ')}`);
      for (const m of mirrors) assert.deepEqual(m.seen.map((x) => x.url), [`/${route}/after`]);
    });
  }
});
