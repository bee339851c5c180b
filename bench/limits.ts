// `npm run bench -- --scenario limits`: what rate limiting costs. One northgate process,
// routes to the same upstream: no plugins, rate-limit `local`, rate-limit `redis` (one Lua
// round trip per request), quota on the default SQLite file (one upsert per request).
// Limits are set high so that every request is admitted: the number is the cost of the
// check, not of refusing. Goals from issue #5: local ≥ 0.95×, redis ≥ 0.75× of the plain route.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Loader, LoadResult } from './load.js';
import type { Pinning } from './proc.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface LimitsOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Rate-limit cost (northgate, 1 process, access log on)';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

function limitsConfig(port: number, statusPort: number, upstreamPort: number, dir: string): string {
  const high = '{ limits: [{ per: 1s, max: 1000000000 }], key: ip';
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: plain, paths: ["=/plain"] }
      - { name: local, paths: ["=/local"], plugins: { rate-limit: ${high}, policy: local } } }
      - { name: redis, paths: ["=/redis"], plugins: { rate-limit: ${high}, policy: redis, redis: { url: "${REDIS_URL}", prefix: "northgate:bench:", timeout: 250ms } } } }
      - { name: quota, paths: ["=/quota"], plugins: { quota: { period: day, max: 1000000000000, key: ip, path: "${path.join(dir, 'bench-quota.sqlite')}" } } }
`;
}

export async function runLimits(ctx: Ctx, loader: Loader, up: Upstream, o: LimitsOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const ng = await startNorthgate(ctx, 'northgate-limits', (p, s) => limitsConfig(p, s, up.port, ctx.tmpDir), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  // A local Redis is a backend like the nginx upstream: placed on the load core for the run
  // (its affinity restored after), so that the proxy core measures the gateway's work only.
  const redisPin = pinLocalRedis(ctx.pin);
  const cases = [
    { name: 'no plugins', url: `${base}/plain`, runs: [] as LoadResult[], goal: 1 },
    { name: 'rate-limit local', url: `${base}/local`, runs: [] as LoadResult[], goal: 0.95 },
    { name: 'rate-limit redis', url: `${base}/redis`, runs: [] as LoadResult[], goal: 0.75 },
    { name: 'quota (SQLite file)', url: `${base}/quota`, runs: [] as LoadResult[], goal: 0 },
  ];
  try {
    o.say('\nlimits scenario: one northgate, routes without plugins / rate-limit local / rate-limit redis / quota sqlite');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        if (o.warmupS > 0) await loader.run({ url: c.url, connections: o.connections, durationS: o.warmupS, headers: {} });
        const r = await loader.run({ url: c.url, connections: o.connections, durationS: o.durationS, headers: {} });
        c.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(24)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    await ng.child.stop();
    redisPin.restore();
  }
  const out = [TITLE, '', '| route | req/s | × no plugins | goal | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|'];
  const rpsOf = (c: (typeof cases)[number]) => median(c.runs.filter((r) => !r.failure && r.requests > 0).map((r) => r.rps));
  const plain = rpsOf(cases[0]!);
  for (const c of cases) {
    const good = c.runs.filter((r) => !r.failure && r.requests > 0);
    const ratio = rpsOf(c) / plain;
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    const goal = c.goal === 1 || c.goal === 0 ? '–' : `≥ ${c.goal.toFixed(2)} ${ratio >= c.goal ? 'met' : '**not met**'}`;
    out.push(`| ${c.name} | ${fmtInt(rpsOf(c))} | ${ratio.toFixed(3)} | ${goal} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push('', `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per route, each after a ${o.warmupS} s warm-up. Every request is admitted (limits set high, one key): the cost of the check. Redis at ${REDIS_URL} on the same machine (${redisPin.note}).`);
  return out;
}

/** Pins the local redis-server to the load core when pinning is on; `restore` puts its affinity back. */
function pinLocalRedis(pin: Pinning): { note: string; restore: () => void } {
  const none = (why: string) => ({ note: why, restore: () => undefined });
  if (!pin.enabled) return none('not pinned');
  if (!/^redis:\/\/(127\.0\.0\.1|localhost)(:|\/|$)/.test(REDIS_URL)) return none('not local: not pinned');
  const pids = spawnSync('pidof', ['redis-server'], { encoding: 'utf8', timeout: 5000 }).stdout?.trim().split(/\s+/).filter(Boolean) ?? [];
  if (pids.length !== 1) return none(pids.length === 0 ? 'redis-server not found: not pinned' : 'several redis-server processes: not pinned');
  const pid = pids[0]!;
  const before = /affinity list: (\S+)/.exec(spawnSync('taskset', ['-cp', pid], { encoding: 'utf8', timeout: 5000 }).stdout ?? '')?.[1];
  if (before === undefined || spawnSync('taskset', ['-cp', String(pin.loadCore), pid], { timeout: 5000 }).status !== 0) return none('could not be pinned');
  return {
    note: `redis-server pinned to CPU ${pin.loadCore} with the load generator for the run`,
    restore: () => void spawnSync('taskset', ['-cp', before, pid], { timeout: 5000 }),
  };
}
