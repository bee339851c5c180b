// Life cycle of the real CLI process: hot reload (SIGHUP and --watch), zero failed
// requests across reloads, in-flight requests on the old config, pool reuse, drain on
// SIGTERM, health and readiness, and --workers supervision.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  configText,
  exitCode,
  get,
  isReloadFailed,
  isReloadOk,
  killCli,
  nextLine,
  pollStatus,
  rewriteAndReload,
  simpleConfig,
  startLoad,
  startNamedUpstream,
  stopCli,
  type NamedUpstream,
} from '../helpers/load.js';
import { BIN, http, startCli, writeConfig, type CliGateway } from '../helpers/servers.js';

const upstreamOf = (body: string): string => (JSON.parse(body) as { upstream: string }).upstream;

/** Named upstreams, closed after the test. */
async function upstreams(t: TestContext, ...names: string[]): Promise<NamedUpstream[]> {
  const list: NamedUpstream[] = [];
  for (const n of names) {
    const u = await startNamedUpstream(n);
    t.after(() => u.close());
    list.push(u);
  }
  return list;
}

/** `northgate start` on a config file, killed after the test if still running. */
async function gateway(t: TestContext, text: string, flags: string[] = []): Promise<{ gw: CliGateway; file: string; status: string }> {
  const file = writeConfig(text);
  const gw = await startCli(['--config', file, ...flags]);
  t.after(() => killCli(gw));
  return { gw, file, status: `http://127.0.0.1:${gw.statusPort}` };
}

test('SIGHUP reloads the file; an invalid rewrite is reported and the old config keeps serving', async (t) => {
  const [a, b] = await upstreams(t, 'A', 'B');
  const { gw, file } = await gateway(t, simpleConfig({ a: a!.url }));
  assert.equal(upstreamOf((await get(gw.url, '/a/x')).body), 'A');

  const ok = await rewriteAndReload(gw, file, simpleConfig({ a: b!.url }));
  assert.ok(isReloadOk(ok), JSON.stringify(ok));
  assert.equal(ok['version'], 2);
  assert.equal(ok['routes'], 1);
  assert.equal(ok['trigger'], 'SIGHUP');
  assert.equal(typeof ok['duration_ms'], 'number');
  for (let i = 0; i < 5; i++) {
    const r = await get(gw.url, `/a/${i}`);
    assert.equal(r.status, 200);
    assert.equal(upstreamOf(r.body), 'B');
    assert.equal(JSON.parse(r.body).url, `/${i}`);
  }

  const bad = simpleConfig({ a: a!.url }).replace('"strip_path"', '"strip_pth"');
  const failed = await rewriteAndReload(gw, file, bad);
  assert.ok(isReloadFailed(failed), JSON.stringify(failed));
  const problems = failed['problems'] as string[];
  assert.ok(Array.isArray(problems) && problems.length === 1, JSON.stringify(failed));
  assert.match(problems[0]!, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:[0-9]+:[0-9]+ services\\[0\\]\\.routes\\[0\\]\\.strip_pth: unknown key "strip_pth" \\(did you mean "strip_path"\\?\\)$`));
  const still = await get(gw.url, '/a/still');
  assert.equal(still.status, 200);
  assert.equal(upstreamOf(still.body), 'B');

  // A valid file again: the version continues from the last good one.
  const again = await rewriteAndReload(gw, file, simpleConfig({ a: a!.url }));
  assert.ok(isReloadOk(again));
  assert.equal(again['version'], 3);
  assert.equal(upstreamOf((await get(gw.url, '/a/x')).body), 'A');
  assert.equal(await stopCli(gw), 0);
});

test('--watch reloads when the file is written, without a signal', async (t) => {
  const [a, b] = await upstreams(t, 'A', 'B');
  const { gw, file } = await gateway(t, simpleConfig({ a: a!.url }), ['--watch']);
  assert.equal(upstreamOf((await get(gw.url, '/a')).body), 'A');
  const reloaded = nextLine(gw, isReloadOk);
  writeFileSync(file, simpleConfig({ a: b!.url }));
  const line = await reloaded;
  assert.equal(line['trigger'], 'watch');
  assert.equal(upstreamOf((await get(gw.url, '/a')).body), 'B');
});

test('no request fails across 20 reloads under continuous keep-alive load', async (t) => {
  const [a, b] = await upstreams(t, 'A', 'B');
  // Each reload moves the route to the other upstream, so the previous pool is retired
  // (closed) while requests on it may still be in flight.
  const configs = [simpleConfig({ load: a!.url }), simpleConfig({ load: b!.url })];
  const { gw, file } = await gateway(t, configs[0]!);
  const load = startLoad(gw.url, { path: '/load/x', concurrency: 8, maxRequests: 50_000, maxMs: 60_000, keyOf: upstreamOf });
  t.after(() => load.stop());
  await load.waitForCompleted(50);
  const before = load.completed();
  const RELOADS = 20;
  for (let i = 1; i <= RELOADS; i++) {
    const line = await rewriteAndReload(gw, file, configs[i % 2]!);
    assert.ok(isReloadOk(line), JSON.stringify(line));
    assert.equal(line['version'], i + 1);
    // Let every client get answers from this config before the next reload.
    await load.waitForCompleted(load.completed() + 16);
  }
  const during = load.completed() - before;
  const result = await load.stop();
  t.diagnostic(`${result.sent} requests, ${during} during ${RELOADS} reloads; by upstream ${JSON.stringify(result.keys)}`);
  assert.deepEqual(result.errors, []);
  assert.deepEqual(Object.keys(result.statuses), ['200'], JSON.stringify(result.statuses));
  assert.ok(during >= RELOADS * 16, `only ${during} requests during the reloads`);
  assert.ok((result.keys['A'] ?? 0) > 0 && (result.keys['B'] ?? 0) > 0, JSON.stringify(result.keys));
});

test('an in-flight request finishes on the old config after a reload removes its route', async (t) => {
  const [slow, other] = await upstreams(t, 'slow', 'other');
  const { gw, file } = await gateway(t, simpleConfig({ slow: slow!.url, other: other!.url }));
  const pending = get(gw.url, '/slow/hold');
  await slow!.heldCount(1);
  const line = await rewriteAndReload(gw, file, simpleConfig({ other: other!.url }));
  assert.ok(isReloadOk(line));
  assert.equal((await get(gw.url, '/slow/hold')).status, 404, 'the route is gone for new requests');
  slow!.releaseAll();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(upstreamOf(r.body), 'slow');
  assert.equal((await get(gw.url, '/other/x')).status, 200);
});

test('a reload that changes another service keeps the pool (and connection) of an unchanged upstream', async (t) => {
  const [keep, x, y] = await upstreams(t, 'keep', 'X', 'Y');
  const { gw, file } = await gateway(t, simpleConfig({ keep: keep!.url, change: x!.url }));
  assert.equal((await get(gw.url, '/keep/1')).status, 200);
  assert.equal((await get(gw.url, '/keep/2')).status, 200);
  assert.equal(keep!.connections(), 1);
  const line = await rewriteAndReload(gw, file, simpleConfig({ keep: keep!.url, change: y!.url }));
  assert.ok(isReloadOk(line));
  assert.equal(upstreamOf((await get(gw.url, '/change/1')).body), 'Y');
  assert.equal((await get(gw.url, '/keep/3')).status, 200);
  assert.equal(keep!.connections(), 1, 'the unchanged upstream saw a new connection after the reload');
  assert.equal(new Set(keep!.remotePorts).size, 1, `remote ports ${keep!.remotePorts.join(',')}`);
});

// jose, better-sqlite3 and the located YAML parser are loaded when a config first needs them
// (src/base/lazy-require.ts): a gateway started without them gets them on reload.
test('a reload that brings jwt, a SQLite quota and ${VAR:-default} in loads them and they work', async (t) => {
  const [a] = await upstreams(t, 'A');
  const { gw, file } = await gateway(t, simpleConfig({ a: a!.url }));
  assert.equal((await get(gw.url, '/a/x')).status, 200);

  const secret = 'lazy-loading-test-secret-0123456789';
  const next = `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
consumers:
  - username: app
    credentials: { jwt: [{ key_id: k1, secret: "${secret}", algorithm: HS256 }] }
services:
  - name: svc-a
    url: "${a!.url}"
    plugins: { headers: { response: { set: { x-lazy: "\${NG_LAZY_TEST_UNSET:-from-default}" } } } }
    routes:
      - name: route-a
        paths: ["/a"]
        strip_path: true
        plugins: { jwt: {}, quota: { period: day, max: 5, key: consumer, path: "${join(dirname(file), 'quota.sqlite')}" } }
`;
  const line = await rewriteAndReload(gw, file, next);
  assert.ok(isReloadOk(line), JSON.stringify(line));
  assert.equal((await get(gw.url, '/a/x')).status, 401);
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64({ sub: 'app', exp: Math.floor(Date.now() / 1000) + 300 })}`;
  const token = `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
  const r = await http(`${gw.url}/a/x`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, r.body);
  assert.equal(upstreamOf(r.body), 'A');
  assert.equal(r.headers['x-quota-remaining'], '4');
  assert.equal(r.headers['x-lazy'], 'from-default');
});

test('/healthz and /readyz answer 200 while the gateway runs and is ready', async (t) => {
  const [a] = await upstreams(t, 'A');
  const { gw, status } = await gateway(t, simpleConfig({ a: a!.url }));
  const health = await http(`${status}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
  const ready = await http(`${status}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).status, 'ready');
  assert.equal((await http(`${status}/nope`)).status, 404);
  assert.equal(await stopCli(gw), 0);
});

/** A gateway with one request held at the upstream, then SIGTERM; resolves once the draining line is seen. */
async function drainingGateway(t: TestContext) {
  const [slow] = await upstreams(t, 'slow');
  const { gw, status } = await gateway(t, simpleConfig({ slow: slow!.url }));
  const pending = get(gw.url, '/slow/hold');
  await slow!.heldCount(1);
  const draining = nextLine(gw, (l) => String(l['msg']).startsWith('draining'));
  gw.child.kill('SIGTERM');
  await draining;
  return { gw, status, slow: slow!, pending };
}

test('SIGTERM drains: /readyz 503, no new connections, the in-flight request completes, exit 0', async (t) => {
  const { gw, status, slow, pending } = await drainingGateway(t);
  // The status listener answers only after the signal handler ran, so 503 here also
  // means the proxy listeners are closed by now.
  const ready = await http(`${status}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(JSON.parse(ready.body).draining, true);
  assert.equal((await http(`${status}/healthz`)).status, 200, 'healthz stays 200 while the process lives');
  await assert.rejects(http(`${gw.url}/slow/new`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');

  slow.releaseAll();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(upstreamOf(r.body), 'slow');
  assert.equal(await exitCode(gw), 0);
  const drained = gw.lines.find((l) => l['msg'] === 'drained; exiting');
  assert.equal(drained?.['unfinished'], 0, JSON.stringify(gw.lines.slice(-3)));
});

test(
  'the "draining: no new connections" line is logged only once new connections are refused',
  async (t) => {
    const { gw, slow, pending } = await drainingGateway(t);
    try {
      await assert.rejects(http(`${gw.url}/slow/new`), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
    } finally {
      slow.releaseAll();
      await pending;
    }
  },
);

test('drain_timeout bounds the drain: a request that never finishes does not keep the process alive', async (t) => {
  const [slow] = await upstreams(t, 'slow');
  const { gw } = await gateway(t, simpleConfig({ slow: slow!.url }, { shutdown: { drain_timeout: '500ms' } }));
  const pending = get(gw.url, '/slow/hold').then(
    (r) => `answered ${r.status}`,
    (err: Error) => `failed: ${err.message}`,
  );
  await slow!.heldCount(1);
  assert.equal(await stopCli(gw, 'SIGTERM'), 0);
  const deadline = gw.lines.find((l) => l['msg'] === 'drain deadline passed; exiting');
  assert.equal(deadline?.['unfinished'], 1, JSON.stringify(gw.lines.slice(-3)));
  assert.match(await pending, /^failed/);
});

test('--workers 2: serve, reload both, replace a killed worker, drain on SIGTERM', async (t) => {
  const [a, b] = await upstreams(t, 'A', 'B');
  const { gw, file, status } = await gateway(t, simpleConfig({ a: a!.url }), ['--workers', '2']);
  const start = gw.lines.find((l) => l['type'] === 'start')!;
  assert.equal(start['workers'], 2);
  const masterPid = start['pid'] as number;
  assert.equal(gw.child.pid, masterPid);
  const ready = await http(`${status}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).workers_ready, 2);

  // Worker pids seen in access-log lines; killed after the test in case the master died first.
  const seenPids = new Set<number>();
  t.after(() => {
    for (const pid of seenPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  /** Sends GETs over fresh connections until `n` distinct worker pids (not in `exclude`) answered; every answer must come from `expect`. */
  const workerPids = async (n: number, expect: string, exclude: number[] = []): Promise<Set<number>> => {
    const seen = new Set<number>();
    for (let i = 0; i < 40 && seen.size < n; i++) {
      const r = await get(gw.url, '/a/x');
      assert.equal(r.status, 200, r.body);
      assert.equal(upstreamOf(r.body), expect);
      const access = await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === r.requestId);
      const pid = access['pid'] as number;
      if (pid !== masterPid) seenPids.add(pid);
      if (!exclude.includes(pid)) seen.add(pid);
    }
    assert.equal(seen.size, n, `expected ${n} worker pids, saw ${[...seen].join(',')}`);
    return seen;
  };
  const workers = await workerPids(2, 'A');
  assert.ok(!workers.has(masterPid));

  const line = await rewriteAndReload(gw, file, simpleConfig({ a: b!.url }));
  assert.ok(isReloadOk(line), JSON.stringify(line));
  assert.equal(line['workers'], 2);
  // Every answer comes from B, and both workers gave some of them.
  assert.deepEqual(await workerPids(2, 'B'), workers);

  const victim = [...workers][0]!;
  const exitLine = nextLine(gw, (l) => l['msg'] === 'worker exited unexpectedly; starting a replacement');
  process.kill(victim, 'SIGKILL');
  const exited = await exitLine;
  // One key per field: the master's pid stays `pid`, the worker's is `worker_pid`.
  assert.equal(exited['worker_pid'], victim);
  assert.equal(exited['pid'], masterPid);
  assert.equal(exited['signal'], 'SIGKILL');
  // No line announces the replacement's readiness: poll /readyz (bounded).
  // A replacement worker loads and compiles the whole config: under a loaded CI machine that
  // took over 5 s once (startCli allows 45 s for the same reason), so wait up to 30 s.
  await pollStatus(`${status}/readyz`, 200, 600, 50);
  const replacement = await workerPids(1, 'B', [...workers]);
  assert.ok(!replacement.has(victim));

  assert.equal(await stopCli(gw, 'SIGTERM'), 0);
  assert.ok(gw.lines.some((l) => l['msg'] === 'drained; exiting' && l['pid'] === masterPid), 'the master logs its drain');
});

test('--workers 2: a worker that cannot start stops the master instead of replacing it again and again', async (t) => {
  const [a] = await upstreams(t, 'A');
  // Valid config (the CA path exists), but it is a directory: only compiling finds out, and
  // only workers compile (the master holds no snapshot).
  const file = writeConfig(configText({
    upstreams: [{ name: 'u', targets: [{ url: a!.url.replace('http:', 'https:') }], tls: { ca: dirname(BIN) } }],
    services: [{ name: 'a', upstream: 'u', routes: [{ paths: ['/a'] }] }],
  }));
  const child = spawn(process.execPath, [BIN, 'start', '--config', file, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  t.after(() => {
    clearTimeout(timer);
    child.kill('SIGKILL');
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  // The worker reports why; the master prints it once and exits with the start-failure code
  // (3: the host cannot provide what the config names, docs/operations.md "Exit codes").
  assert.equal(code, 3, `${out}\n${err}`);
  const lines = err.split('\n').filter((l) => l.startsWith('northgate: '));
  assert.equal(lines.length, 1, err);
  assert.match(lines[0]!, /cannot start|EISDIR|directory/i);
  assert.doesNotMatch(err, /^\s+at /m);
  assert.doesNotMatch(out, /starting a replacement/);
});
