// `npm run bench -- --scenario traffic`: the cost of traffic management on a route, each
// target one Northgate config against the plain route, in interleaved rounds on the bench's
// upstream. A target is one entry of TRAFFIC_TARGETS: its route lines (YAML, under one
// service whose url is the upstream) and what it measures.
import type { Loader } from './load.js';
import { measureRounds, type Entry } from './rounds.js';
import { details, markdownTable, newRecord, type TargetRecord } from './table.js';
import { startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface TrafficTarget {
  readonly name: string;
  /** What the row measures, for the notes under the table. */
  readonly about: string;
  /** The route item(s) under `routes:`, indented by 6 spaces; `up` is the upstream's origin. */
  routes(up: string): string;
  /** What the gateway says after the rounds (read from its status listener), for the notes. */
  report?(statusPort: number): Promise<string>;
}

export const TRAFFIC_TARGETS: readonly TrafficTarget[] = [
  { name: 'plain', about: 'one route to the service\'s url', routes: () => '      - { name: bench, paths: ["/"] }' },
  {
    name: 'weighted',
    about: 'the same route with two weighted backends (3:1, an upstream and a url, both the bench\'s upstream): ≤ 3% below plain',
    routes: (up) => `      - name: bench\n        paths: ["/"]\n        backends: [{ upstream: bench, weight: 3 }, { url: "${up}", weight: 1 }]`,
  },
  {
    name: 'mirror',
    about: 'the same route with request-mirror at 100% to a live mirror (the bench upstream itself, so it answers every request twice): ≤ 35% below plain',
    routes: (up) => `      - name: bench\n        paths: ["/"]\n        plugins: { request-mirror: { url: "${up}", percent: 100, max_in_flight: 1000 } }`,
    report: droppedCopies,
  },
  {
    name: 'mirror-upstream',
    about: 'the same with the mirror named as an upstream (`upstream: bench`: the same host, through that upstream\'s balancer and health)',
    routes: () => `      - name: bench\n        paths: ["/"]\n        plugins: { request-mirror: { upstream: bench, percent: 100, max_in_flight: 1000 } }`,
    report: droppedCopies,
  },
];

/** The copies request-mirror did not deliver, from the gateway's /metrics, by reason. */
async function droppedCopies(statusPort: number): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    const counts = [...text.matchAll(/^northgate_mirror_dropped_total\{[^}]*reason="([a-z]+)"[^}]*\} (\d+)$/gm)].map((m) => `${m[2]} ${m[1]}`);
    return `copies not delivered (northgate_mirror_dropped_total): ${counts.length === 0 ? 'none' : counts.join(', ')}`;
  } catch (err) {
    return `metrics not read (${(err as Error).message})`;
  }
}

const TITLE = '### Traffic management: each route against the plain route (northgate, 1 process, access log off)';

function config(t: TrafficTarget, port: number, statusPort: number, up: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
access_log: { enabled: false }
upstreams: [{ name: bench, targets: [{ url: "${up}" }] }]
services:
  - name: bench
    url: "${up}"
    routes:
${t.routes(up)}
`;
}

export async function runTraffic(ctx: Ctx, loader: Loader, up: Upstream, o: { rounds: number; durationS: number; warmupS: number; connections: number; oneConnS: number; only: string[] | null; say: (l: string) => void }): Promise<string[]> {
  const origin = `http://127.0.0.1:${up.port}`;
  const recs: TargetRecord[] = [];
  const entries: Entry[] = [];
  const reports: Array<() => Promise<string>> = [];
  try {
    for (const t of TRAFFIC_TARGETS.filter((x) => o.only === null || o.only.includes(x.name))) {
      const rec = newRecord(t.name);
      recs.push(rec);
      const ng = await startNorthgate(ctx, `northgate-traffic-${t.name}`, (p, s) => config(t, p, s, origin), 'ignore');
      if (typeof ng === 'string') {
        rec.skipped = ng;
        continue;
      }
      if (t.report !== undefined) reports.push(async () => `${t.name}: ${await t.report!(ng.statusPort)}.`);
      entries.push({ rec, t: { name: t.name, url: `http://127.0.0.1:${ng.port}/`, alive: () => ng.child.alive(), stop: () => ng.child.stop(), ...(ng.child.cp.pid !== undefined ? { pid: ng.child.cp.pid } : {}) } });
    }
    o.say(`\ntraffic scenario: ${entries.length} target(s), ${o.rounds} round(s)`);
    await measureRounds(loader, entries, { ...o, oneConn: 'end', rotate: true });
    const about = TRAFFIC_TARGETS.filter((t) => recs.some((r) => r.name === t.name)).map((t) => `${t.name}: ${t.about}.`);
    const said: string[] = [];
    for (const report of reports) said.push(await report());
    return [TITLE, '', markdownTable(recs), '', ...details(recs), '', `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per target after a ${o.warmupS} s warm-up. ${[...about, ...said].join(' ')}`];
  } finally {
    for (const e of entries) await e.t.stop();
  }
}
