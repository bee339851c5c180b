// `npm run bench`: Northgate side by side with reference proxies, on one machine.
// See `npm run bench -- --help` for flags.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { pickLoader, type Loader } from './load.js';
import { cpuBusyPercent, detectPinning, installCleanupHandlers, isStopping, onExit, stopAll, which } from './proc.js';
import { runRoutes } from './routes.js';
import { runAuth } from './auth.js';
import { runOidc } from './oidc.js';
import { runLimits } from './limits.js';
import { runOpenApi } from './openapi.js';
import { EDGE_CASES, runEdge } from './edge.js';
import { runHttp2 } from './http2.js';
import { runResilience } from './resilience.js';
import { runTracing } from './tracing.js';
import { runBalancing } from './balancing.js';
import { CHAIN_TARGETS, runChain } from './chain.js';
import { runTraffic, TRAFFIC_TARGETS } from './traffic.js';
import { runLogShipping } from './log-shipping.js';
import { measureRounds, type Entry } from './rounds.js';
import { details, markdownTable, newRecord, type TargetRecord } from './table.js';
import { baselineRoot, parseExtra, startTarget, startUpstream, TARGET_NAMES, variantName, type Ctx, type Upstream, type Variant } from './targets.js';
import { runStartup } from './startup.js';
import { runKubernetes } from './kubernetes.js';

export interface Options {
  rounds: number;
  durationS: number;
  warmupS: number;
  oneConnS: number;
  connections: number;
  /** target names of the main or chain table */
  only: string[] | null;
  /** `--only` with `--scenario edge`: edge case keys. */
  edgeOnly: string[] | null;
  scenario: (typeof SCENARIOS)[number];
  loader: string | undefined;
  noNginx: boolean;
  noPin: boolean;
  routesRounds: number;
  /** northgate config variants: one row per variant in the main and chain tables */
  variants: Variant[];
}

const SCENARIOS = ['all', 'main', 'routes', 'auth', 'oidc', 'edge', 'resilience', 'limits', 'openapi', 'http2', 'tracing', 'startup', 'chain', 'traffic', 'log-shipping', 'kubernetes'] as const;

const HELP = `usage: npm run bench -- [flags]
  --rounds N          interleaved rounds per target (default 3, tracing 15, startup and kubernetes 5; env BENCH_ROUNDS)
  --duration S        seconds per measured run (default 10, tracing 4; env BENCH_DURATION)
  --warmup S          warm-up seconds per target per round, not counted (default 2, tracing 1; env BENCH_WARMUP)
  --c1-duration S     seconds of the 1-connection run (default min(5, duration); env BENCH_C1_DURATION)
  --connections N     connections of the main runs (default 50; env BENCH_CONNECTIONS)
  --only a,b,c        targets: ${TARGET_NAMES.join(',')} (env BENCH_ONLY);
                      keep direct (latency baseline) and node-floor/nginx (ratio columns);
                      with --scenario chain: ${CHAIN_TARGETS.join(',')};
                      with --scenario edge: cases ${EDGE_CASES.join(',')} (plain always runs);
                      with --scenario traffic: ${TRAFFIC_TARGETS.map((t) => t.name).join(',')}
  --scenario S        all (default) | main | routes | chain | auth | oidc | edge | resilience | limits | openapi | http2 | tracing | startup | traffic | log-shipping | kubernetes (env BENCH_SCENARIO; chain, auth, oidc, edge, resilience, limits, openapi, http2, tracing, startup, traffic, log-shipping and kubernetes run only when named)
  --northgate-extra Y extra top-level config lines for the northgate targets, YAML merged into each bench config
                      (mappings key by key: 'listen: { engine: native }' adds to the listen section), e.g.
                      --northgate-extra 'engine: native'; repeat the flag for one row per variant in the main and
                      chain tables, labelled by the text (env BENCH_NORTHGATE_EXTRA: one variant); other scenarios
                      use the first; never applied to BENCH_BASELINE
  --engine a,b        shorthand: one variant per engine, '<engine-key>: <engine>' (env BENCH_NORTHGATE_ENGINE)
  --engine-key K      the config key --engine sets, dotted for a nested one (default engine, e.g. listen.engine)
  --routes-rounds N   rounds of the 10 vs 10,000 routes comparison (default 1)
  --loader L          force wrk | autocannon (env BENCH_LOADER)
  --no-nginx          act as if nginx were not installed (Node upstream, no nginx target)
  --no-pin            do not use taskset
  env BENCH_NORTHGATE_ARGS  extra args appended to \`northgate start\`
  env BENCH_BASELINE  a built checkout of another commit, run as target northgate-baseline with the northgate config
                      (chain: with the chain config; startup: every case also started from that checkout, interleaved)`;

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  const extras: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}\n${HELP}`);
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (a === '--no-nginx' || a === '--no-pin') flags.set(a.slice(2), '1');
    else flags.set(a.slice(2), argv[++i] ?? '');
    if (a.startsWith('--northgate-extra')) extras.push(flags.get('northgate-extra') as string);
  }
  const known = ['rounds', 'duration', 'warmup', 'c1-duration', 'connections', 'only', 'scenario', 'routes-rounds', 'loader', 'no-nginx', 'no-pin', 'northgate-extra', 'engine', 'engine-key'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown flag --${k}\n${HELP}`);
  const get = (k: string, env: string): string | undefined => flags.get(k) ?? process.env[env];
  const num = (k: string, env: string, def: number, min: number, max: number): number => {
    const v = get(k, env);
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${k} must be a number in ${min}..${max}`);
    return n;
  };
  const onlyRaw = get('only', 'BENCH_ONLY');
  let only: string[] | null = null;
  let edgeOnly: string[] | null = null;
  if (onlyRaw && get('scenario', 'BENCH_SCENARIO') === 'edge') {
    edgeOnly = onlyRaw.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = edgeOnly.filter((n) => !(EDGE_CASES as readonly string[]).includes(n));
    if (bad.length) throw new Error(`unknown edge case(s) ${bad.join(', ')}; known: ${EDGE_CASES.join(', ')}`);
  } else if (onlyRaw) {
    const names = onlyRaw.split(',').map((s) => s.trim()).filter(Boolean);
    const scenarioName = get('scenario', 'BENCH_SCENARIO');
    const known: readonly string[] = scenarioName === 'chain' ? CHAIN_TARGETS : scenarioName === 'traffic' ? TRAFFIC_TARGETS.map((t) => t.name) : TARGET_NAMES;
    const bad = names.filter((n) => !known.includes(n));
    if (bad.length) throw new Error(`unknown target(s) ${bad.join(', ')}; known: ${known.join(', ')}`);
    only = names;
  }
  const scenario = get('scenario', 'BENCH_SCENARIO') ?? 'all';
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}`);
  const durationS = num('duration', 'BENCH_DURATION', scenario === 'tracing' ? 4 : 10, 1, 600);
  const loader = get('loader', 'BENCH_LOADER');
  if (loader !== undefined && loader !== 'wrk' && loader !== 'autocannon') throw new Error('--loader must be wrk or autocannon');
  // The tracing scenario compares configs whose difference is near the host's noise: by
  // default many short rounds, so that each config's run sits close in time to the others'
  // of its round and the per-round ratios can be paired (bench/tracing.ts).
  const tracing = scenario === 'tracing';
  return {
    rounds: Math.round(num('rounds', 'BENCH_ROUNDS', tracing ? 15 : scenario === 'startup' || scenario === 'kubernetes' ? 5 : 3, 1, 50)),
    durationS,
    warmupS: num('warmup', 'BENCH_WARMUP', tracing ? 1 : 2, 0, 60),
    oneConnS: num('c1-duration', 'BENCH_C1_DURATION', Math.min(5, durationS), 1, 600),
    connections: Math.round(num('connections', 'BENCH_CONNECTIONS', 50, 1, 10_000)),
    only,
    edgeOnly,
    scenario: scenario as Options['scenario'],
    loader,
    noNginx: get('no-nginx', 'BENCH_NO_NGINX') === '1',
    noPin: get('no-pin', 'BENCH_NO_PIN') === '1',
    routesRounds: Math.round(num('routes-rounds', 'BENCH_ROUTES_ROUNDS', 1, 1, 20)),
    variants: variantsOf(extras.length ? extras : [process.env.BENCH_NORTHGATE_EXTRA ?? ''], get('engine', 'BENCH_NORTHGATE_ENGINE') ?? '', get('engine-key', 'BENCH_NORTHGATE_ENGINE_KEY') ?? 'engine'),
  };
}

/**
 * The northgate config variants of --northgate-extra and --engine, each checked to parse now:
 * a typo should stop the bench before it starts processes, not skip a row after minutes.
 */
function variantsOf(extras: string[], engines: string, engineKey: string): Variant[] {
  const out: Variant[] = [];
  for (const extra of extras) {
    if (extra.trim() === '') continue;
    parseExtra(extra);
    out.push({ label: extra.trim().replace(/\s+/g, ' '), extra });
  }
  for (const engine of engines.split(',').map((s) => s.trim()).filter(Boolean)) {
    const keys = engineKey.split('.').filter(Boolean);
    if (keys.length === 0 || !keys.every((k) => /^[\w-]+$/.test(k))) throw new Error(`--engine-key must be a dotted config key such as listen.engine, got ${engineKey}`);
    if (!/^[\w-]+$/.test(engine)) throw new Error(`--engine names must be words, got ${engine}`);
    const extra = keys.reduceRight((inner, k) => `{ ${k}: ${inner} }`, engine).slice(2, -2);
    out.push({ label: `${keys.join('.')}: ${engine}`, extra });
  }
  return out;
}

function pkgVersion(repoRoot: string, pkg: string): string {
  try {
    const j = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string };
    return j.version ?? '?';
  } catch {
    return '?';
  }
}

function nginxVersion(nginx: string | null): string {
  if (!nginx) return 'not installed';
  const r = spawnSync(nginx, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return /nginx\/(\S+)/.exec(`${r.stderr ?? ''}${r.stdout ?? ''}`)?.[1] ?? 'unknown';
}

function nodeFlags(): string {
  return process.env.NODE_OPTIONS ? `NODE_OPTIONS=${process.env.NODE_OPTIONS}` : 'none';
}

function say(line: string): void {
  if (!isStopping()) process.stdout.write(`${line}\n`);
}

function headerLines(o: Options, ctx: Ctx, loader: Loader, up: Upstream, nproc: number, busy: number | null): string[] {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const upDesc = up.kind === 'nginx' ? 'nginx (1 worker)' : 'a Node http server (nginx not available)';
  const v = (p: string): string => pkgVersion(ctx.repoRoot, p);
  const idle =
    busy === null
      ? 'unknown (no /proc/stat)'
      : `${busy.toFixed(0)}% of all CPUs busy during 2 s before the run${busy > 10 ? ' ⚠ the machine was not idle: other processes distort these numbers, 1-connection latency most' : ''}`;
  const lines = [
    `- Machine: nproc ${nproc} (${cpu}), ${os.type()} ${os.release()}, Node ${process.version}, nginx ${nginxVersion(ctx.nginx)}, ${loader.name} ${loader.version}`,
    `- Upstream: ${upDesc} returning a fixed ~100-byte JSON body over keep-alive; ${ctx.pin.note}`,
    `- Idle check: ${idle}`,
  ];
  if (o.scenario !== 'routes' && o.scenario !== 'startup' && o.scenario !== 'kubernetes') {
    lines.push(
      `- Load: ${loader.describe(o.connections)}; ${o.rounds} interleaved round(s) × ${o.durationS} s per target, each after a ${o.warmupS} s warm-up that is not counted; req/s, p50 and p99 are medians over rounds`,
      `- Added latency: p50 at 1 connection (${loader.describe(1)}, ${o.oneConnS} s) minus p50 of \`direct\`; about 85 µs of any proxy's share is the cross-CPU wake-up, so compare with node-floor and nginx rather than with zero`,
      // The peers every table has; then the chain's rows or the main table's.
      `- Peers: nginx 1 worker with upstream keepalive 64; node-floor = node:http + undici ${v('undici')} Pool.stream; net-minimal = the least an HTTP-aware proxy does on net sockets (bench/peers/net-minimal.ts: heads found by their blank line, one kept-alive upstream connection per client, relay by Content-Length, no checks); fastify ${v('fastify')} + @fastify/http-proxy ${v('@fastify/http-proxy')}; ${
        o.scenario === 'chain'
          ? 'northgate = `northgate start`, 1 worker (configs under the table)'
          : `fast-gateway ${v('fast-gateway')}; northgate = \`northgate start\`, 1 worker, 1 route + headers plugin, access log off like every other target here; northgate-access-log = the same with the default JSON access log on (to /dev/null)`
      }. Node flags: ${nodeFlags()}`,
    );
  }
  if (ctx.northgateArgs.length) lines.push(`- northgate start arguments (BENCH_NORTHGATE_ARGS): ${ctx.northgateArgs.join(' ')}`);
  if (o.variants.length) {
    const where = o.scenario === 'main' || o.scenario === 'chain' || o.scenario === 'all' ? 'one row per variant' : `this scenario runs the first, \`${o.variants[0]?.label}\``;
    lines.push(`- Northgate config variants (extra top-level config merged into this checkout's northgate configs; ${where}): ${o.variants.map((x) => `\`${x.label}\``).join(', ')}`);
  }
  if (o.scenario !== 'startup' && o.scenario !== 'kubernetes') lines.push(
    `- Errors: ${loader.name === 'wrk' ? 'wrk "Non-2xx or 3xx" (status ≥ 400) and connect/read/write/timeout socket errors' : 'autocannon non-2xx and errors/timeouts'}, summed over all runs of a target including warm-ups`,
  );
  return lines;
}

async function runMain(o: Options, ctx: Ctx, loader: Loader, up: Upstream): Promise<string[]> {
  const names = TARGET_NAMES.filter((n) => (!o.only || o.only.includes(n)) && (n !== 'northgate-baseline' || baselineRoot() !== null));
  const variants: (Variant | undefined)[] = o.variants.length ? o.variants : [undefined];
  const recs: TargetRecord[] = [];
  const entries: Entry[] = [];
  for (const name of names) {
    // This checkout's northgate targets run once per config variant; the others (and the baseline) once.
    for (const v of name === 'northgate' || name === 'northgate-access-log' ? variants : [undefined]) {
      const rec = newRecord(variantName(name, v));
      recs.push(rec);
      const s = await startTarget(name, ctx, up, v);
      if (s.ok) {
        entries.push({ rec, t: s.target });
        say(`  started ${rec.name} at ${s.target.url}`);
      } else {
        rec.skipped = s.reason;
        say(`  SKIPPED ${rec.name}: ${s.reason}`);
      }
    }
  }
  const perRound = entries.length * (o.warmupS + o.durationS);
  say(`\n${entries.length} target(s), ${o.rounds} round(s): about ${Math.ceil((perRound * o.rounds + entries.length * (1 + o.oneConnS)) / 60)} min`);
  await measureRounds(loader, entries, { ...o, oneConn: 'end', rotate: false, say });
  for (const e of entries) await e.t.stop();
  return [markdownTable(recs), '', ...details(recs)];
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const o = parseOptions(process.argv.slice(2));
  const benchDir = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
  const repoRoot = path.resolve(benchDir, '..', '..');
  const nproc = os.availableParallelism(); // before the orchestrator pins itself
  const pin = detectPinning(o.noPin);
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'northgate-bench-'));
  onExit(() => rmSync(tmpDir, { recursive: true, force: true }));
  const ctx: Ctx = {
    pin,
    tmpDir,
    repoRoot,
    benchDir,
    nginx: o.noNginx ? null : which('nginx'),
    northgateArgs: (process.env.BENCH_NORTHGATE_ARGS ?? '').split(/\s+/).filter(Boolean),
    northgateVariants: o.variants,
  };
  const out: string[] = [];
  try {
    const loader = pickLoader(pin, benchDir, o.loader);
    const busy = await cpuBusyPercent(2000);
    const up = await startUpstream(ctx);
    const header = headerLines(o, ctx, loader, up, nproc, busy);
    out.push(`## Northgate benchmark (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`, '', ...header, '');
    say(out.join('\n'));
    if (o.scenario === 'auth') {
      const lines = await runAuth(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'oidc') {
      const lines = await runOidc(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'limits') {
      const lines = await runLimits(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'openapi') {
      const lines = await runOpenApi(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'resilience') {
      const lines = await runResilience(ctx, loader, { durationS: o.durationS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
      const balancing = await runBalancing(ctx, loader, { durationS: o.durationS, connections: o.connections, say });
      out.push(...balancing, '');
      say(`\n${balancing.join('\n')}\n`);
    }
    if (o.scenario === 'http2') {
      const lines = await runHttp2(ctx, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'tracing') {
      const lines = await runTracing(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'kubernetes') {
      const lines = await runKubernetes(ctx, up, { rounds: o.rounds, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'startup') {
      const lines = await runStartup(ctx, up, { rounds: o.rounds, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'edge') {
      const lines = await runEdge(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, only: o.edgeOnly, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'chain' || o.scenario === 'log-shipping') {
      const lines = await (o.scenario === 'chain' ? runChain : runLogShipping)(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, oneConnS: o.oneConnS, only: o.only, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'traffic') {
      const lines = await runTraffic(ctx, loader, up, { rounds: o.rounds, durationS: o.durationS, warmupS: o.warmupS, connections: o.connections, oneConnS: o.oneConnS, only: o.only, say });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'all' || o.scenario === 'main') {
      const lines = await runMain(o, ctx, loader, up);
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    if (o.scenario === 'all' || o.scenario === 'routes') {
      const lines = await runRoutes(ctx, loader, up, {
        rounds: o.routesRounds,
        durationS: Math.min(o.durationS, 10),
        warmupS: Math.min(o.warmupS, 2),
        connections: o.connections,
        say,
      });
      out.push(...lines, '');
      say(`\n${lines.join('\n')}\n`);
    }
    const resultsDir = path.join(repoRoot, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(path.join(resultsDir, 'latest.md'), `${out.join('\n').trimEnd()}\n`);
    say(`written to bench/results/latest.md`);
  } finally {
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
