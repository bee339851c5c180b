// `npm run bench -- --scenario routes`:
// (a) northgate throughput with 10 routes vs 10,000 routes (lookup cost should be flat);
// (b) 20 hot reloads (rewrite + SIGHUP) of the 10,000-route config under wrk load.
import { writeFileSync } from 'node:fs';
import type { Loader, LoadResult } from './load.js';
import { onStdoutLines, sleep } from './proc.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type NorthgateProc, type Upstream } from './targets.js';

export interface RoutesOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const RELOADS = 20;
const BIG = 10_000;
const SMALL = 10;

/**
 * n services with one route each: mostly prefixes `/svc/<i>/items`, with every
 * 10th route (i % 10 == 3) an exact path, i % 10 == 7 a param path and
 * i % 10 == 5 also host-bound. The last route (i = n-1, i % 10 == 9) is a prefix.
 * `variant` changes route 0 only, for reloads.
 */
export function routesConfig(n: number, port: number, statusPort: number, upstreamPort: number, variant = 0): string {
  const parts: string[] = [
    '_format_version: "1"',
    'access_log: { enabled: false }',
    `listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }`,
    'services:',
  ];
  for (let i = 0; i < n; i++) {
    let p = `/svc/${i}/items`;
    if (i === 0 && variant > 0) p = `/svc/0/items-v${variant}`;
    else if (i % 10 === 3) p = `=/exact/${i}`;
    else if (i % 10 === 7) p = `/users/:id/${i}`;
    parts.push(
      `  - name: svc-${i}`,
      `    url: "http://127.0.0.1:${upstreamPort}"`,
      '    routes:',
      `      - name: route-${i}`,
      `        paths: ["${p}"]`,
    );
    if (i % 10 === 5) parts.push(`        hosts: ["h${i}.bench.test"]`);
  }
  return `${parts.join('\n')}\n`;
}

interface ReloadEvent {
  ok: boolean;
  durationMs: number;
  routes: number;
  problems: string;
}

function parseReload(line: string): ReloadEvent | null {
  if (!line.includes('config reload')) return null;
  try {
    const j = JSON.parse(line) as { msg?: unknown; duration_ms?: unknown; routes?: unknown; problems?: unknown };
    if (typeof j.msg !== 'string') return null;
    const ok = j.msg === 'config reloaded';
    if (!ok && !j.msg.startsWith('config reload failed')) return null;
    return {
      ok,
      durationMs: typeof j.duration_ms === 'number' ? j.duration_ms : NaN,
      routes: typeof j.routes === 'number' ? j.routes : NaN,
      problems: j.problems === undefined ? '' : JSON.stringify(j.problems).slice(0, 300),
    };
  } catch {
    return null;
  }
}

const TITLE = '### Route table size and hot reload (northgate, 1 process, access log off)';

export async function runRoutes(ctx: Ctx, loader: Loader, up: Upstream, o: RoutesOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) {
    o.say(`  SKIPPED routes scenario: ${missing}`);
    return [TITLE, '', `Skipped: ${missing}.`];
  }
  o.say('\nroutes scenario: starting northgate with 10 and with 10,000 routes');
  const started: { n: number; ng: NorthgateProc; readyS: number; events: ReloadEvent[]; runs: LoadResult[] }[] = [];
  const out: string[] = [TITLE, ''];
  try {
    for (const n of [SMALL, BIG]) {
      const t0 = Date.now();
      const ng = await startNorthgate(ctx, `northgate-${n}-routes`, (p, s) => routesConfig(n, p, s, up.port), 'pipe', 30_000);
      if (typeof ng === 'string') {
        o.say(`  SKIPPED routes scenario: northgate with ${n} routes ${ng}`);
        return [...out, `Skipped: northgate with ${fmtInt(n)} routes ${ng}.`];
      }
      const entry = { n, ng, readyS: (Date.now() - t0) / 1000, events: [] as ReloadEvent[], runs: [] as LoadResult[] };
      onStdoutLines(ng.child, (l) => {
        const e = parseReload(l);
        if (e) entry.events.push(e);
      });
      started.push(entry);
      o.say(`  ${fmtInt(n)} routes: ready after ${entry.readyS.toFixed(1)} s`);
    }

    // (a) throughput, interleaved
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of started) {
        const url = `http://127.0.0.1:${s.ng.port}/svc/${s.n - 1}/items`;
        if (o.warmupS > 0) await loader.run({ url, connections: o.connections, durationS: o.warmupS });
        const r = await loader.run({ url, connections: o.connections, durationS: o.durationS });
        s.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${fmtInt(s.n).padStart(6)} routes ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
    out.push(
      '| config | ready after (s) | req/s | p50 ms | p99 ms | errors: non-2xx / socket |',
      '|---|---:|---:|---:|---:|---:|',
    );
    const rps: number[] = [];
    for (const s of started) {
      const good = s.runs.filter((r) => !r.failure && r.requests > 0);
      const m = median(good.map((r) => r.rps));
      rps.push(m);
      const non2xx = s.runs.reduce((a, r) => a + r.non2xx, 0);
      const sock = s.runs.reduce((a, r) => a + r.socketErrors, 0);
      const warn = non2xx + sock > 0 || good.length < s.runs.length ? ' ⚠' : '';
      out.push(
        `| ${fmtInt(s.n)} routes${warn} | ${s.readyS.toFixed(1)} | ${fmtInt(m)} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${non2xx} / ${sock} |`,
      );
    }
    const [small, big] = rps as [number, number];
    out.push(
      '',
      `10,000 vs 10 routes: ${(big / small).toFixed(2)}× the req/s (${loader.describe(o.connections)}, ${o.rounds} round(s) × ${o.durationS} s; the request path \`/svc/<n-1>/items\` matches the last-declared route; routes mix prefixes, \`=\` exact paths, \`:param\` paths and host-bound routes).`,
      '',
    );
    const smallEntry = started.shift();
    if (smallEntry) await smallEntry.ng.child.stop();

    // (b) reloads under load
    const s = started[0];
    if (!s) return out;
    o.say(`  reloads: ${RELOADS} × SIGHUP with ${fmtInt(BIG)} routes under load`);
    const ac = new AbortController();
    const url = `http://127.0.0.1:${s.ng.port}/svc/${BIG - 1}/items`;
    const loadStart = Date.now();
    const load = loader.run({ url, connections: o.connections, durationS: 600, signal: ac.signal });
    await sleep(1000);
    const results: (ReloadEvent | 'timeout')[] = [];
    let died = '';
    for (let k = 1; k <= RELOADS; k++) {
      if (!s.ng.child.alive()) {
        died = `northgate exited (${await s.ng.child.exited}) during reload ${k}`;
        break;
      }
      writeFileSync(s.ng.configFile, routesConfig(BIG, s.ng.port, s.ng.statusPort, up.port, k));
      const before = s.events.length;
      s.ng.child.cp.kill('SIGHUP');
      let ev: ReloadEvent | undefined;
      for (let i = 0; i < 500 && !ev && s.ng.child.alive(); i++) {
        await sleep(20); // up to 10 s per reload
        ev = s.events[before];
      }
      results.push(ev ?? 'timeout');
      if (ev && !ev.ok) o.say(`  reload ${k} failed: ${ev.problems}`);
      await sleep(100);
    }
    await sleep(1000);
    ac.abort();
    const r = await load;
    const loadS = (Date.now() - loadStart) / 1000;
    const ok = results.filter((e): e is ReloadEvent => e !== 'timeout' && e.ok);
    const failed = results.filter((e) => e !== 'timeout' && !e.ok).length;
    const timedOut = results.filter((e) => e === 'timeout').length;
    const durs = ok.map((e) => e.durationMs).filter(Number.isFinite);
    const maxMs = durs.length ? Math.max(...durs) : NaN;
    const routesSeen = [...new Set(ok.map((e) => e.routes))].join(', ');
    const errors = r.non2xx + r.socketErrors;
    const met = !died && ok.length === RELOADS && errors === 0 && !r.failure && maxMs < 1000;
    out.push(
      `Hot reload under load: ${RELOADS} × (rewrite the config changing one route, SIGHUP, wait for the "config reloaded" line) with ${fmtInt(BIG)} routes while ${loader.describe(o.connections)} ran for ${loadS.toFixed(0)} s:`,
      '',
      `- reload duration_ms: median ${durs.length ? median(durs).toFixed(0) : '–'}, max ${Number.isFinite(maxMs) ? maxMs.toFixed(0) : '–'} (${ok.length} ok, ${failed} failed, ${timedOut} without a log line within 10 s; routes reported: ${routesSeen || '–'})`,
      `- load during reloads: ${r.failure ? `load generator failed: ${r.failure}` : `${fmtInt(r.rps)} req/s, p99 ${r.p99ms.toFixed(2)} ms, ${r.non2xx} non-2xx, ${r.socketErrors} socket errors${r.socketErrors ? ` (${r.socketDetail ?? ''}; wrk counts a request as timed out after 2 s)` : ''}`}`,
      `- goal (0 errors, every reload < 1000 ms): ${met ? 'met' : `**not met**${died ? ` (${died})` : ''}`}`,
    );
    return out;
  } finally {
    for (const s of started) await s.ng.child.stop();
  }
}
