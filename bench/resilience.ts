// `npm run bench -- --scenario resilience`: continuous load over three targets, one of which
// dies in the middle of the run (its HTTP server closes every connection and the port then
// resets every new one). Printed: the share of failed client requests with retries on and
// off, and how long traffic kept reaching the dead target (until passive health ejected it).
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { Loader } from './load.js';
import { fmtInt } from './table.js';
import { northgateMissing, startNorthgate, type Ctx } from './targets.js';

export interface ResilienceOptions {
  durationS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Resilience: one of three targets dies under load (northgate, 1 process, access log off)';
const BODY = JSON.stringify({ ok: true, note: 'a small json body' });

function listen(server: Server | TcpServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

function config(port: number, statusPort: number, targets: number[], retries: boolean): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
access_log: { enabled: false }
upstreams:
  - name: three
    targets: [${targets.map((p) => `{ url: "http://127.0.0.1:${p}" }`).join(', ')}]
    healthcheck: { passive: { consecutive_failures: 3, base_ejection: 30s } }
services:
  - name: svc
    upstream: three
    retries: { attempts: ${retries ? 3 : 1}, on: [connect-failure, reset, timeout] }
    routes: [{ paths: ["/"] }]
`;
}

async function oneRun(ctx: Ctx, loader: Loader, o: ResilienceOptions, retries: boolean) {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
      res.end(BODY);
    });
    s.keepAliveTimeout = 60_000;
    servers.push(s);
    ports.push(await listen(s));
  }
  const ng = await startNorthgate(ctx, `northgate-resilience-${retries ? 'on' : 'off'}`, (p, sp) => config(p, sp, ports, retries), 'ignore');
  if (typeof ng === 'string') {
    for (const s of servers) s.close();
    return ng;
  }
  let killedAt = 0;
  let lastAttempt = 0;
  let attemptsAfter = 0;
  let resetter: TcpServer | null = null;
  const victim = servers[1]!;
  const killTimer = setTimeout(
    () => {
      killedAt = performance.now();
      // The dead process's port: once the server is gone, every new connection is reset
      // (counted, to see when traffic stops reaching it).
      victim.close(() => {
        resetter = createTcpServer((socket) => {
          attemptsAfter++;
          lastAttempt = performance.now();
          socket.resetAndDestroy();
        });
        listen(resetter, ports[1]).catch((err: unknown) => o.say(`  could not take over the dead target's port: ${(err as Error).message}`));
      });
      victim.closeAllConnections();
    },
    (o.durationS * 1000) / 3,
  );
  try {
    const r = await loader.run({ url: `http://127.0.0.1:${ng.port}/`, connections: o.connections, durationS: o.durationS });
    return { r, attemptsAfter, stopMs: lastAttempt === 0 ? 0 : lastAttempt - killedAt };
  } finally {
    clearTimeout(killTimer);
    await ng.child.stop();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    (resetter as TcpServer | null)?.close();
  }
}

export async function runResilience(ctx: Ctx, loader: Loader, o: ResilienceOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const out = [TITLE, '', '| retries | requests | failed (non-2xx + socket errors) | failed share | connections reaching the dead target after it died | traffic stopped reaching it after |', '|---|---:|---:|---:|---:|---:|'];
  for (const retries of [true, false]) {
    o.say(`\nresilience scenario: retries ${retries ? 'on' : 'off'}, target 2 of 3 dies after ${(o.durationS / 3).toFixed(1)} s`);
    const res = await oneRun(ctx, loader, o, retries);
    if (typeof res === 'string') return [TITLE, '', `Skipped: northgate ${res}.`];
    const { r } = res;
    const failed = r.non2xx + r.socketErrors;
    const share = r.requests === 0 ? 0 : (failed / r.requests) * 100;
    out.push(`| ${retries ? 'on (3 attempts)' : 'off'} | ${fmtInt(r.requests)} | ${fmtInt(failed)} | ${share.toFixed(3)}% | ${res.attemptsAfter} | ${res.stopMs.toFixed(0)} ms |`);
  }
  out.push('', `${loader.describe(o.connections)} for ${o.durationS} s per run; passive health ejects a target after 3 consecutive failures (30 s); the goal with retries on is a failed share under 0.1%.`);
  out.push(...(await circuitOpenRun(ctx, loader, o)));
  return out;
}

/**
 * With the service's circuit open (its upstream answered 500 until it opened), every request
 * is refused by the gateway itself: measures that rejection path (goal: p99 under 2 ms) and
 * counts upstream calls during the run (goal: none). A proxied 200 run is the reference.
 */
async function circuitOpenRun(ctx: Ctx, loader: Loader, o: ResilienceOptions): Promise<string[]> {
  let upstreamCalls = 0;
  const failing = createServer((req, res) => {
    if (req.url === '/broken') upstreamCalls++;
    req.resume();
    res.writeHead(req.url === '/ok' ? 200 : 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    res.end(BODY);
  });
  failing.keepAliveTimeout = 60_000;
  const port = await listen(failing);
  const yaml = (p: number, sp: number) => `_format_version: "1"
listen: { proxy: "127.0.0.1:${p}", status: "127.0.0.1:${sp}" }
access_log: { enabled: false }
upstreams:
  - { name: one, targets: [{ url: "http://127.0.0.1:${port}" }], healthcheck: { passive: { consecutive_failures: 0 } } }
services:
  - name: broken
    upstream: one
    retries: { attempts: 1 }
    circuit_breaker: { min_requests: 5, open_for: 10m }
    routes: [{ paths: ["/broken"] }]
  - name: fine
    upstream: one
    routes: [{ paths: ["/ok"] }]
`;
  const ng = await startNorthgate(ctx, 'northgate-circuit-open', yaml, 'ignore');
  if (typeof ng === 'string') {
    failing.close();
    return ['', `Circuit-open run skipped: northgate ${ng}.`];
  }
  try {
    o.say('\nresilience scenario: circuit open (rejections answered by the gateway)');
    for (let i = 0; i < 5; i++) await fetch(`http://127.0.0.1:${ng.port}/broken`).then((r) => r.arrayBuffer());
    const probe = await fetch(`http://127.0.0.1:${ng.port}/broken`);
    await probe.arrayBuffer();
    if (probe.status !== 503) return ['', `Circuit-open run skipped: the circuit did not open (got ${probe.status}).`];
    upstreamCalls = 0;
    // A 2 s warm-up, not counted, as every run of the main table has.
    await loader.run({ url: `http://127.0.0.1:${ng.port}/broken`, connections: o.connections, durationS: 2 });
    const open = await loader.run({ url: `http://127.0.0.1:${ng.port}/broken`, connections: o.connections, durationS: o.durationS });
    // At 1 connection p99 is the latency of one rejection (at 50 it is mostly queueing); as in
    // the main table, the median of 3 runs, so one GC- or machine-stall-heavy run does not decide.
    const oneRuns = [];
    for (let i = 0; i < 3; i++) oneRuns.push(await loader.run({ url: `http://127.0.0.1:${ng.port}/broken`, connections: 1, durationS: Math.min(5, o.durationS) }));
    const byP99 = [...oneRuns].sort((a, b) => a.p99ms - b.p99ms);
    const openOne = byP99[1]!;
    const calls = upstreamCalls;
    const reference = await loader.run({ url: `http://127.0.0.1:${ng.port}/ok`, connections: o.connections, durationS: o.durationS });
    const row = (name: string, r: typeof open, calls: string) => `| ${name} | ${fmtInt(r.rps)} | ${r.p50ms.toFixed(2)} ms | ${r.p99ms.toFixed(2)} ms | ${calls} |`;
    return [
      '',
      '| circuit open: requests to a service whose circuit is open | req/s | p50 | p99 | upstream calls during the run |',
      '|---|---:|---:|---:|---:|',
      row(`503 circuit-open (answered by the gateway), ${o.connections} connections`, open, fmtInt(calls)),
      row('503 circuit-open, 1 connection (run with the median p99 of 3)', openOne, fmtInt(calls)),
      row(`reference: proxied 200 from the same upstream, ${o.connections} connections`, reference, 'all'),
      '',
      `Goal: circuit-open rejections under 2 ms at p99, with no upstream call (counted over both circuit-open runs). ${loader.describe(o.connections)}, ${o.durationS} s per run after a 2 s warm-up at 50 connections; one run each (1 connection: 3 runs, p99s ${oneRuns.map((r) => r.p99ms.toFixed(2)).join(' / ')} ms), same process, in this order.`,
    ];
  } finally {
    await ng.child.stop();
    failing.closeAllConnections();
    failing.close();
  }
}
