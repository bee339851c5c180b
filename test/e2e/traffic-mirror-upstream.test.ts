// `request-mirror` with `upstream: NAME`, and the copy client under it (PluginScope.openCopyClient)
// against mirrors that misbehave, on real sockets. The copies go to the named upstream's
// targets through its balancer; a dead target is ejected by passive health; reloads follow
// the upstream's new targets. Whatever a mirror does (holds, resets, answers garbage, an
// endless or trickling answer), every client request is answered by the upstream, in full,
// while copies past their bounds are dropped and counted by reason.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { configProblems } from '../helpers/config.js';
import type { CheckEnvironment, CopyDropReason, Plugin } from '../../src/sdk/index.js';
import { startGateway, startUpstream, type InProcessGateway } from '../helpers/servers.js';
import { recorder, until, type Recorder } from '../helpers/recorder.js';

/** A TCP server that reads a request head and then does `act` with the socket; counts the heads it got. */
async function rawMirror(act: (socket: Socket) => void): Promise<{ url: string; heads: () => number; close(): Promise<void> }> {
  let heads = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      while (text.includes('\r\n\r\n')) {
        text = text.slice(text.indexOf('\r\n\r\n') + 4);
        heads++;
        act(socket);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    heads: () => heads,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('request-mirror to an upstream, and the copy client', () => {
  let upstream: Recorder;
  let a: Recorder;
  let b: Recorder;
  let c: Recorder;
  let held: Recorder;
  let huge: Recorder;
  let reset: Awaited<ReturnType<typeof rawMirror>>;
  let garbage: Awaited<ReturnType<typeof rawMirror>>;
  let trickle: Awaited<ReturnType<typeof rawMirror>>;
  let hugeConnections = 0;
  let deadUrl: string;
  let gw: InProcessGateway;
  let client: Pool;
  let config: (mirrors: string) => string;
  const drops = new Map<string, number>();
  const onDrop = (m: unknown) => {
    const { ctx, reason } = m as { ctx: { route: { name: string } }; reason: string };
    const k = `${ctx.route.name}:${reason}`;
    drops.set(k, (drops.get(k) ?? 0) + 1);
  };
  const dropped = (k: string) => drops.get(k) ?? 0;

  before(async () => {
    subscribe('northgate:mirror:dropped', onDrop);
    upstream = await recorder();
    a = await recorder();
    b = await recorder();
    c = await recorder();
    held = await recorder({ hold: true });
    // An answer far longer than the gateway reads of a copy's: its connection is closed, the copy counts as delivered.
    huge = await recorder({ answer: (res) => res.end('h'.repeat(1024 * 1024)) });
    huge.server.on('connection', () => hugeConnections++);
    reset = await rawMirror((s) => s.destroy());
    garbage = await rawMirror((s) => s.end('this is not HTTP\r\n\r\n'));
    // A head, then one byte every 50 ms, never the end.
    trickle = await rawMirror((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('x')), 50);
      s.on('close', () => clearInterval(t));
    });
    const dead = await startUpstream(() => undefined);
    deadUrl = dead.url;
    await dead.close();
    const route = (name: string, plugin: string) => `      - { name: ${name}, paths: ["/${name}"], plugins: { request-mirror: { ${plugin} } } }`;
    config = (mirrors: string) => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams:
  - { name: mirrors, targets: [${mirrors}] }
  - { name: half-dead, targets: [{ url: "${a.url}" }, { url: "${deadUrl}" }] }
  - { name: held, targets: [{ url: "${held.url}" }] }
  - { name: huge, targets: [{ url: "${huge.url}" }] }
  - { name: reset, targets: [{ url: "${reset.url}" }] }
  - { name: garbage, targets: [{ url: "${garbage.url}" }] }
  - { name: trickle, targets: [{ url: "${trickle.url}" }] }
services:
  - name: s
    url: "${upstream.url}"
    routes:
${route('balanced', 'upstream: mirrors')}
${route('half-dead', 'upstream: half-dead')}
${route('held', 'upstream: held, max_in_flight: 3, timeout: 2s')}
${route('capped', 'upstream: mirrors, max_body_bytes: 100')}
${route('huge', 'upstream: huge')}
${route('reset', 'upstream: reset')}
${route('garbage', 'upstream: garbage')}
${route('trickle', 'upstream: trickle, timeout: 300ms')}
`;
    gw = await startGateway(config(`{ url: "${a.url}" }, { url: "${b.url}" }`));
    client = new Pool(gw.url, { connections: 8 });
  });
  after(async () => {
    unsubscribe('northgate:mirror:dropped', onDrop);
    await client.close();
    await gw.close();
    held.release();
    for (const s of [upstream, a, b, c, held, huge, reset, garbage, trickle]) await s.close();
  });

  async function send(path: string, body?: string | string[]): Promise<{ status: number; body: string }> {
    const payload = Array.isArray(body) ? Readable.from(body.map((x) => Buffer.from(x))) : body;
    const r = await client.request({ path, method: body === undefined ? 'GET' : 'POST', body: payload });
    return { status: r.statusCode, body: await r.body.text() };
  }

  const clear = () => [upstream, a, b, c].forEach((s) => (s.seen.length = 0));

  test('copies go to the upstream\'s targets through its balancer (round-robin: one each in turn), each with its target\'s Host', async () => {
    clear();
    for (let i = 0; i < 20; i++) assert.deepEqual(await send(`/balanced/${i}?q=${i}`, i % 2 === 0 ? `body-${i}` : undefined), { status: 200, body: 'ok' });
    await until(() => a.seen.length + b.seen.length === 20, () => `copies: ${a.seen.length} + ${b.seen.length} of 20`);
    assert.deepEqual([a.seen.length, b.seen.length], [10, 10]);
    assert.equal(upstream.seen.length, 20);
    const copies = new Map([...a.seen, ...b.seen].map((s) => [s.url, s]));
    for (const u of upstream.seen) assert.deepEqual([copies.get(u.url)?.method, copies.get(u.url)?.body], [u.method, u.body], u.url);
    assert.ok(a.seen.every((s) => s.host === new URL(a.url).host) && b.seen.every((s) => s.host === new URL(b.url).host));
  });

  test('a dead target: its copies fail and are counted until passive health ejects it, then every copy goes to the live one', async () => {
    clear();
    const n = 40;
    for (let i = 0; i < n; i++) assert.deepEqual(await send(`/half-dead/${i}`, `x${i}`), { status: 200, body: 'ok' });
    assert.equal(upstream.seen.length, n);
    await until(() => a.seen.length + dropped('half-dead:error') === n, () => `delivered ${a.seen.length} + failed ${dropped('half-dead:error')} of ${n}`);
    // Without the ejection, round-robin would send the dead target half of them.
    assert.ok(dropped('half-dead:error') >= 5 && dropped('half-dead:error') < n / 2, `failed copies: ${dropped('half-dead:error')}`);
    assert.equal(dropped('half-dead:unavailable'), 0);
    // The ejection outlives reloads: the next copies all go to the live target.
    for (let i = 0; i < 2; i++) {
      const r = gw.reload(config(`{ url: "${a.url}" }, { url: "${b.url}" }`));
      assert.ok(r.ok, r.problems?.join('\n'));
    }
    const errors = dropped('half-dead:error');
    a.seen.length = 0;
    for (let i = 0; i < 10; i++) assert.equal((await send(`/half-dead/after-reload-${i}`)).status, 200);
    await until(() => a.seen.length === 10, () => `copies to the live target after the reload: ${a.seen.length}`);
    assert.equal(dropped('half-dead:error'), errors);
  });

  test('max_in_flight: copies a held mirror keeps count against it; the others are dropped at once; every client is answered; held ones time out', async () => {
    clear();
    const before = { overloaded: dropped('held:overloaded'), timeout: dropped('held:timeout') };
    for (let i = 0; i < 10; i++) assert.deepEqual(await send(`/held/${i}`, `p${i}`), { status: 200, body: 'ok' });
    assert.deepEqual(upstream.seen.map((s) => s.body), Array.from({ length: 10 }, (_, i) => `p${i}`));
    assert.equal(dropped('held:overloaded') - before.overloaded, 7);
    await until(() => held.seen.length === 3, () => `held copies: ${held.seen.length}`);
    await until(() => dropped('held:timeout') - before.timeout === 3, () => `timed out: ${dropped('held:timeout') - before.timeout}`);
    held.release();
    // Once they timed out the bound is free again.
    assert.deepEqual(await send('/held/after'), { status: 200, body: 'ok' });
    await until(() => held.seen.length === 4, () => `held copies: ${held.seen.length}`);
    held.release();
  });

  test('the body cap: a body of max_body_bytes is copied, one byte more is not (known length or chunked), and the upstream gets each whole', async () => {
    clear();
    const before = dropped('capped:body');
    assert.equal((await send('/capped/at', 'a'.repeat(100))).status, 200);
    assert.equal((await send('/capped/over', 'b'.repeat(101))).status, 200);
    assert.equal((await send('/capped/over-chunked', ['c'.repeat(60), 'c'.repeat(41)])).status, 200);
    assert.equal((await send('/capped/probe')).status, 200);
    await until(() => a.seen.length + b.seen.length === 2, () => `copies: ${a.seen.length + b.seen.length}`);
    assert.deepEqual([...a.seen, ...b.seen].map((s) => [s.url, s.body.length]).sort(), [['/capped/at', 100], ['/capped/probe', 0]]);
    assert.deepEqual(upstream.seen.map((s) => s.body.length), [100, 101, 101, 0]);
    assert.equal(dropped('capped:body') - before, 2);
  });

  test('mirrors that reset, answer garbage, answer without end or at length: the client never notices; failures are counted, long answers are cut', async () => {
    clear();
    const before = { reset: dropped('reset:error'), garbage: dropped('garbage:error'), trickle: dropped('trickle:timeout'), huge: [...drops.keys()].filter((k) => k.startsWith('huge:')).length, hugeConnections };
    for (let i = 0; i < 3; i++) {
      for (const route of ['reset', 'garbage', 'trickle', 'huge']) assert.deepEqual(await send(`/${route}/${i}`, `${route}-${i}`), { status: 200, body: 'ok' });
    }
    assert.equal(upstream.seen.length, 12);
    await until(() => dropped('reset:error') - before.reset === 3, () => `reset copies counted: ${dropped('reset:error') - before.reset}`);
    await until(() => dropped('garbage:error') - before.garbage === 3, () => `garbage copies counted: ${dropped('garbage:error') - before.garbage}`);
    await until(() => dropped('trickle:timeout') - before.trickle === 3, () => `trickling copies timed out: ${dropped('trickle:timeout') - before.trickle}`);
    await until(() => huge.seen.length === 3, () => `long-answer copies delivered: ${huge.seen.length}`);
    assert.equal([...drops.keys()].filter((k) => k.startsWith('huge:')).length, before.huge, 'a long answer is not a failed copy');
    // Each long answer was cut by closing its connection: no copy found one to reuse.
    assert.ok(hugeConnections - before.hugeConnections >= 3, `connections: ${hugeConnections - before.hugeConnections}`);
    assert.ok(reset.heads() >= 1 && garbage.heads() >= 1 && trickle.heads() === 3);
  });

  test('reloads: copies follow the upstream\'s new targets; a config naming an unknown upstream is refused and the running one keeps copying', async () => {
    const next = config(`{ url: "${b.url}" }, { url: "${c.url}" }`);
    const r = gw.reload(next);
    assert.ok(r.ok, r.problems?.join('\n'));
    clear();
    for (let i = 0; i < 10; i++) assert.equal((await send(`/balanced/r${i}`)).status, 200);
    await until(() => b.seen.length + c.seen.length === 10, () => `copies after the reload: ${b.seen.length} + ${c.seen.length}`);
    assert.deepEqual([a.seen.length, b.seen.length, c.seen.length], [0, 5, 5]);
    const bad = gw.reload(next.replace('upstream: mirrors }', 'upstream: mirors }'));
    assert.equal(bad.ok, false);
    assert.match(bad.problems!.join('\n'), /test\.yaml:\d+:\d+ services\[0\]\.routes\[0\]\.plugins\.request-mirror\.upstream: no upstream named "mirors" \(did you mean "mirrors"\?\)/);
    clear();
    for (let i = 0; i < 4; i++) assert.equal((await send(`/balanced/kept${i}`)).status, 200);
    await until(() => b.seen.length + c.seen.length === 4, () => `copies after the refused reload: ${b.seen.length + c.seen.length}`);
  });

  test('a plugin of one\'s own sends copies through scope.openCopyClient, and its check sees the config\'s upstreams', async () => {
    const reasons: CopyDropReason[] = [];
    let seen: CheckEnvironment | undefined;
    const shadow: Plugin<{ to: string; max?: number }> = {
      name: 'shadow-all',
      priority: 2,
      schema: { type: 'object', properties: { to: { type: 'string' }, max: { type: 'integer' } }, required: ['to'] },
      check(cfg, env) {
        seen = env;
        return env?.upstream(cfg.to) === undefined ? [{ path: ['to'], message: `no upstream named "${cfg.to}"` }] : [];
      },
      create(cfg, scope) {
        const copies = scope.openCopyClient!({ to: { upstream: cfg.to }, maxInFlight: cfg.max ?? 10, timeoutMs: 1000, maxBodyBytes: 0, onDropped: (reason) => reasons.push(reason) });
        return { upstreamRequest: (ctx) => (ctx.requestBodyLength > 0 ? ctx.readRequestBody(1024).then((body) => copies.send(ctx, body)) : copies.send(ctx, null)) };
      },
    };
    const own = (to: string, extra = '') => `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams: [{ name: shadows, targets: [{ url: "${c.url}" }] }]
services:
  - { name: s, url: "${upstream.url}", routes: [{ name: own, paths: ["/own"], plugins: { shadow-all: { to: ${to}${extra} } } }] }
`;
    const own1 = await startGateway(own('shadows'), [shadow]);
    const pool = new Pool(own1.url);
    try {
      assert.deepEqual(seen?.upstreamNames, ['shadows']);
      c.seen.length = 0;
      assert.equal((await pool.request({ path: '/own/x', method: 'GET' })).statusCode, 200);
      // A body over maxBodyBytes (0 here) is not sent: counted as `body`.
      assert.equal((await pool.request({ path: '/own/y', method: 'POST', body: 'z' })).statusCode, 200);
      await until(() => c.seen.length === 1 && reasons.length === 1, () => `copies: ${c.seen.length}, drops: ${reasons.join()}`);
      assert.deepEqual([c.seen[0]!.url, reasons], ['/own/x', ['body']]);
      const unknown = own1.reload(own('nowhere'));
      assert.match(unknown.problems!.join('\n'), /plugins\.shadow-all\.to: no upstream named "nowhere"/);
      // Options out of range: create() throws, and the reload is refused.
      const range = own1.reload(own('shadows', ', max: 0'));
      assert.equal(range.ok, false);
      assert.match(range.problems!.join('\n'), /maxInFlight must be an integer from 1 to 10000, not 0/);
    } finally {
      await pool.close();
      await own1.close();
    }
  });

  test('config errors: an unknown or gRPC upstream, both or neither of url and upstream, at FILE:LINE:COL', () => {
    const doc = (mirror: string) => `_format_version: "1"
upstreams:
  - { name: shadow, targets: [{ url: "http://127.0.0.1:1" }] }
  - { name: rpc, targets: [{ url: "grpc://127.0.0.1:1" }] }
services:
  - name: s
    url: "http://127.0.0.1:1"
    routes:
      - paths: ["/"]
        plugins:
          request-mirror: ${mirror}
`;
    const problems = (mirror: string) => configProblems(doc(mirror), 't.yaml').join('\n');
    assert.equal(problems('{ upstream: shadow }'), '');
    assert.match(problems('{ upstream: shadw }'), /^t\.yaml:11:\d+ services\[0\]\.routes\[0\]\.plugins\.request-mirror\.upstream: no upstream named "shadw" \(did you mean "shadow"\?\)$/);
    assert.match(problems('{ upstream: rpc }'), /request-mirror\.upstream: upstream "rpc" has grpc targets/);
    assert.match(problems('{ upstream: shadow, url: "http://m:1" }'), /request-mirror: needs exactly one of "url" \(an origin\) or "upstream"/);
    assert.match(problems('{ percent: 5 }'), /request-mirror: needs exactly one of "url" \(an origin\) or "upstream"/);
    assert.match(problems('{ upstream: "" }'), /request-mirror\.upstream/);
  });
});
