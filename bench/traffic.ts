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
}

export const TRAFFIC_TARGETS: readonly TrafficTarget[] = [
  { name: 'plain', about: 'one route to the service\'s url', routes: () => '      - { name: bench, paths: ["/"] }' },
  {
    name: 'weighted',
    about: 'the same route with two weighted backends (3:1, an upstream and a url, both the bench\'s upstream): ≤ 3% below plain',
    routes: (up) => `      - name: bench\n        paths: ["/"]\n        backends: [{ upstream: bench, weight: 3 }, { url: "${up}", weight: 1 }]`,
  },
];

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
  try {
    for (const t of TRAFFIC_TARGETS.filter((x) => o.only === null || o.only.includes(x.name))) {
      const rec = newRecord(t.name);
      recs.push(rec);
      const ng = await startNorthgate(ctx, `northgate-traffic-${t.name}`, (p, s) => config(t, p, s, origin), 'ignore');
      if (typeof ng === 'string') {
        rec.skipped = ng;
        continue;
      }
      entries.push({ rec, t: { name: t.name, url: `http://127.0.0.1:${ng.port}/`, alive: () => ng.child.alive(), stop: () => ng.child.stop(), ...(ng.child.cp.pid !== undefined ? { pid: ng.child.cp.pid } : {}) } });
    }
    o.say(`\ntraffic scenario: ${entries.length} target(s), ${o.rounds} round(s)`);
    await measureRounds(loader, entries, { ...o, oneConn: 'end', rotate: true });
    const about = TRAFFIC_TARGETS.filter((t) => recs.some((r) => r.name === t.name)).map((t) => `${t.name}: ${t.about}.`);
    return [TITLE, '', markdownTable(recs), '', ...details(recs), '', `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per target after a ${o.warmupS} s warm-up. ${about.join(' ')}`];
  } finally {
    for (const e of entries) await e.t.stop();
  }
}
