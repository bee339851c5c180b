// Paired runs: two gateways pinned to the same core get the same load at the same time (one
// load generator each, half the connections each), so whatever else the shared machine does
// during a run slows both alike. The ratio of their CPU per request within one run is much
// steadier than a ratio of runs taken one after the other (on a noisy 2-core machine: ±3%
// for two identical gateways, against ±20% between rounds). A process's own luck is not
// shared, though: how V8 compiled its hot paths and where its heap and buffers fell. Runs of
// the same two processes agree within ±2% while fresh processes of the same configs can land
// several per cent apart, so the runs come in sessions, each after the first with fresh
// processes, and the table gives each session's median beside the median of all runs. Used by
// the log-shipping scenario: each sink variant against the gateway without a sink.
import type { Loader, LoadResult } from './load.js';
import { treeCpuSeconds } from './proc.js';
import { median } from './table.js';
import type { Entry } from './rounds.js';

export interface PairedOptions {
  /** Runs per session. */
  runs: number;
  sessions: number;
  /** Replaces an entry's process with a fresh one (null), or says why it could not. */
  restart: (e: Entry) => Promise<string | null>;
  durationS: number;
  warmupS: number;
  /** Connections per gateway. */
  connections: number;
  headers: Record<string, string>;
  say: (line: string) => void;
}

interface Run {
  /** CPU µs per request of the base and of the other gateway. */
  base: number;
  other: number;
  /** Requests the other answered ÷ the base's. */
  requests: number;
  session: number;
}

/** One run of both at once: CPU seconds and answers of each; null when a run failed or got an answer other than 2xx/3xx. */
async function both(loader: Loader, a: Entry, b: Entry, o: PairedOptions, durationS: number, session: number): Promise<Run | null> {
  const ca = treeCpuSeconds(a.t.pid);
  const cb = treeCpuSeconds(b.t.pid);
  const load = (e: Entry): Promise<LoadResult> => loader.run({ url: e.t.url, connections: o.connections, durationS, headers: o.headers });
  const [ra, rb] = await Promise.all([load(a), load(b)]);
  const da = (treeCpuSeconds(a.t.pid) ?? NaN) - (ca ?? NaN);
  const db = (treeCpuSeconds(b.t.pid) ?? NaN) - (cb ?? NaN);
  if (ra.failure || rb.failure || ra.requests === 0 || rb.requests === 0 || !Number.isFinite(da) || !Number.isFinite(db)) return null;
  // A refused request is a cheaper one: such a run does not measure the route.
  if (ra.non2xx > 0 || rb.non2xx > 0) {
    o.say(`  paired run of ${b.rec.name} discarded: ${ra.non2xx} and ${rb.non2xx} answers ≥ 400`);
    return null;
  }
  return { base: (da * 1e6) / ra.requests, other: (db * 1e6) / rb.requests, requests: rb.requests / ra.requests, session };
}

/**
 * A table row per other gateway: its CPU per request ÷ the base's, run by run. The others
 * take turns (run 1 of each, then run 2 of each…), so that the machine's drift over the
 * section falls on every row alike; each session after the first starts every process anew.
 */
export async function pairedRuns(loader: Loader, base: Entry, others: readonly Entry[], o: PairedOptions): Promise<string[]> {
  const runs = new Map<Entry, Run[]>(others.map((other) => [other, []]));
  const alive = (other: Entry): boolean => base.t.alive() && other.t.alive();
  let stopped = '';
  for (let s = 0; s < o.sessions; s++) {
    for (const e of s === 0 ? [] : [base, ...others]) {
      const why = await o.restart(e);
      if (why !== null) {
        stopped = `session ${s + 1} did not start: ${why}`;
        o.say(`  ${stopped}`);
        break;
      }
    }
    if (stopped !== '') break;
    for (const other of others) if (alive(other)) await both(loader, base, other, o, o.warmupS, s);
    for (let i = 0; i < o.runs; i++) {
      for (const other of others) {
        if (!alive(other)) continue;
        const r = await both(loader, base, other, o, o.durationS, s);
        if (r === null) continue;
        runs.get(other)!.push(r);
        o.say(`  paired ${s + 1}.${i + 1} ${other.rec.name}: ${r.other.toFixed(1)} vs ${r.base.toFixed(1)} CPU µs/req (${(r.other / r.base).toFixed(3)}×), answers ${r.requests.toFixed(3)}×`);
      }
    }
  }
  const rows = others.map((other) => {
    const done = runs.get(other)!;
    if (done.length === 0) return `| ${other.rec.name} | 0 | – | – | – | – | – | ${alive(other) ? 'every run failed' : 'a process is no longer running'} |`;
    const ratio = (r: Run): number => r.other / r.base;
    const ratios = done.map(ratio);
    const bySession = [...new Set(done.map((r) => r.session))].map((s) => median(done.filter((r) => r.session === s).map(ratio)).toFixed(3));
    return `| ${other.rec.name} | ${done.length} | ${median(ratios).toFixed(3)} | ${bySession.join(' / ')} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} | ${median(done.map((r) => r.requests)).toFixed(3)} | ${median(done.map((r) => r.other)).toFixed(1)} vs ${median(done.map((r) => r.base)).toFixed(1)} | ${stopped} |`;
  });
  return [
    `#### Paired runs against ${base.rec.name}`,
    '',
    `| target | runs | CPU per request ÷ base (median) | session medians | min–max | answers ÷ base (median) | CPU µs/req, it vs base (medians) | note |`,
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    `Both gateways pinned to the proxy core and loaded at the same time, ${loader.describe(o.connections)} each, ${o.sessions} session(s) of ${o.runs} run(s) × ${o.durationS} s, each session with fresh processes and a ${o.warmupS} s warm-up, the rows taking turns; CPU per request from /proc over each run; a run with an answer ≥ 400 is discarded. The two share the core, so their µs per request are higher than in the rounds above; the ratio is what this section measures.`,
  ];
}
