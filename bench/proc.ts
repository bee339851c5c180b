// Child-process bookkeeping for the benchmark: every process started here is
// registered, and killed at the end, on SIGINT/SIGTERM and on exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface Pinning {
  enabled: boolean;
  proxyCore: number;
  loadCore: number;
  /** One line explaining how processes are placed. */
  note: string;
}

export interface Child {
  name: string;
  cp: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<string>;
  alive(): boolean;
  stderrTail(): string;
  /** SIGTERM (or the given signal), then SIGKILL after graceMs. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const children = new Set<Child>();
const exitHooks: (() => void)[] = [];

/** Synchronous clean-up (e.g. removing the temp dir) run at process exit, signals included. */
export function onExit(fn: () => void): void {
  exitHooks.push(fn);
}

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Parses a taskset CPU list such as "0-3,6". */
function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let c = a; c <= b && out.length < 1024; c++) out.push(c);
  }
  return out;
}

export function detectPinning(disabled: boolean): Pinning {
  const off = (why: string): Pinning => ({ enabled: false, proxyCore: -1, loadCore: -1, note: `unpinned (${why})` });
  if (disabled) return off('--no-pin');
  if (os.availableParallelism() < 2) return off('only 1 CPU available');
  if (!which('taskset')) return off('taskset not found');
  const r = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8', timeout: 5000 });
  const m = /list:\s*(.+)$/m.exec(r.stdout ?? '');
  const cpus = m?.[1] ? parseCpuList(m[1]) : [];
  if (r.status !== 0 || cpus.length < 2) return off('could not read 2 allowed CPUs from taskset');
  const [proxyCore, loadCore] = cpus as [number, number];
  // Keep the orchestrator itself off the proxy core: all its threads (-a), not only the main
  // one — its GC and libuv threads (busy when it runs the tracing scenario's OTLP sink) would
  // otherwise share the proxy's core.
  spawnSync('taskset', ['-a', '-cp', String(loadCore), String(process.pid)], { timeout: 5000 });
  return {
    enabled: true,
    proxyCore,
    loadCore,
    note: `proxy under test pinned to CPU ${proxyCore}; upstream, load generator and this orchestrator pinned to CPU ${loadCore} (taskset)`,
  };
}

/** Prefixes `taskset -c <core>` when pinning is on. */
export function pinned(pin: Pinning, core: 'proxy' | 'load', cmd: string, args: string[]): [string, string[]] {
  if (!pin.enabled) return [cmd, args];
  return ['taskset', ['-c', String(core === 'proxy' ? pin.proxyCore : pin.loadCore), cmd, ...args]];
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  stdout?: 'ignore' | 'pipe';
}

export function startChild(name: string, cmd: string, args: string[], opts: StartOptions = {}): Child {
  const cp = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'],
  });
  let tail = '';
  cp.stderr?.setEncoding('utf8');
  cp.stderr?.on('data', (d: string) => {
    tail = (tail + d).slice(-4000);
  });
  let done = false;
  const exited = new Promise<string>((resolve) => {
    cp.on('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      done = true;
      resolve('spawn-error');
    });
    cp.on('exit', (code, sig) => {
      done = true;
      resolve(sig ?? String(code));
    });
  });
  const child: Child = {
    name,
    cp,
    exited,
    alive: () => !done,
    stderrTail: () => tail.trim(),
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (!done) {
        cp.kill(signal);
        const t = await Promise.race([exited.then(() => 'exited'), sleep(graceMs).then(() => 'timeout')]);
        if (t === 'timeout' && !done) {
          cp.kill('SIGKILL');
          await Promise.race([exited, sleep(2000)]);
        }
      }
      children.delete(child);
    },
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()));
}

let stoppingNow = false;
/** True once SIGINT/SIGTERM cleanup has begun (callers stop printing). */
export function isStopping(): boolean {
  return stoppingNow;
}

let handlersInstalled = false;
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stoppingNow) return;
    stoppingNow = true;
    process.stderr.write(`\n${sig}: stopping ${children.size} child process(es)...\n`);
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const c of children) if (c.alive()) c.cp.kill('SIGKILL');
    for (const fn of exitHooks) {
      try {
        fn();
      } catch {
        // best effort
      }
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Finds a free TCP port on 127.0.0.1 by listening on port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** One GET; resolves with the status code, or 0 on any error. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Polls url until it answers 200; bounded by timeoutMs. Returns an error text or null. */
export async function waitForHttp200(url: string, timeoutMs: number, child?: Child): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (child && !child.alive()) return `process exited (${await child.exited})${tailNote(child)}`;
    last = await httpStatus(url, 1000);
    if (last === 200) return null;
    await sleep(100);
  }
  return `${url} not 200 after ${timeoutMs / 1000} s (last status: ${last || 'no answer'})${child ? tailNote(child) : ''}`;
}

function tailNote(child: Child): string {
  const t = child.stderrTail();
  if (!t) return '';
  const lines = t.split('\n').filter((l) => l.trim());
  return `; stderr: ${lines.slice(-3).join(' | ').slice(0, 400)}`;
}

/**
 * Calls onLine for each stdout line of a child started with stdout: 'pipe'.
 * Returns a detach function.
 */
export function onStdoutLines(child: Child, onLine: (line: string) => void): () => void {
  const out = child.cp.stdout;
  if (!out) return () => {};
  out.setEncoding('utf8');
  let buf = '';
  const onData = (d: string): void => {
    buf += d;
    for (let i = 0; i < 100_000; i++) {
      const nl = buf.indexOf('\n');
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
    if (buf.length > 1_000_000) buf = '';
  };
  out.on('data', onData);
  return () => out.off('data', onData);
}

/** Waits for the first stdout line matching pred (bounded). */
export function waitForLine(child: Child, pred: (line: string) => boolean, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let detach = (): void => {};
    const timer = setTimeout(() => finish(null), timeoutMs);
    const finish = (v: string | null): void => {
      clearTimeout(timer);
      detach();
      resolve(v);
    };
    detach = onStdoutLines(child, (l) => {
      if (pred(l)) finish(l);
    });
    void child.exited.then(() => finish(null));
  });
}

export function describeExit(child: Child): string {
  return tailNote(child);
}

function cpuTimes(): { idle: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 5 || f.some((x) => !Number.isFinite(x))) return null;
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Share of all CPUs busy over `ms` (Linux /proc/stat), or null when unknown. */
export async function cpuBusyPercent(ms: number): Promise<number | null> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  if (!a || !b || b.total <= a.total) return null;
  return 100 * (1 - (b.idle - a.idle) / (b.total - a.total));
}

/**
 * User + system CPU seconds of a process and its live children so far (Linux /proc), or null
 * elsewhere. Children count for nginx, whose worker does the work under its master.
 */
export function treeCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const own = (p: number): number | null => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    } catch {
      return null;
    }
  };
  const total = own(pid);
  if (total === null) return null;
  let sum = total;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids === '' ? [] : kids.split(' ')) sum += own(Number(k)) ?? 0;
    }
  } catch {
    // no children file: the process alone
  }
  return sum;
}

/**
 * A `/proc/<pid>/status` size field (kB) summed over a process and its live children, or null
 * when unknown (not Linux, or the process is gone). VmRSS is the resident set now, VmHWM its
 * high-water mark since the process started.
 */
export function treeStatusKb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | null {
  if (pid === undefined) return null;
  const re = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm');
  const own = (p: number): number | null => {
    try {
      const m = re.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      return m?.[1] ? Number(m[1]) : null;
    } catch {
      return null;
    }
  };
  const total = own(pid);
  if (total === null) return null;
  let sum = total;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const k of kids === '' ? [] : kids.split(' ')) sum += own(Number(k)) ?? 0;
    }
  } catch {
    // no children file: the process alone
  }
  return sum;
}

/**
 * Samples the resident set of a process tree every `everyMs` while a load runs on it; the
 * returned function stops sampling and gives the highest sum seen (kB), or NaN when unknown.
 * The tree's VmHWM would also count start-up; a sampled peak is the memory under load.
 */
export function sampleTreeRss(pid: number | undefined, everyMs = 200): () => number {
  let peak = NaN;
  const take = (): void => {
    const kb = treeStatusKb(pid, 'VmRSS');
    if (kb !== null && !(kb <= peak)) peak = kb;
  };
  take();
  const timer = setInterval(take, everyMs);
  return () => {
    clearInterval(timer);
    take();
    return peak;
  };
}
