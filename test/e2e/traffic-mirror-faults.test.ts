// `request-mirror` and `fault-injection` against real upstreams and mirrors on loopback,
// over HTTP/1.1 and h2c. Shares are checked by counts with a tolerance of five standard
// deviations of the binomial; a delay is seen on its event, never on a clock; a slow or dead
// mirror must cost the client nothing: every response arrives from the upstream, the
// upstream gets every request whole, and what the mirror missed is counted by reason.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect } from 'node:http2';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { configProblems } from '../helpers/config.js';
import { startGateway, type InProcessGateway, DEAD_PORT } from '../helpers/servers.js';
import { recorder, until, type Recorder, type Seen } from '../helpers/recorder.js';

/** Whether `count` of `n` draws is within five standard deviations of share `p`. */
function plausible(count: number, n: number, p: number): boolean {
  return Math.abs(count - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
}

/** Counts messages on a diagnostics channel by `key(message)`. */
function counter(name: string, key: (m: { reason?: string; kind?: string; ctx: { route: { name: string } | null } }) => string): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>();
  const on = (m: unknown) => {
    const k = key(m as never);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  subscribe(name, on);
  return { counts, stop: () => unsubscribe(name, on) };
}

describe('request-mirror and fault-injection', () => {
  let upstream: Recorder;
  let mirror: Recorder;
  let slow: Recorder;
  let deadUrl: string;
  let gw: InProcessGateway;
  let client: Pool;
  let config = '';
  const drops = counter('northgate:mirror:dropped', (m) => `${m.ctx.route!.name}:${m.reason!}`);
  const faults = counter('northgate:fault:injected', (m) => `${m.ctx.route!.name}:${m.kind!}`);

  before(async () => {
    upstream = await recorder({ reply: 'from upstream' });
    mirror = await recorder();
    slow = await recorder({ hold: true });
    // A port nobody listens on: bound, then closed.
    deadUrl = `http://127.0.0.1:${DEAD_PORT}`;
    const route = (name: string, plugins: string) => `      - { name: ${name}, paths: ["/${name}"], plugins: { ${plugins} } }`;
    config = `
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes:
${route('mirrored', `request-mirror: { url: "${mirror.url}", max_body_bytes: 1024 }`)}
${route('head-only', `request-mirror: { url: "${mirror.url}", max_body_bytes: 16, larger_bodies: head }`)}
${route('sampled', `request-mirror: { url: "${mirror.url}", percent: 30 }`)}
${route('slow', `request-mirror: { url: "${slow.url}", max_in_flight: 4, timeout: 2s }`)}
${route('dead', `request-mirror: { url: "${deadUrl}" }`)}
${route('rewritten', `request-mirror: { url: "${mirror.url}" }, rewrite: { path: { replace_prefix: /v2 } }, headers: { request: { set: { x-team: blue } } }`)}
${route('abort', 'fault-injection: { abort: { status: 503, percent: 40 } }')}
${route('abort-body', 'fault-injection: { abort: { status: 418, percent: 100, body: "no tea" } }')}
${route('delay', 'fault-injection: { delay: { duration: 1ms, percent: 25 } }')}
${route('both', 'fault-injection: { delay: { duration: 1ms, percent: 50 }, abort: { status: 500, percent: 50 } }')}
${route('leave', 'fault-injection: { delay: { duration: 300ms, percent: 100 } }')}
${route('never', 'fault-injection: { abort: { status: 503, percent: 0 }, delay: { duration: 1s, percent: 0 } }')}
`;
    gw = await startGateway(config);
    client = new Pool(gw.url, { connections: 8 });
  });
  after(async () => {
    drops.stop();
    faults.stop();
    await client.close();
    await gw.close();
    slow.release();
    for (const s of [upstream, mirror, slow]) await s.close();
  });

  async function send(path: string, opts: { method?: string; body?: string | string[] } = {}): Promise<{ status: number; body: string }> {
    // A list is sent as a stream of chunks: no Content-Length, chunked on the wire.
    const body = Array.isArray(opts.body) ? Readable.from(opts.body.map((b) => Buffer.from(b))) : opts.body;
    const r = await client.request({ path, method: (opts.method ?? (body === undefined ? 'GET' : 'POST')) as 'GET', body });
    return { status: r.statusCode, body: await r.body.text() };
  }

  test('a copy of each request goes to the mirror: method, path, query, headers and body; the mirror\'s own Host', async () => {
    upstream.seen.length = 0;
    mirror.seen.length = 0;
    for (let i = 0; i < 20; i++) assert.deepEqual(await send(`/mirrored/${i}?q=${i}`, { method: i % 2 === 0 ? 'PUT' : 'GET', ...(i % 2 === 0 ? { body: `body-${i}` } : {}) }), { status: 200, body: 'from upstream' });
    // Chunked (no Content-Length) bodies under the limit are copied too.
    assert.equal((await send('/mirrored/chunked', { body: ['a'.repeat(300), 'b'.repeat(300)] })).status, 200);
    await until(() => mirror.seen.length === 21, `the mirror got ${mirror.seen.length} of 21 copies`);
    assert.equal(upstream.seen.length, 21);
    const byUrl = (list: Seen[]) => new Map(list.map((s) => [s.url, s]));
    const got = byUrl(mirror.seen);
    for (const u of upstream.seen) {
      const m = got.get(u.url);
      assert.ok(m, `no copy of ${u.url}`);
      assert.deepEqual([m.method, m.body, m.headers['x-request-id']], [u.method, u.body, u.headers['x-request-id']], u.url);
      assert.equal(m.host, new URL(mirror.url).host);
    }
    assert.equal(got.get('/mirrored/chunked')!.body, 'a'.repeat(300) + 'b'.repeat(300));
    // The copy is the request as the upstream gets it, after the other plugins' edits.
    mirror.seen.length = 0;
    assert.equal((await send('/rewritten/x?y=1')).status, 200);
    await until(() => mirror.seen.length === 1, 'copy of the rewritten request');
    assert.equal(mirror.seen[0]!.url, '/v2/x?y=1');
    assert.equal(mirror.seen[0]!.headers['x-team'], 'blue');
  });

  test('bodies over max_body_bytes reach the upstream whole; the mirror gets nothing (skip, counted) or the head alone', async () => {
    upstream.seen.length = 0;
    mirror.seen.length = 0;
    const big = 'x'.repeat(5000);
    assert.equal((await send('/mirrored/big', { body: big })).status, 200);
    assert.equal((await send('/mirrored/big-chunked', { body: [big, big] })).status, 200);
    assert.equal((await send('/head-only/big', { body: big })).status, 200);
    assert.equal((await send('/head-only/big-chunked', { body: ['0123456789', big] })).status, 200);
    await until(() => mirror.seen.length === 2, `head-only copies: ${mirror.seen.length}`);
    assert.deepEqual(upstream.seen.map((s) => [s.url, s.body.length]), [['/mirrored/big', 5000], ['/mirrored/big-chunked', 10000], ['/head-only/big', 5000], ['/head-only/big-chunked', 5010]]);
    assert.deepEqual(mirror.seen.map((s) => [s.method, s.url, s.body]).sort(), [['POST', '/head-only/big', ''], ['POST', '/head-only/big-chunked', '']]);
    assert.equal(drops.counts.get('mirrored:body'), 2);
  });

  test('percent: the share of requests copied follows it (counts, five standard deviations)', async () => {
    mirror.seen.length = 0;
    const n = 2000;
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < n; i += 8) assert.equal((await send(`/sampled/${i}`)).status, 200);
    }));
    await new Promise((r) => setTimeout(r, 200));
    await until(() => mirror.seen.length > 0, 'some copies');
    const copies = mirror.seen.length;
    assert.ok(plausible(copies, n, 0.3), `${copies} of ${n} copied at 30%`);
  });

  test('a slow mirror costs the client nothing: answers arrive, the upstream gets everything, copies past max_in_flight are dropped, held ones time out', async () => {
    upstream.seen.length = 0;
    const before = { overloaded: drops.counts.get('slow:overloaded') ?? 0, timeout: drops.counts.get('slow:timeout') ?? 0 };
    const bodies = Array.from({ length: 20 }, (_, i) => `payload-${i}-` + 'y'.repeat(500));
    for (let i = 0; i < 20; i++) assert.deepEqual(await send(`/slow/${i}`, { body: bodies[i]! }), { status: 200, body: 'from upstream' });
    // Over HTTP/2 too.
    const session = connect(gw.url);
    try {
      const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': '/slow/h2', ':method': 'POST' });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (c: Buffer) => (body += c.toString()));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
        s.end('h2-body');
      });
      assert.deepEqual(h2, { status: 200, body: 'from upstream' });
    } finally {
      session.close();
    }
    assert.deepEqual(upstream.seen.map((s) => s.body), [...bodies, 'h2-body']);
    // Four copies were taken by the held mirror; the other 17 found max_in_flight reached.
    assert.equal((drops.counts.get('slow:overloaded') ?? 0) - before.overloaded, 17);
    await until(() => (drops.counts.get('slow:timeout') ?? 0) - before.timeout === 4, 'the four held copies time out');
    assert.equal(slow.seen.length, 4);
    slow.release();
  });

  test('a dead mirror costs the client nothing: every answer arrives, every failed copy is counted; once ejected, copies are not tried', async () => {
    upstream.seen.length = 0;
    const count = (reason: string) => drops.counts.get(`dead:${reason}`) ?? 0;
    const before = { error: count('error'), unavailable: count('unavailable') };
    for (let i = 0; i < 10; i++) assert.deepEqual(await send(`/dead/${i}`, { body: `d${i}` }), { status: 200, body: 'from upstream' });
    assert.deepEqual(upstream.seen.map((s) => s.body), Array.from({ length: 10 }, (_, i) => `d${i}`));
    const failed = () => count('error') - before.error + count('unavailable') - before.unavailable;
    await until(() => failed() === 10, `failed copies counted: ${failed()}`);
    // Passive health: five consecutive failures eject the mirror's one target (healthcheck defaults), then copies find none.
    assert.ok(count('error') - before.error >= 5, `copies that failed: ${count('error') - before.error}`);
    assert.ok(count('unavailable') - before.unavailable >= 1, `copies not tried: ${count('unavailable') - before.unavailable}`);
  });

  test('abort: the share of requests answered with the configured status follows percent, the upstream never sees them', async () => {
    upstream.seen.length = 0;
    const n = 3000;
    const statuses = new Map<number, number>();
    let problem = '';
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < n; i += 8) {
        const r = await send(`/abort/${i}`);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 503) problem = r.body;
      }
    }));
    const aborted = statuses.get(503) ?? 0;
    assert.equal(aborted + (statuses.get(200) ?? 0), n);
    assert.ok(plausible(aborted, n, 0.4), `${aborted} of ${n} aborted at 40%`);
    assert.equal(upstream.seen.length, n - aborted);
    assert.equal(faults.counts.get('abort:abort'), aborted);
    assert.equal((JSON.parse(problem) as { type: string; status: number }).type, 'urn:northgate:problem:fault-injected');
    assert.deepEqual(await send('/abort-body/x'), { status: 418, body: 'no tea' });
    // The same over HTTP/2.
    const session = connect(gw.url);
    try {
      const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': '/abort-body/h2' });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.on('data', (c: Buffer) => (body += c.toString()));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
      });
      assert.deepEqual(h2, { status: 418, body: 'no tea' });
    } finally {
      session.close();
    }
  });

  test('delay: the share of delayed requests follows percent (seen on the event); delay then abort draw independently', async () => {
    const n = 2000;
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < n; i += 8) assert.equal((await send(`/delay/${i}`)).status, 200);
    }));
    assert.ok(plausible(faults.counts.get('delay:delay') ?? 0, n, 0.25), `${faults.counts.get('delay:delay')} of ${n} delayed at 25%`);
    let aborted = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; i < n; i += 8) if ((await send(`/both/${i}`)).status === 500) aborted++;
    }));
    assert.ok(plausible(faults.counts.get('both:delay') ?? 0, n, 0.5), `${faults.counts.get('both:delay')} delayed at 50%`);
    assert.ok(plausible(aborted, n, 0.5), `${aborted} aborted at 50%`);
    assert.equal(faults.counts.get('both:abort'), aborted);
    for (let i = 0; i < 200; i++) assert.equal((await send('/never/x')).status, 200);
    assert.equal(faults.counts.get('never:abort') ?? 0, 0);
    assert.equal(faults.counts.get('never:delay') ?? 0, 0);
  });

  test('a client that leaves during a delay is not forwarded', async () => {
    upstream.seen.length = 0;
    let ended = false;
    const onEnd = (m: unknown) => {
      if ((m as { path: string }).path === '/leave/x') ended = true;
    };
    subscribe('northgate:request:end', onEnd);
    try {
      const req = client.request({ path: '/leave/x', method: 'GET' }).catch(() => undefined);
      // The client goes away once the gateway has started the delay.
      await until(() => (faults.counts.get('leave:delay') ?? 0) === 1, 'the request was delayed');
      await client.destroy();
      await req;
      await until(() => ended, 'the request ended after its delay');
      assert.equal(upstream.seen.length, 0);
    } finally {
      unsubscribe('northgate:request:end', onEnd);
      client = new Pool(gw.url, { connections: 8 });
    }
  });

  test('reloads: a mirror kept by the new config keeps copying; one the new config drops gets nothing more', async () => {
    mirror.seen.length = 0;
    const kept = gw.reload(config.replace('max_body_bytes: 1024', 'max_body_bytes: 2048'));
    assert.ok(kept.ok, kept.problems?.join('\n'));
    for (let i = 0; i < 5; i++) assert.equal((await send(`/mirrored/after-reload-${i}`, { body: 'z'.repeat(1500) })).status, 200);
    await until(() => mirror.seen.length === 5, `copies after the reload: ${mirror.seen.length}`);
    assert.ok(mirror.seen.every((s) => s.body.length === 1500), 'the new max_body_bytes applies');
    const dropped = gw.reload(config.replace(/request-mirror: \{ url: "[^"]+", max_body_bytes: 1024 \}/, 'headers: { request: { set: { x-m: "0" } } }'));
    assert.ok(dropped.ok, dropped.problems?.join('\n'));
    mirror.seen.length = 0;
    upstream.seen.length = 0;
    for (let i = 0; i < 5; i++) assert.equal((await send(`/mirrored/unmirrored-${i}`)).status, 200);
    // Their copies would have gone out before the probe's (each is sent before its request is forwarded): the probe's copy arriving alone shows none did.
    assert.equal((await send('/rewritten/probe')).status, 200);
    await until(() => mirror.seen.length === 1, 'the probe copy');
    assert.deepEqual(mirror.seen.map((s) => s.url), ['/v2/probe']);
    assert.equal(upstream.seen.length, 6);
    gw.reload(config);
  });

  test('config errors: bad shares, URLs, durations and limits are refused at load', () => {
    const config = (plugin: string) => `_format_version: "1"\nservices:\n  - name: s\n    url: "http://127.0.0.1:1"\n    routes:\n      - paths: ["/"]\n        plugins:\n          ${plugin}\n`;
    const problems = (plugin: string) => configProblems(config(plugin), 't.yaml').join('\n');
    assert.match(problems('request-mirror: { url: "http://m:1", percent: 101 }'), /request-mirror\.percent/);
    assert.match(problems('request-mirror: { url: "ftp://m" }'), /request-mirror\.url: must be an http:\/\/ or https:\/\/ origin/);
    assert.match(problems('request-mirror: { url: "http://m/path" }'), /request-mirror\.url: must be an http:\/\/ or https:\/\/ origin/);
    assert.match(problems('request-mirror: { url: "http://user:pw@m" }'), /request-mirror\.url: must be an http:\/\/ or https:\/\/ origin/);
    assert.match(problems('request-mirror: { url: "http://m", timeout: 2m }'), /request-mirror\.timeout: must be between 10ms and 60s/);
    assert.match(problems('request-mirror: { url: "http://m", max_in_flight: 0 }'), /request-mirror\.max_in_flight/);
    assert.match(problems('request-mirror: { url: "http://m", larger_bodies: stream }'), /request-mirror\.larger_bodies/);
    assert.match(problems('request-mirror: { percent: 5 }'), /request-mirror: needs exactly one of "url" \(an origin\) or "upstream" \(a name from upstreams\)/);
    assert.match(problems('fault-injection: {}'), /fault-injection: needs abort, delay or both/);
    assert.match(problems('fault-injection: { abort: { status: 99, percent: 1 } }'), /fault-injection\.abort\.status/);
    assert.match(problems('fault-injection: { abort: { status: 503, percent: -1 } }'), /fault-injection\.abort\.percent/);
    assert.match(problems('fault-injection: { delay: { duration: soon, percent: 1 } }'), /fault-injection\.delay\.duration: must be a duration/);
    assert.match(problems('fault-injection: { delay: { duration: 61s, percent: 1 } }'), /fault-injection\.delay\.duration: must be at most 60s/);
    assert.match(problems('fault-injection: { delay: { percent: 1 } }'), /missing required key "duration"/);
    assert.match(problems('fault-injection: { abort: { status: 204, percent: 1, body: "x" } }'), /fault-injection\.abort\.body: a 204 response has no body/);
  });
});
