// `npm run bench -- --scenario edge`: what the edge plugins cost. One northgate process,
// routes to the same upstream: no plugins, cors (simple GET with an allowed Origin),
// ip-restriction (allow 127.0.0.0/8), request-size-limit. Every request carries the same
// Origin header so that only the plugin differs. Measured in interleaved rounds.
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface EdgeOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Edge plugins cost (northgate, 1 process, access log on)';
const ORIGIN = 'https://app.example.com';

function edgeConfig(port: number, statusPort: number, upstreamPort: number): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: plain, paths: ["=/plain"] }
      - name: cors
        paths: ["=/cors"]
        plugins:
          cors: { origins: ["https://www.example.net", "https://*.example.com"], credentials: true, exposed_headers: [x-request-id] }
      - { name: ip, paths: ["=/ip"], plugins: { ip-restriction: { allow: ["127.0.0.0/8"] } } }
      - { name: size, paths: ["=/size"], plugins: { request-size-limit: { max_bytes: 65536 } } }
`;
}

export async function runEdge(ctx: Ctx, loader: Loader, up: Upstream, o: EdgeOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const ng = await startNorthgate(ctx, 'northgate-edge', (p, s) => edgeConfig(p, s, up.port), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const headers = { origin: ORIGIN };
  const cases = [
    { name: 'no plugins', url: `${base}/plain`, runs: [] as LoadResult[] },
    { name: 'cors (GET with Origin)', url: `${base}/cors`, runs: [] as LoadResult[] },
    { name: 'ip-restriction (allow)', url: `${base}/ip`, runs: [] as LoadResult[] },
    { name: 'request-size-limit', url: `${base}/size`, runs: [] as LoadResult[] },
  ];
  try {
    o.say('\nedge scenario: one northgate, a route without plugins vs the same route with each edge plugin');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        if (o.warmupS > 0) await loader.run({ url: c.url, connections: o.connections, durationS: o.warmupS, headers });
        const r = await loader.run({ url: c.url, connections: o.connections, durationS: o.durationS, headers });
        c.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(24)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    await ng.child.stop();
  }
  const out = [TITLE, '', '| route | req/s | × no plugins | cost | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|'];
  const rpsOf = (c: (typeof cases)[number]) => median(c.runs.filter((r) => !r.failure && r.requests > 0).map((r) => r.rps));
  const plain = rpsOf(cases[0]!);
  for (const c of cases) {
    const good = c.runs.filter((r) => !r.failure && r.requests > 0);
    const ratio = rpsOf(c) / plain;
    const cost = c === cases[0] ? '–' : `${((1 - ratio) * 100).toFixed(1)}%`;
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    out.push(`| ${c.name} | ${fmtInt(rpsOf(c))} | ${ratio.toFixed(3)} | ${cost} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push(
    '',
    `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per route, each after a ${o.warmupS} s warm-up; every request sends \`Origin: ${ORIGIN}\` (allowed by the cors route's wildcard). Differences of a few percent are within run-to-run noise at 1 round.`,
  );
  return out;
}
