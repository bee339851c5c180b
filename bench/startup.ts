// `npm run bench -- --scenario startup`: how fast `northgate start` is ready and how much
// memory it holds at rest. Each case is started `rounds` times (interleaved with the other
// cases, and with BENCH_BASELINE's checkout when set): time from spawn to the first 200 on
// /readyz (status listener, polled every 10 ms), then RSS (VmRSS of /proc/PID/status) after
// 2 s of idling. Goals from issue #18: the embedded default ready in < 1 s and < 80 MB; the
// master of --workers N much lighter than a worker (it holds no compiled config).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, httpStatus, sleep, startChild, type Child } from './proc.js';
import { median } from './table.js';
import { baselineRoot, northgateMissing, type Ctx, type Upstream } from './targets.js';

export interface StartupOptions {
  rounds: number;
  say: (line: string) => void;
}

const TITLE = '### Start-up: time to ready and idle RSS';
const READY_TIMEOUT_MS = 30_000;
const IDLE_MS = 2000;

interface Case {
  name: string;
  /** Config text for (proxy port, status port, portal port, dir), or null for the embedded default. */
  config: ((p: Ports, dir: string) => string) | null;
  workers: number;
}

interface Ports {
  proxy: number;
  status: number;
  portal: number;
}

interface Sample {
  readyMs: number;
  /** RSS in MB: the process (the master with --workers), then each worker. */
  rssMb: number;
  workersMb: number[];
}

/** About five services and a few plugins, as a small real config would have. */
function servicesConfig(upstreamPort: number, portal: boolean) {
  return (p: Ports, dir: string): string => {
    const up = `http://127.0.0.1:${upstreamPort}`;
    const services = ['orders', 'users', 'billing', 'catalog', 'search']
      .map((name, i) => `  - name: ${name}
    url: "${up}"
    plugins:
      headers: { request: { set: { x-service: ${name} } } }
${i % 2 === 0 ? '      key-auth: {}\n' : ''}      rate-limit: { limits: [{ per: 1s, max: 1000 }], key: ip, policy: local }
${portal ? `    portal: { published: true, title: ${name}, description: The ${name} API }\n` : ''}    routes:
      - { name: ${name}, paths: ["/${name}"], strip_path: true }
      - { name: ${name}-items, paths: ["/${name}/items/:id"], methods: [GET] }`)
      .join('\n');
    return `_format_version: "1"
listen: { proxy: "127.0.0.1:${p.proxy}", status: "127.0.0.1:${p.status}"${portal ? `, portal: "127.0.0.1:${p.portal}"` : ''} }
${portal ? `plans: [{ name: free }]\nportal: { title: Bench, store: "${path.join(dir, 'portal.sqlite')}", self_service: { plans: [free] } }\nmetering: { store: "${path.join(dir, 'metering.sqlite')}" }\n` : ''}plugins:
  cors: { origins: ["https://app.example.com"] }
  request-size-limit: { max_bytes: 1048576 }
consumers:
  - username: app
    credentials: { key-auth: [{ key: "bench-key-0123456789" }] }
services:
${services}
`;
  };
}

function cases(up: Upstream): Case[] {
  return [
    { name: 'embedded default', config: null, workers: 1 },
    { name: '5 services + plugins', config: servicesConfig(up.port, false), workers: 1 },
    { name: '5 services + plugins + portal', config: servicesConfig(up.port, true), workers: 1 },
    { name: '5 services + plugins, --workers 2', config: servicesConfig(up.port, false), workers: 2 },
  ];
}

/** VmRSS of a process in MB, or NaN once it is gone. */
function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Child pids of a process (its workers), in pid order. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (kids !== '') out.push(...kids.split(' ').map(Number));
    }
  } catch {
    // gone: no children
  }
  return out.sort((a, b) => a - b);
}

/** One start: spawn, poll /readyz every 10 ms, idle, read RSS, stop. */
async function startOnce(root: string, c: Case, dir: string): Promise<Sample | string> {
  const ports: Ports = { proxy: await freePort(), status: await freePort(), portal: await freePort() };
  const args = [path.join(root, 'bin', 'northgate.js'), 'start'];
  const env: NodeJS.ProcessEnv = { ...process.env, NORTHGATE_LOG_LEVEL: 'warn' };
  if (c.config === null) {
    // The embedded default reads its addresses from these (src/runtime/embedded.ts); run in
    // an empty directory so that no ./northgate.yaml is picked up.
    env['NORTHGATE_PROXY_LISTEN'] = `127.0.0.1:${ports.proxy}`;
    env['NORTHGATE_STATUS_LISTEN'] = `127.0.0.1:${ports.status}`;
  } else {
    const file = path.join(dir, 'northgate.yaml');
    writeFileSync(file, c.config(ports, dir));
    args.push('--config', file);
  }
  if (c.workers > 1) args.push('--workers', String(c.workers));
  const t0 = performance.now();
  const child: Child = startChild('northgate-startup', process.execPath, args, { cwd: dir, env });
  try {
    const url = `http://127.0.0.1:${ports.status}/readyz`;
    let readyMs = NaN;
    for (let i = 0; i < 10_000 && performance.now() - t0 < READY_TIMEOUT_MS; i++) {
      if (!child.alive()) return `exited (${await child.exited}): ${child.stderrTail().split('\n').slice(-2).join(' | ')}`;
      if ((await httpStatus(url, 500)) === 200) {
        readyMs = performance.now() - t0;
        break;
      }
      await sleep(10);
    }
    if (!Number.isFinite(readyMs)) return `not ready after ${READY_TIMEOUT_MS / 1000} s`;
    await sleep(IDLE_MS);
    const pid = child.cp.pid!;
    return { readyMs, rssMb: rssMb(pid), workersMb: c.workers > 1 ? childPids(pid).map(rssMb) : [] };
  } finally {
    await child.stop();
  }
}

export async function runStartup(ctx: Ctx, up: Upstream, o: StartupOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const base = baselineRoot();
  const roots: Array<{ label: string; root: string }> = [{ label: 'this checkout', root: ctx.repoRoot }];
  if (base !== null && northgateMissing(base) === null) roots.push({ label: `baseline (${path.basename(base)})`, root: base });
  const all = cases(up);
  const samples = new Map<string, Sample[]>();
  const failures = new Map<string, string[]>();
  o.say(`\nstartup scenario: ${all.length} case(s) × ${roots.length} checkout(s) × ${o.rounds} round(s), about ${Math.ceil((all.length * roots.length * o.rounds * 4) / 60)} min`);
  for (let round = 1; round <= o.rounds; round++) {
    for (const c of all) {
      for (const r of roots) {
        const key = `${c.name}\u0000${r.label}`;
        const dir = path.join(ctx.tmpDir, 'startup', `${all.indexOf(c)}-${roots.indexOf(r)}`);
        mkdirSync(dir, { recursive: true });
        const s = await startOnce(r.root, c, dir);
        if (typeof s === 'string') {
          (failures.get(key) ?? failures.set(key, []).get(key)!).push(s);
          o.say(`  round ${round}/${o.rounds} ${c.name} [${r.label}] FAILED: ${s}`);
          continue;
        }
        (samples.get(key) ?? samples.set(key, []).get(key)!).push(s);
        const w = s.workersMb.length ? `  workers ${s.workersMb.map((x) => x.toFixed(1)).join(' / ')} MB` : '';
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(34)} [${r.label}] ready ${s.readyMs.toFixed(0).padStart(5)} ms  RSS ${s.rssMb.toFixed(1)} MB${w}`);
      }
    }
  }
  const out = [TITLE, '', '| case | checkout | ready ms (median) | ready ms (min–max) | RSS MB (median) | workers RSS MB (median each) | goal |', '|---|---|---:|---:|---:|---:|---|'];
  for (const c of all) {
    for (const r of roots) {
      const key = `${c.name}\u0000${r.label}`;
      const ss = samples.get(key) ?? [];
      const fails = failures.get(key)?.length ?? 0;
      if (ss.length === 0) {
        out.push(`| ${c.name} | ${r.label} | failed | | | | |`);
        continue;
      }
      const ready = median(ss.map((s) => s.readyMs));
      const rss = median(ss.map((s) => s.rssMb));
      const ws = c.workers > 1 ? Array.from({ length: c.workers }, (_, i) => median(ss.map((s) => s.workersMb[i] ?? NaN).filter(Number.isFinite)).toFixed(1)).join(' / ') : '–';
      const goal = c.config === null ? `< 1000 ms ${ready < 1000 ? 'met' : '**not met**'}, < 80 MB ${rss < 80 ? 'met' : '**not met**'}` : '–';
      const readyRange = `${Math.min(...ss.map((s) => s.readyMs)).toFixed(0)}–${Math.max(...ss.map((s) => s.readyMs)).toFixed(0)}`;
      out.push(`| ${c.name}${c.workers > 1 ? ' (RSS: the master)' : ''} | ${r.label} | ${ready.toFixed(0)} | ${readyRange} | ${rss.toFixed(1)} | ${ws} | ${goal}${fails ? ` ⚠ ${fails} failed run(s)` : ''} |`);
    }
  }
  out.push(
    '',
    `${o.rounds} round(s), cases and checkouts interleaved in each round; not pinned (start-up uses more than one thread, and --workers 2 two processes). Ready: from spawn of \`node bin/northgate.js start\` to the first 200 on /readyz (polled every 10 ms). RSS: VmRSS ${IDLE_MS / 1000} s after ready. Log level warn (no start-up lines to parse). The 5-service config: headers and rate-limit (local) on every service, key-auth on three, global cors and request-size-limit, one consumer; the portal case adds the portal (SQLite store) and metering (SQLite).`,
  );
  for (const [key, list] of failures) out.push(`⚠ ${key.replace('\u0000', ' [')}]: ${[...new Set(list)].slice(0, 2).join('; ')}`);
  return out;
}
