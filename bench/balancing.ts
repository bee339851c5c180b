// Part of `--scenario resilience`: three targets, one of them slow (every answer 20 ms
// late), under the same load with round-robin and with random-two-choices (P2C peak-EWMA).
// Printed: the share of requests that reached the slow target, and the client p50/p99.
import { createServer, type Server } from 'node:http';
import type { Loader } from './load.js';
import { fmtInt } from './table.js';
import { northgateMissing, startNorthgate, type Ctx } from './targets.js';

const TITLE = '### Balancing: one of three targets answers 20 ms late (northgate, 1 process, access log off)';
const SLOW_MS = 20;
const BODY = JSON.stringify({ ok: true });

async function target(delayMs: number, hits: { n: number }): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    hits.n++;
    const answer = () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) }).end(BODY);
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

export async function runBalancing(ctx: Ctx, loader: Loader, o: { durationS: number; connections: number; say: (l: string) => void }): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const out = [TITLE, '', '| balancer | requests | req/s | share to the slow target | p50 | p99 |', '|---|---:|---:|---:|---:|---:|'];
  for (const balancer of ['round-robin', 'random-two-choices']) {
    o.say(`\nbalancing scenario: ${balancer}, target 3 of 3 is ${SLOW_MS} ms slow`);
    const hits = [{ n: 0 }, { n: 0 }, { n: 0 }];
    const targets = [await target(0, hits[0]!), await target(0, hits[1]!), await target(SLOW_MS, hits[2]!)];
    const config = (p: number, sp: number) => `_format_version: "1"
listen: { proxy: "127.0.0.1:${p}", status: "127.0.0.1:${sp}" }
access_log: { enabled: false }
upstreams:
  - name: three
    balancer: ${balancer}
    targets: [${targets.map((t) => `{ url: "http://127.0.0.1:${t.port}" }`).join(', ')}]
services:
  - { name: svc, upstream: three, routes: [{ paths: ["/"] }] }
`;
    const ng = await startNorthgate(ctx, `northgate-balancing-${balancer}`, config, 'ignore');
    try {
      if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
      const r = await loader.run({ url: `http://127.0.0.1:${ng.port}/`, connections: o.connections, durationS: o.durationS });
      const total = hits.reduce((s, h) => s + h.n, 0);
      const share = total === 0 ? 0 : (hits[2]!.n / total) * 100;
      out.push(`| ${balancer} | ${fmtInt(r.requests)} | ${fmtInt(r.rps)} | ${share.toFixed(1)}% | ${r.p50ms.toFixed(2)} ms | ${r.p99ms.toFixed(2)} ms |`);
      await ng.child.stop();
    } finally {
      for (const t of targets) {
        t.server.closeAllConnections();
        t.server.close();
      }
    }
  }
  out.push('', `${loader.describe(o.connections)} for ${o.durationS} s per run. Round-robin gives the slow target its third whatever it costs; P2C peak-EWMA sends it a small share.`);
  return out;
}
