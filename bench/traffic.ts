// `npm run bench -- --scenario traffic`: what the traffic plugins cost, one northgate process,
// routes to the same upstream: `plain` (no plugins) and `mirror` (request-mirror at 100% to
// a live mirror: the bench upstream itself, so every request is answered twice). Goal from
// the traffic-management issue: mirroring at 100% costs at most 35% of the plain route.
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface TrafficOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Traffic plugins (northgate, 1 process, access log on)';

function trafficConfig(port: number, statusPort: number, upstreamPort: number): string {
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
services:
  - name: bench
    url: "${upstream}"
    routes:
      - { name: plain, paths: ["=/plain"] }
      - { name: mirror, paths: ["=/mirror"], plugins: { request-mirror: { url: "${upstream}", percent: 100, max_in_flight: 1000 } } }
`;
}

export async function runTraffic(ctx: Ctx, loader: Loader, up: Upstream, o: TrafficOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  let statusPort = 0;
  const ng = await startNorthgate(ctx, 'northgate-traffic', (p, s) => trafficConfig(p, (statusPort = s), up.port), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const targets = [
    { name: 'plain', url: `${base}/plain`, runs: [] as LoadResult[], goal: 1 },
    { name: 'mirror', url: `${base}/mirror`, runs: [] as LoadResult[], goal: 0.65 },
  ];
  let dropped = 'unknown';
  try {
    o.say('\ntraffic scenario: one northgate, a route without plugins / request-mirror at 100% to the upstream');
    for (let round = 1; round <= o.rounds; round++) {
      for (const t of targets) {
        if (o.warmupS > 0) await loader.run({ url: t.url, connections: o.connections, durationS: o.warmupS, headers: {} });
        const r = await loader.run({ url: t.url, connections: o.connections, durationS: o.durationS, headers: {} });
        t.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${t.name.padEnd(8)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
    dropped = await droppedCopies(statusPort);
  } finally {
    await ng.child.stop();
  }
  const out = [TITLE, '', '| target | req/s | × plain | goal | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|'];
  const good = (t: (typeof targets)[number]) => t.runs.filter((r) => !r.failure && r.requests > 0);
  const plain = median(good(targets[0]!).map((r) => r.rps));
  for (const t of targets) {
    const rps = median(good(t).map((r) => r.rps));
    const ratio = rps / plain;
    const goal = t.goal === 1 ? '–' : `≥ ${t.goal.toFixed(2)} ${ratio >= t.goal ? 'met' : '**not met**'}`;
    const errors = `${t.runs.reduce((a, r) => a + r.non2xx, 0)} / ${t.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    out.push(`| ${t.name} | ${fmtInt(rps)} | ${ratio.toFixed(3)} | ${goal} | ${median(good(t).map((r) => r.p50ms)).toFixed(2)} | ${median(good(t).map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push('', `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per target, each after a ${o.warmupS} s warm-up. The mirror is the bench upstream itself (it answers each request twice); copies it could not take are counted in northgate_mirror_dropped_total, not in the errors: ${dropped}.`);
  return out;
}

/** The copies request-mirror did not deliver, from the gateway's /metrics, by reason. */
async function droppedCopies(statusPort: number): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    const counts = [...text.matchAll(/^northgate_mirror_dropped_total\{[^}]*reason="([a-z]+)"[^}]*\} (\d+)$/gm)].map((m) => `${m[2]} ${m[1]}`);
    return counts.length === 0 ? 'none dropped' : `dropped ${counts.join(', ')}`;
  } catch (err) {
    return `metrics not read (${(err as Error).message})`;
  }
}
