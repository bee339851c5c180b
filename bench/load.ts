// Load generators: wrk when on PATH, else autocannon in a child process.
// Both run pinned to the load core when pinning is on.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { onExit, pinned, sleep, startChild, which, type Pinning } from './proc.js';

export interface LoadResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  /** wrk: responses with status >= 400; autocannon: any non-2xx. */
  non2xx: number;
  /** connect/read/write/timeout errors (wrk) or errors + timeouts (autocannon). */
  socketErrors: number;
  /** e.g. "connect 0, read 0, write 0, timeout 12" (wrk) or "errors 3, timeouts 1" */
  socketDetail?: string;
  durationS: number;
  /** Set when the load generator itself failed; the numbers are then zero. */
  failure?: string;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Ends the run early (SIGINT to the load generator, which still reports). */
  signal?: AbortSignal;
  /** Request headers sent with every request (e.g. credentials). */
  headers?: Record<string, string>;
  /** Each request gets its own query `?<name>=<counter>` (a new cache key every time). */
  uniqueQuery?: string;
  /** Each request is a POST of this JSON body (not with uniqueQuery). */
  postJson?: string;
}

export interface Loader {
  name: 'wrk' | 'autocannon';
  version: string;
  /** e.g. "wrk -t1 -c50 --latency" */
  describe(connections: number): string;
  run(opts: LoadOptions): Promise<LoadResult>;
}

const ZERO: LoadResult = { rps: 0, p50ms: 0, p99ms: 0, requests: 0, non2xx: 0, socketErrors: 0, durationS: 0 };

export function pickLoader(pin: Pinning, benchDir: string, forced?: string): Loader {
  const wrk = which('wrk');
  if (forced === 'autocannon' || (!wrk && forced !== 'wrk')) return autocannonLoader(pin, benchDir);
  if (!wrk) throw new Error('--loader wrk given but wrk is not on PATH');
  return wrkLoader(pin);
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  if (unit === 'us') return v / 1000;
  if (unit === 's') return v * 1000;
  if (unit === 'm') return v * 60_000;
  return v; // ms
}

export function parseWrk(out: string): LoadResult {
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    return m?.[1] ? Number(m[1]) : 0;
  };
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m?.[1] && m[2] ? toMs(m[1], m[2]) : 0;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  const dur = /requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50ms: pct('50'),
    p99ms: pct('99'),
    requests: num(/^\s*(\d+) requests in/m),
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    socketErrors,
    ...(sock ? { socketDetail: sock[0].replace('Socket errors: ', '') } : {}),
    durationS: dur?.[1] && dur[2] ? toMs(dur[1], dur[2]) / 1000 : 0,
  };
}

function versionLine(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  const m = re.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return m?.[1] ?? 'unknown';
}

function wrkLoader(pin: Pinning): Loader {
  return {
    name: 'wrk',
    version: versionLine('wrk', ['--version'], /wrk\s+(\S+)/),
    describe: (c) => `wrk -t1 -c${c} --latency`,
    async run({ url, connections, durationS, signal, headers, uniqueQuery, postJson }) {
      // With a signal the run is open-ended (bounded at 600 s) and ends on abort.
      const d = signal ? 600 : Math.max(1, Math.round(durationS));
      const script = postJson !== undefined ? ['-s', postScript(postJson)] : uniqueQuery === undefined ? [] : ['-s', uniqueQueryScript(url, uniqueQuery)];
      const args = ['-t1', `-c${connections}`, `-d${d}s`, '--latency', ...script, ...Object.entries(headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
      return runChild('wrk', pin, 'wrk', args, d, signal, (out) => {
        const r = parseWrk(out);
        return r.requests > 0 || /requests in/.test(out) ? r : null;
      });
    },
  };
}

/** A wrk Lua script that appends `?<name>=<counter>` to the URL's path, one counter value per request. */
const scripts = new Map<string, string>();

function uniqueQueryScript(url: string, name: string): string {
  const known = scripts.get(`${url} ${name}`);
  if (known !== undefined) return known;
  const u = new URL(url);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'northgate-wrk-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'unique.lua');
  scripts.set(`${url} ${name}`, file);
  const prefix = `${u.pathname}${u.search === '' ? '?' : `${u.search}&`}${name}=`;
  writeFileSync(file, `local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, ${JSON.stringify(prefix)} .. n)\nend\n`);
  return file;
}

/** A wrk Lua script that POSTs `body` as JSON. */
function postScript(body: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'northgate-wrk-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'post.lua');
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`);
  return file;
}

function autocannonLoader(pin: Pinning, benchDir: string): Loader {
  const req = createRequire(import.meta.url);
  let version = 'unknown';
  try {
    version = (req('autocannon/package.json') as { version: string }).version;
  } catch {
    // keep unknown
  }
  const script = path.join(benchDir, 'autocannon-child.js');
  return {
    name: 'autocannon',
    version,
    describe: (c) => `autocannon -c${c} (child process, own µs latency record)`,
    async run({ url, connections, durationS, signal, headers, uniqueQuery, postJson }) {
      const d = signal ? 600 : Math.max(1, Math.round(durationS));
      return runChild('autocannon', pin, process.execPath, [script, url, String(connections), String(d), JSON.stringify(headers ?? {}), uniqueQuery ?? '', postJson ?? ''], d, signal, (out) => {
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (!line) return null;
        const j = JSON.parse(line) as Partial<LoadResult> & { error?: string };
        if (j.error) return { ...ZERO, failure: j.error };
        return { ...ZERO, ...j };
      });
    },
  };
}

async function runChild(
  name: string,
  pin: Pinning,
  cmd: string,
  args: string[],
  durationS: number,
  signal: AbortSignal | undefined,
  parse: (stdout: string) => LoadResult | null,
): Promise<LoadResult> {
  const [c, a] = pinned(pin, 'load', cmd, args);
  const child = startChild(name, c, a, { stdout: 'pipe' });
  let out = '';
  const stdout = child.cp.stdout;
  stdout?.setEncoding('utf8');
  stdout?.on('data', (d: string) => {
    out += d;
  });
  const ended = new Promise<void>((resolve) => {
    if (!stdout) resolve();
    stdout?.on('close', () => resolve());
  });
  const onAbort = (): void => {
    child.cp.kill('SIGINT');
  };
  if (signal) {
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  // Hard bound: duration + 30 s, then the process is killed.
  const timer = setTimeout(() => void child.stop('SIGKILL', 1000), (durationS + 30) * 1000);
  const code = await child.exited;
  clearTimeout(timer);
  signal?.removeEventListener('abort', onAbort);
  await Promise.race([ended, sleep(2000)]); // let the last stdout chunk arrive
  let parsed: LoadResult | null = null;
  try {
    parsed = parse(out);
  } catch (err) {
    parsed = { ...ZERO, failure: `could not parse ${name} output: ${(err as Error).message}` };
  }
  if (parsed) return parsed;
  const why = child.stderrTail().split('\n').slice(-2).join(' | ') || out.slice(-200);
  return { ...ZERO, failure: `${name} exited ${code}: ${why}` };
}
