// Per-request cost of the gateway on a fixed number of requests, measured in ways that do not
// depend on the machine's load:
//   node dist/bench/instructions.js [--config plain|chain] [--requests N] [--warmup N]
//        [--connections C] [--engine native|node] [--mode callgrind|profile|cpu|perf] [--root DIR]
//        [--config-file FILE] [--method M] [--path P] [--header 'name: value']... [--body TEXT]
// --config-file runs a config of one's own: in it ${PORT}, ${STATUS_PORT}, ${UPSTREAM_PORT},
// ${UPSTREAM2_PORT} (a second nginx port answering the same) and ${DIR} (a scratch folder) are
// replaced; ${ENGINE} by the engine. --method/--path/--header/--body shape the measured request.
// - callgrind: the gateway runs under `valgrind --tool=callgrind`; instrumentation is switched on
//   after the warm-up (callgrind_control -i on) and the instructions of the measured requests are
//   divided by their number (every thread of the process counted: JIT, GC, libuv).
//   NG_KEEP_CALLGRIND=PREFIX keeps the dumps (PREFIX.callgrind.out*).
// - profile: the inspector's CPU profiler over the measured requests, self time per function.
//   NG_KEEP_PROFILE=FILE keeps the .cpuprofile.
// - perf: `perf record -e cpu-clock` on the gateway (kernel and user, JIT code named through
//   --perf-basic-prof), self share per symbol.
// - cpu: user+system CPU µs of the gateway process per request (noisy on a busy machine).
// The upstream is nginx (not measured), the load a raw keep-alive client in this process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chainConfig, KEY } from './chain.js';
import { freePort, httpStatus, sleep, treeCpuSeconds, waitForHttp200, which } from './proc.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BODY = '{"id":1,"service":"northgate-bench","status":"ok","tags":["a","b","c"],"payload":"0123456789abcdef0123"}';

interface Options {
  config: 'plain' | 'chain';
  requests: number;
  warmup: number;
  connections: number;
  engine: 'native' | 'node';
  mode: 'callgrind' | 'profile' | 'cpu' | 'perf';
  top: number;
  /** The checkout whose bin/northgate.js runs (default: this one), to compare two builds. */
  root: string;
  configFile: string | null;
  method: string;
  path: string;
  headers: string[];
  body: string;
}

function parse(argv: string[]): Options {
  const o: Options = { config: 'plain', requests: 20_000, warmup: 5_000, connections: 8, engine: 'native', mode: 'callgrind', top: 40, root: repoRoot, configFile: null, method: 'GET', path: '/', headers: [], body: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!.replace(/^--/, '');
    const v = argv[i + 1] ?? '';
    if (k === 'config' && (v === 'plain' || v === 'chain')) o.config = v;
    else if (k === 'requests') o.requests = Math.max(1, Math.min(1_000_000, Number(v)));
    else if (k === 'warmup') o.warmup = Math.max(0, Math.min(1_000_000, Number(v)));
    else if (k === 'connections') o.connections = Math.max(1, Math.min(512, Number(v)));
    else if (k === 'engine' && (v === 'native' || v === 'node')) o.engine = v;
    else if (k === 'mode' && (v === 'callgrind' || v === 'profile' || v === 'cpu' || v === 'perf')) o.mode = v;
    else if (k === 'root') o.root = path.resolve(v);
    else if (k === 'config-file') o.configFile = path.resolve(v);
    else if (k === 'method' && /^[A-Z]+$/.test(v)) o.method = v;
    else if (k === 'path' && v.startsWith('/')) o.path = v;
    else if (k === 'header' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+: ?[^\r\n]*$/.test(v)) o.headers.push(v);
    else if (k === 'body') o.body = v;
    else if (k === 'top') o.top = Math.max(1, Math.min(500, Number(v)));
    else throw new Error(`unknown or bad option --${k} ${v}`);
  }
  return o;
}

function gatewayConfig(o: Options, port: number, statusPort: number, upstreamPort: number, upstream2Port: number, dir: string): string {
  if (o.configFile !== null) {
    const vars: Record<string, string> = { PORT: String(port), STATUS_PORT: String(statusPort), UPSTREAM_PORT: String(upstreamPort), UPSTREAM2_PORT: String(upstream2Port), DIR: dir, ENGINE: o.engine };
    return readFileSync(o.configFile, 'utf8').replace(/\$\{([A-Z0-9_]+)\}/g, (m, name: string) => vars[name] ?? m);
  }
  const head = `_format_version: "1"
engine: ${o.engine}
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
`;
  if (o.config === 'plain') {
    return `${head}access_log: { enabled: false }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: bench, paths: ["/"] }
`;
  }
  return `engine: ${o.engine}\n` + chainConfig(port, statusPort, upstreamPort, path.join(dir, 'access.log'));
}

function nginxConfig(dir: string, port: number, port2: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tb; proxy_temp_path ${dir}/tp; fastcgi_temp_path ${dir}/tf; uwsgi_temp_path ${dir}/tu; scgi_temp_path ${dir}/ts;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:${port};
    listen 127.0.0.1:${port2};
    location / { default_type application/json; return 200 '${BODY}'; }
  }
}
`;
}

/** `total` requests over `connections` keep-alive connections, one at a time on each; resolves when all were answered 200. */
async function load(o: Options, port: number, total: number, connections: number): Promise<void> {
  const extra = o.headers.map((h) => `${h}\r\n`).join('');
  const body = o.body === '' ? '' : `content-length: ${Buffer.byteLength(o.body)}\r\n\r\n${o.body}`;
  const request = Buffer.from(`${o.method} ${o.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\napikey: ${KEY}\r\n${extra}${body === '' ? '\r\n' : body}`, o.body === '' ? 'latin1' : 'utf8');
  let sent = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let buf = '';
      const next = (): void => {
        if (sent >= total) {
          socket.end();
          return resolve();
        }
        sent++;
        socket.write(request);
      };
      socket.on('connect', next);
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buf.slice(0, end);
          if (!head.startsWith('HTTP/1.1 200')) return reject(new Error(`unexpected answer: ${head.split('\r\n')[0]}`));
          const m = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (m === null) return reject(new Error('answer without content-length'));
          const len = end + 4 + Number(m[1]);
          if (buf.length < len) return;
          buf = buf.slice(len);
          next();
        }
      });
    });
  const all: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) all.push(one());
  await Promise.all(all);
}

const PROFILE_HOOK = `
const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
let on = false;
process.on('SIGUSR2', () => {
  if (!on) {
    on = true;
    session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 50 }, () => session.post('Profiler.start')));
    return;
  }
  session.post('Profiler.stop', (err, r) => {
    fs.writeFileSync(process.env.NG_PROFILE_OUT, JSON.stringify(r.profile));
    on = false;
  });
});
`;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

function summarizeProfile(file: string, top: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const byNode = new Map<number, ProfileNode>();
  for (const n of p.nodes) byNode.set(n.id, n);
  const self = new Map<string, number>();
  let total = 0;
  for (const id of p.samples) {
    const n = byNode.get(id)!;
    const f = n.callFrame;
    const where = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${f.lineNumber + 1}`;
    const key = `${f.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + 1);
    total++;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const out = [`| self % | function |`, `|---:|---|`];
  for (const [k, v] of rows) out.push(`| ${((100 * v) / total).toFixed(1)} | ${k.replace(/\|/g, '\\|')} |`);
  out.push(`(${total} samples)`);
  return out;
}

/** callgrind_control on the gateway (through vgdb); its output goes to stderr. */
function control(pid: number, ...args: string[]): void {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8', timeout: 120_000 });
  process.stderr.write(`callgrind_control ${args.join(' ')}: ${r.status} ${(r.stdout ?? '').trim()} ${(r.stderr ?? '').trim()}\n`);
}

async function waitReady(url: string, totalMs: number, eachMs: number): Promise<boolean> {
  const deadline = Date.now() + totalMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if ((await httpStatus(url, eachMs)) === 200) return true;
    await sleep(200);
  }
  return false;
}

function callgrindTotal(file: string): number {
  const text = readFileSync(file, 'utf8');
  const m = /^totals: (\d+)/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const nginx = which('nginx');
  if (nginx === null) throw new Error('nginx is needed for the upstream');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ng-instr-'));
  const children: ChildProcess[] = [];
  // SIGTERM: nginx's master stops its workers on it (a killed master leaves them serving).
  const stop = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  };
  process.on('exit', stop);
  try {
    const upPort = await freePort();
    const upPort2 = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, upPort, upPort2));
    children.push(spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' }));
    const upErr = await waitForHttp200(`http://127.0.0.1:${upPort}/`, 10_000);
    if (upErr !== null) throw new Error(`nginx: ${upErr}`);

    const port = await freePort();
    const statusPort = await freePort();
    const cfg = path.join(dir, 'gateway.yaml');
    writeFileSync(cfg, gatewayConfig(o, port, statusPort, upPort, upPort2, dir));
    const bin = path.join(o.root, 'bin', 'northgate.js');
    const cgOut = path.join(dir, 'callgrind.out');
    const profOut = path.join(dir, 'profile.cpuprofile');
    let cmd = process.execPath;
    let args = [bin, 'start', '--config', cfg];
    const env = { ...process.env };
    if (o.mode === 'callgrind') {
      args = ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${cgOut}`, process.execPath, ...args];
      cmd = 'valgrind';
    } else if (o.mode === 'perf') {
      args = ['--perf-basic-prof', ...args];
    } else if (o.mode === 'profile') {
      writeFileSync(path.join(dir, 'hook.cjs'), PROFILE_HOOK);
      env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --require ${path.join(dir, 'hook.cjs')}`;
      env.NG_PROFILE_OUT = profOut;
    }
    const gw = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env, cwd: o.root });
    children.push(gw);
    let stderr = '';
    gw.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    // Under valgrind the gateway starts (and answers) some fifty times slower.
    const ready = await waitReady(`http://127.0.0.1:${statusPort}/readyz`, o.mode === 'callgrind' ? 1_200_000 : 20_000, o.mode === 'callgrind' ? 30_000 : 1_000);
    if (!ready) throw new Error(`gateway not ready\n${stderr}`);
    process.stderr.write(`${new Date().toISOString()} ready\n`);
    await load(o, port, o.warmup, o.connections);
    process.stderr.write(`${new Date().toISOString()} warm\n`);
    await sleep(200);
    const line = `${o.configFile === null ? o.config : path.basename(o.configFile)} ${o.engine} ${o.requests} requests, ${o.connections} connections`;
    if (o.mode === 'callgrind') {
      control(gw.pid!, '-i', 'on');
      await load(o, port, o.requests, o.connections);
      control(gw.pid!, '-i', 'off');
      control(gw.pid!, '-d');
      // The dump is written by the gateway (slowly, under valgrind): wait for its totals line.
      let dumps: string[] = [];
      let ir = 0;
      for (let i = 0; i < 600 && ir === 0; i++) {
        await sleep(500);
        dumps = readdirSync(dir).filter((f) => f.startsWith('callgrind.out'));
        ir = 0;
        for (const f of dumps) ir += callgrindTotal(path.join(dir, f));
      }
      if (ir === 0) throw new Error('callgrind wrote no totals');
      process.stdout.write(`${line}: ${Math.round(ir / o.requests)} instructions/request (${ir} in ${dumps.length} dump(s))\n`);
      if (process.env.NG_KEEP_CALLGRIND) {
        for (const f of dumps) spawnSync('cp', [path.join(dir, f), process.env.NG_KEEP_CALLGRIND + '.' + f]);
      }
    } else if (o.mode === 'profile') {
      gw.kill('SIGUSR2');
      await sleep(300);
      await load(o, port, o.requests, o.connections);
      gw.kill('SIGUSR2');
      for (let i = 0; i < 100; i++) {
        await sleep(100);
        try {
          readFileSync(profOut);
          break;
        } catch {
          // not written yet
        }
      }
      process.stdout.write(`${line}: CPU profile, self time\n${summarizeProfile(profOut, o.top).join('\n')}\n`);
      if (process.env.NG_KEEP_PROFILE) writeFileSync(process.env.NG_KEEP_PROFILE, readFileSync(profOut));
    } else if (o.mode === 'perf') {
      const data = path.join(dir, 'perf.data');
      const rec = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '4000', '-p', String(gw.pid), '-o', data], { stdio: 'ignore' });
      await sleep(500);
      const before = treeCpuSeconds(gw.pid) ?? 0;
      await load(o, port, o.requests, o.connections);
      const after = treeCpuSeconds(gw.pid) ?? 0;
      rec.kill('SIGINT');
      await new Promise((r) => rec.once('exit', r));
      const rep = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,symbol', '--stdio', '--percent-limit', '0.3'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      const rows = (text: string): string[] => text.split('\n').filter((l) => /^\s+\d/.test(l)).map((l) => l.replace(/\s+-\s+-\s*$/, '').replace(/\s{2,}/g, '  ').trim());
      const dso = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso', '--stdio'], { encoding: 'utf8', maxBuffer: 64 << 20 });
      process.stdout.write(`${line}: ${(((after - before) * 1e6) / o.requests).toFixed(1)} CPU µs/request; perf self share\n${rows(dso.stdout).slice(0, 8).join('\n')}\n\n${rows(rep.stdout).slice(0, o.top).join('\n')}\n`);
    } else {
      const before = treeCpuSeconds(gw.pid) ?? 0;
      const t0 = performance.now();
      await load(o, port, o.requests, o.connections);
      const wall = performance.now() - t0;
      const after = treeCpuSeconds(gw.pid) ?? 0;
      process.stdout.write(`${line}: ${(((after - before) * 1e6) / o.requests).toFixed(1)} CPU µs/request, ${((wall * 1000 * o.connections) / o.requests).toFixed(0)} µs/request on a connection (wall)\n`);
    }
    gw.kill('SIGTERM');
    await sleep(500);
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
