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
  return out;
}
