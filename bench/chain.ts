// `npm run bench -- --scenario chain`: Northgate with the chain a real deployment runs —
// key-auth (one consumer, its key sent with every request), a local rate limit set high
// enough never to refuse, metrics (always on; scraped at the end) and the JSON access log
// appended to a file — side by side in one run with the direct upstream, nginx as a proxy,
// the node floor, @fastify/http-proxy and Northgate without plugins. Every target gets the
// same request (the key header included), in interleaved rounds, pinned as the main table.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Loader } from './load.js';
import { pairedRuns } from './paired.js';
import { measureRounds, type Entry } from './rounds.js';
import { details, fmtInt, markdownTable, newRecord, type TargetRecord } from './table.js';
import { baselineRoot, startNorthgate, startTarget, variantName, type Ctx, type Running, type Upstream, type Variant } from './targets.js';

export const CHAIN_TARGETS = ['direct', 'nginx', 'node-floor', 'net-minimal', 'fastify-http-proxy', 'northgate-plain', 'northgate-chain', 'northgate-baseline'] as const;
export type ChainTarget = (typeof CHAIN_TARGETS)[number];

export interface ChainOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  oneConnS: number;
  only: string[] | null;
  say: (line: string) => void;
  /**
   * After the rounds: paired runs (bench/paired.ts) of every northgate row against the row
   * `base`, in `sessions` of `runs` each (every session after the first with fresh processes).
   */
  paired?: { base: string; runs: number; sessions: number };
}

const TITLE = '### The gateway chain: key-auth + local rate limit + metrics + access log to a file';
export const KEY = 'bench-chain-consumer-key-0001';
const HEADERS = { apikey: KEY };
const BASELINE_ROW = 'northgate-baseline (chain)';

/** The route without plugins and without the access log (metrics are on, as in every config). */
function plainConfig(port: number, statusPort: number, upstreamPort: number): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
access_log: { enabled: false }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: bench, paths: ["/"] }
`;
}

/** The chain's config: key-auth with one consumer, a local rate limit that never refuses, the access log to a file. */
export function chainConfig(port: number, statusPort: number, upstreamPort: number, accessLog: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
access_log: { path: ${JSON.stringify(accessLog)} }
consumers:
  - username: bench
    credentials: { key-auth: [{ key: "${KEY}" }] }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - name: bench
        paths: ["/"]
        plugins:
          key-auth: {}
          rate-limit: { limits: [{ per: 1s, max: 1000000000 }], key: consumer, policy: local }
`;
}

/** What the gateway itself says it did, read after the runs: the check that nothing was refused. */
interface GatewayCounts {
  row: string;
  statusPort: number;
  accessLog: string | null;
  rec: TargetRecord;
}

export async function runChain(ctx: Ctx, loader: Loader, up: Upstream, o: ChainOptions): Promise<string[]> {
  const wanted = (n: ChainTarget): boolean => !o.only || o.only.includes(n);
  const variants: (Variant | undefined)[] = ctx.northgateVariants.length ? ctx.northgateVariants : [undefined];
  const recs: TargetRecord[] = [];
  const entries: Entry[] = [];
  const counted: GatewayCounts[] = [];
  const add = (row: string, s: { ok: true; target: Running } | { ok: false; reason: string }): TargetRecord => {
    const rec = newRecord(row);
    recs.push(rec);
    if (s.ok) {
      entries.push({ rec, t: s.target });
      o.say(`  started ${row} at ${s.target.url}`);
    } else {
      rec.skipped = s.reason;
      o.say(`  SKIPPED ${row}: ${s.reason}`);
    }
    return rec;
  };
  /** A Northgate row's process and its status port, or why it did not start. */
  type Start = () => Promise<{ target: Running; statusPort: number } | string>;
  /** How each Northgate row's process is started (again, for the paired runs' later sessions). */
  const starters = new Map<string, Start>();
  const northgate = async (row: string, config: (p: number, s: number) => string, root: string, extra: string, accessLog: string | null): Promise<void> => {
    const start: Start = async () => {
      const r = await startNorthgate(ctx, row, config, 'ignore', 15_000, root, extra);
      if (typeof r === 'string') return root === ctx.repoRoot ? r : `${root}: ${r}`;
      const target = { name: row, url: `http://127.0.0.1:${r.port}/`, alive: () => r.child.alive(), stop: () => r.child.stop(), ...(r.child.cp.pid !== undefined ? { pid: r.child.cp.pid } : {}) };
      return { target, statusPort: r.statusPort };
    };
    const r = await start();
    if (typeof r === 'string') {
      add(row, { ok: false, reason: r });
      return;
    }
    starters.set(row, start);
    const rec = add(row, { ok: true, target: r.target });
    if (accessLog !== null) counted.push({ row, statusPort: r.statusPort, accessLog, rec });
  };
  /** A fresh process in place of an entry's (null), or why none started. */
  const restart = async (e: Entry): Promise<string | null> => {
    const start = starters.get(e.rec.name);
    if (start === undefined) return `${e.rec.name} cannot be restarted`;
    await e.t.stop();
    const r = await start();
    if (typeof r === 'string') return r;
    e.t = r.target;
    return null;
  };
  try {
    for (const name of ['direct', 'nginx', 'node-floor', 'net-minimal', 'fastify-http-proxy'] as const) {
      if (wanted(name)) add(name, await startTarget(name, ctx, up));
    }
    for (const v of variants) {
      if (wanted('northgate-plain')) await northgate(variantName('northgate-plain', v), (p, s) => plainConfig(p, s, up.port), ctx.repoRoot, v?.extra ?? '', null);
      if (wanted('northgate-chain')) {
        const row = variantName('northgate-chain', v);
        const log = path.join(ctx.tmpDir, `${row.replace(/[^\w.-]+/g, '_')}-access.log`);
        await northgate(row, (p, s) => chainConfig(p, s, up.port, log), ctx.repoRoot, v?.extra ?? '', log);
      }
    }
    const base = baselineRoot();
    if (base !== null && wanted('northgate-baseline')) {
      const log = path.join(ctx.tmpDir, 'northgate-baseline-chain-access.log');
      await northgate(BASELINE_ROW, (p, s) => chainConfig(p, s, up.port, log), base, '', log);
    }
    const perRound = entries.length * (o.warmupS + o.durationS + o.oneConnS);
    o.say(`\nchain scenario: ${entries.length} target(s), ${o.rounds} round(s), each target's 1-connection run after its main run in every round: about ${Math.ceil((perRound * o.rounds) / 60)} min`);
    await measureRounds(loader, entries, { ...o, headers: HEADERS, oneConn: 'each-round', rotate: true });
    // The rounds' processes, before the paired runs replace them.
    const checks: string[] = [];
    for (const c of counted) checks.push(await gatewayCheck(c));
    const paired: string[] = [];
    if (o.paired !== undefined) {
      const { base: name, runs, sessions } = o.paired;
      const pairBase = entries.find((e) => e.rec.name === name);
      if (pairBase === undefined) {
        paired.push('', `Paired runs skipped: ${name} did not start.`);
      } else {
        const others = entries.filter((e) => e !== pairBase && e.rec.name.startsWith('northgate'));
        o.say(`\npaired runs: ${others.length} target(s) against ${name}, ${sessions} session(s) of ${runs} run(s) each: about ${Math.ceil((sessions * others.length * (runs * o.durationS + o.warmupS)) / 60)} min`);
        paired.push('', ...(await pairedRuns(loader, pairBase, others, { runs, sessions, restart, durationS: o.durationS, warmupS: o.warmupS, connections: Math.max(1, Math.round(o.connections / 2)), headers: HEADERS, say: o.say })));
      }
    }
    return [TITLE, '', markdownTable(recs), '', ...details(recs), ...checks, '', notes(ctx, loader, o, base), ...paired];
  } finally {
    for (const e of entries) await e.t.stop();
  }
}

/**
 * The gateway's own count of refusals (Prometheus) and of access-log lines. A refusal would
 * make the chain's figures those of cheap 429s, so any is an error of the run (exit code 1).
 */
async function gatewayCheck(c: GatewayCounts): Promise<string> {
  const text = await get(`http://127.0.0.1:${c.statusPort}/metrics`);
  if (text === null) {
    process.exitCode = 1;
    return `⚠ ${c.row}: /metrics did not answer after the runs (did the process die?), so refusals are unknown.`;
  }
  const limited = sumSeries(text, 'northgate_rate_limited_total');
  const byCode = new Map<string, number>();
  for (const m of text.matchAll(/^northgate_http_requests_total\{[^}]*code="(\d+)"[^}]*\} (\S+)$/gm)) {
    byCode.set(m[1] as string, (byCode.get(m[1] as string) ?? 0) + Number(m[2]));
  }
  const codes = [...byCode].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${fmtInt(n)}`).join(', ');
  // Code 0 is a request whose client left before the answer: the load generator closing its
  // connections at the end of a run, not a refusal.
  const refused = [...byCode].filter(([k]) => Number(k) >= 400).reduce((a, [, n]) => a + n, 0);
  const lines = c.accessLog === null ? NaN : await countLines(c.accessLog);
  const bytes = c.accessLog === null ? NaN : statSync(c.accessLog, { throwIfNoEntry: false })?.size ?? NaN;
  const log = `access log: ${fmtInt(lines)} lines, ${(bytes / 1048576).toFixed(1)} MB in ${c.accessLog} for the ${fmtInt(c.rec.requests)} responses the load generator counted over all runs (warm-ups included)${sinkCounts(text)}`;
  if (limited > 0 || refused > 0) {
    process.exitCode = 1;
    return `⚠ ${c.row}: the rate limit refused ${fmtInt(limited)} request(s) and the gateway answered ${fmtInt(refused)} with a status ≥ 400 (northgate_http_requests_total by code: ${codes}); the figures are not those of the chain. ${log}.`;
  }
  return `${c.row}: 0 refused by the rate limit (northgate_rate_limited_total), no answer ≥ 400 (northgate_http_requests_total by code: ${codes}); ${log}.`;
}

/** What a row's log sinks did (the proof that a live sink delivered and a dead one dropped), or nothing without sinks. */
function sinkCounts(text: string): string {
  if (!/^northgate_log_sink_events_sent_total/m.test(text)) return '';
  const n = (name: string): string => fmtInt(sumSeries(text, name));
  return `; log sinks: ${n('northgate_log_sink_events_sent_total')} records sent, ${n('northgate_log_sink_events_dropped_total')} dropped, ${n('northgate_log_sink_batches_failed_total')} failed attempts`;
}

function sumSeries(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

function get(url: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Newlines in a file, read in chunks (the log of a long run is hundreds of MB). */
function countLines(file: string): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const s = createReadStream(file);
    s.on('data', (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
    });
    s.on('end', () => resolve(n));
    s.on('error', () => resolve(NaN));
  });
}

function notes(ctx: Ctx, loader: Loader, o: ChainOptions, base: string | null): string {
  const variants = ctx.northgateVariants.length ? ` Rows in parentheses are this checkout with extra config lines merged in (${ctx.northgateVariants.map((v) => `\`${v.label}\``).join(', ')}).` : '';
  return [
    `${loader.describe(o.connections)} with header \`apikey: ${KEY}\` on every request to every target (the chain's consumer key; the others forward it), ${o.rounds} interleaved round(s) × ${o.durationS} s per target after a ${o.warmupS} s warm-up, the order rotated each round; after each target's main run of a round, ${o.oneConnS} s at 1 connection (${loader.describe(1)}).`,
    'req/s, CPU µs/req, p50 and p99: medians over rounds. CPU µs/req: user + system time of the target\'s processes (nginx: master and worker) over the measured run ÷ its requests, from /proc.',
    'Added latency at 1 conn: the median over rounds of the 1-connection p50, minus `direct`\'s; "vs nginx added" is the gateway\'s added latency beyond nginx\'s.',
    'Peak RSS under load: the highest resident set of the target\'s process tree (nginx: master + worker), sampled every 200 ms during its runs.',
    `northgate-plain: 1 route, no plugins, access log off. northgate-chain: 1 route with key-auth (1 consumer) and rate-limit (policy local, key consumer, 10⁹ per second: never refuses), the default JSON access log appended to a file in the bench's temp dir; both with metrics on the status listener (always on; scraped once at the end).${base !== null ? ` ${BASELINE_ROW}: the chain config run from the checkout at ${base}.` : ''}${variants}`,
  ].join(' ');
}
