// `npm run bench -- --scenario edge`: what the edge plugins cost. One northgate process,
// routes to the same upstream: no plugins, cors (simple GET with an allowed Origin),
// ip-restriction (allow 127.0.0.0/8), request-size-limit, transform (JSON response edit),
// compression (gzip), versioning (deprecated version by path prefix), cache: hits; misses
// (X-Cache: MISS — every request has a query of its own, so it is looked up, not found,
// forwarded and stored, and the memory store evicts once full); and refreshes (every request
// says no-cache: X-Cache: BYPASS, forwarded without a lookup and stored again, the cheaper
// of the two proxied cache paths). Every request carries the same Origin header so that only
// the plugin differs (the compression case also sends Accept-Encoding: gzip). Measured in
// interleaved rounds.
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface EdgeOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** Case keys to run (`--only` with `--scenario edge`); null: all. `plain` always runs (the ratios' base). */
  only: readonly string[] | null;
  say: (line: string) => void;
}

/** The keys `--only` accepts with `--scenario edge`. */
export const EDGE_CASES = ['plain', 'cors', 'ip', 'size', 'tjson', 'gzip', 'ver', 'cache-miss', 'cache-refresh', 'cache'] as const;

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
      - { name: tjson, paths: ["=/tjson"], plugins: { transform: { response: { json: { remove: [payload], set: { "gateway": "northgate" } } } } } }
      - { name: gzip, paths: ["=/gzip"], plugins: { compression: { min_size: 0 } } }
      - name: ver
        paths: ["/ver"]
        strip_path: true
        plugins: { versioning: { versions: [{ name: v1, deprecated: { date: "2026-01-01", sunset: "2027-01-01", link: "https://example.com/v2" } }, { name: v2 }], default: v2 } }
      - { name: cache, paths: ["=/cache"], plugins: { cache: { default_ttl: 60s } } }
      - { name: cache-miss, paths: ["=/cache-miss"], plugins: { cache: { default_ttl: 60s } } }
      - { name: cache-refresh, paths: ["=/cache-refresh"], plugins: { cache: { default_ttl: 60s } } }
`;
}

export async function runEdge(ctx: Ctx, loader: Loader, up: Upstream, o: EdgeOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const ng = await startNorthgate(ctx, 'northgate-edge', (p, s) => edgeConfig(p, s, up.port), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const headers = { origin: ORIGIN };
  const all = [
    { key: 'plain', name: 'no plugins', url: `${base}/plain`, runs: [] as LoadResult[], headers },
    { key: 'cors', name: 'cors (GET with Origin)', url: `${base}/cors`, runs: [] as LoadResult[], headers },
    { key: 'ip', name: 'ip-restriction (allow)', url: `${base}/ip`, runs: [] as LoadResult[], headers },
    { key: 'size', name: 'request-size-limit', url: `${base}/size`, runs: [] as LoadResult[], headers },
    { key: 'tjson', name: 'transform (JSON response)', url: `${base}/tjson`, runs: [] as LoadResult[], headers },
    { key: 'gzip', name: 'compression (gzip)', url: `${base}/gzip`, runs: [] as LoadResult[], headers: { ...headers, 'accept-encoding': 'gzip' } },
    { key: 'ver', name: 'versioning (v1, deprecated)', url: `${base}/ver/v1`, runs: [] as LoadResult[], headers },
    { key: 'cache-miss', name: 'cache MISS (new key each)', url: `${base}/cache-miss`, runs: [] as LoadResult[], headers, uniqueQuery: 'k' },
    { key: 'cache-refresh', name: 'cache refresh (no-cache)', url: `${base}/cache-refresh`, runs: [] as LoadResult[], headers: { ...headers, 'cache-control': 'no-cache' } },
    { key: 'cache', name: 'cache HIT', url: `${base}/cache`, runs: [] as LoadResult[], headers },
  ];
  const cases = all.filter((c) => o.only === null || c.key === 'plain' || o.only.includes(c.key));
  try {
    o.say('\nedge scenario: one northgate, a route without plugins vs the same route with each edge plugin');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        const u = 'uniqueQuery' in c ? { uniqueQuery: c.uniqueQuery } : {};
        if (o.warmupS > 0) await loader.run({ url: c.url, connections: o.connections, durationS: o.warmupS, headers: c.headers, ...u });
        const r = await loader.run({ url: c.url, connections: o.connections, durationS: o.durationS, headers: c.headers, ...u });
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
  const hitCase = cases.find((c) => c.key === 'cache');
  if (hitCase !== undefined) {
    const hit = rpsOf(hitCase);
    const vs = (key: string, what: string) => {
      const c = cases.find((x) => x.key === key);
      return c === undefined ? [] : [`${(hit / rpsOf(c)).toFixed(2)}× ${what}`];
    };
    const parts = [...vs('cache-miss', 'the cache MISS path (target ≥ 3×)'), ...vs('cache-refresh', 'the no-cache refresh path'), `${(hit / plain).toFixed(2)}× the plain proxied route`];
    out.push('', `Cache HIT throughput: ${parts.join(', ')}.`);
  }
  out.push(
    '',
    `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per route, each after a ${o.warmupS} s warm-up; every request sends \`Origin: ${ORIGIN}\` (allowed by the cors route's wildcard). Differences of a few percent are within run-to-run noise at 1 round.`,
  );
  return out;
}
