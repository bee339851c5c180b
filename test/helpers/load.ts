// Helpers for the CLI and life-cycle e2e tests: config text, upstreams that can hold
// requests or count connections, waiting on log lines, and a bounded load generator.
// Everything runs against real sockets; nothing here is a mock.
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http, startUpstream, type CliGateway, type Upstream } from './servers.js';

export type LogLine = Record<string, unknown>;

/** A config as JSON text (YAML is a superset of JSON), always on loopback port 0. */
export function configText(body: Record<string, unknown>): string {
  return JSON.stringify({ _format_version: '1', listen: { proxy: '127.0.0.1:0', status: '127.0.0.1:0' }, ...body }, null, 2) + '\n';
}

/** One service per entry: `/{prefix}` routed with strip_path to `url`. */
export function simpleConfig(routes: Record<string, string>, extra: Record<string, unknown> = {}): string {
  return configText({
    ...extra,
    services: Object.entries(routes).map(([prefix, url]) => ({
      name: `svc-${prefix}`,
      url,
      routes: [{ name: `route-${prefix}`, paths: [`/${prefix}`], strip_path: true }],
    })),
  });
}

export interface NamedUpstream extends Upstream {
  readonly name: string;
  /** TCP connections accepted so far, and the client port of each request. */
  readonly connections: () => number;
  readonly remotePorts: number[];
  /** Requests currently held (see `hold`). */
  readonly held: ServerResponse[];
  /** Resolves when `n` requests have been held since start. */
  heldCount(n: number, timeoutMs?: number): Promise<void>;
  /** Answers every held request now. */
  releaseAll(): void;
}

/**
 * An upstream answering `{"upstream": name, "url": ...}`. Requests whose path contains
 * `/hold` are held until `releaseAll()` (or forever).
 */
export async function startNamedUpstream(name: string): Promise<NamedUpstream> {
  const held: ServerResponse[] = [];
  const remotePorts: number[] = [];
  let heldTotal = 0;
  const heldWaiters: Array<{ n: number; resolve: () => void }> = [];
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({ upstream: name, url: req.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const up = await startUpstream((req, res) => {
    remotePorts.push(req.socket.remotePort!);
    req.resume();
    if (req.url?.includes('/hold')) {
      held.push(res);
      heldTotal++;
      (res as ServerResponse & { _req?: IncomingMessage })._req = req;
      for (let i = heldWaiters.length - 1; i >= 0; i--) {
        if (heldTotal >= heldWaiters[i]!.n) heldWaiters.splice(i, 1)[0]!.resolve();
      }
      return;
    }
    answer(req, res);
  });
  let connections = 0;
  up.server.on('connection', () => connections++);
  return {
    ...up,
    name,
    connections: () => connections,
    remotePorts,
    held,
    heldCount: (n, timeoutMs = 10_000) =>
      heldTotal >= n
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`upstream ${name}: timed out waiting for ${n} held request(s)`)), timeoutMs);
            heldWaiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
          }),
    releaseAll: () => {
      for (const res of held.splice(0)) answer((res as ServerResponse & { _req: IncomingMessage })._req, res);
    },
  };
}

/**
 * Resolves with the first log line matching `pred` that arrives after this call (lines
 * already seen do not count). Call it before sending the signal that causes the line.
 */
export function nextLine(gw: CliGateway, pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
  const before = new Set(gw.lines);
  return gw.waitFor((l) => !before.has(l) && pred(l), timeoutMs);
}

export const isReloadOk = (l: LogLine): boolean => l['type'] === 'reload' && l['msg'] === 'config reloaded';
export const isReloadFailed = (l: LogLine): boolean => l['type'] === 'reload' && String(l['msg']).startsWith('config reload failed');

/** Rewrites the config file, sends SIGHUP, and resolves with the reload's log line (ok or failed). */
export async function rewriteAndReload(gw: CliGateway, file: string, text: string): Promise<LogLine> {
  writeFileSync(file, text);
  const done = nextLine(gw, (l) => isReloadOk(l) || isReloadFailed(l));
  gw.child.kill('SIGHUP');
  return done;
}

/**
 * Resolves with the child's exit code once it has exited and its stdout and stderr are
 * closed, so that every log line it wrote is in `gw.lines` (SIGKILL after `timeoutMs`).
 */
export async function exitCode(gw: CliGateway, timeoutMs = 15_000): Promise<number | null> {
  const child = gw.child;
  const closed = () => (child.exitCode !== null || child.signalCode !== null) && child.stdout!.closed && child.stderr!.closed;
  if (closed()) return child.exitCode;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await once(child, 'close');
    return child.exitCode;
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` and resolves with the exit code once all output is read (see exitCode). */
export async function stopCli(gw: CliGateway, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill(signal);
  return exitCode(gw);
}

/** Kills a CLI child that is still running (test cleanup). */
export async function killCli(gw: CliGateway | undefined): Promise<void> {
  if (gw === undefined || gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  const exited = once(gw.child, 'exit');
  gw.child.kill('SIGKILL');
  await exited;
}

/** Resolves once `text` has appeared on the child's stderr. */
export function stderrIncludes(gw: CliGateway, text: string, timeoutMs = 10_000): Promise<string> {
  if (gw.stderr().includes(text)) return Promise.resolve(gw.stderr());
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!gw.stderr().includes(text)) return;
      cleanup();
      resolve(gw.stderr());
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`stderr never included ${JSON.stringify(text)}: ${gw.stderr()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      gw.child.stderr!.off('data', onData);
    };
    // The helper's own listener runs first (it was added first), so stderr() is current.
    gw.child.stderr!.on('data', onData);
  });
}

/** Polls an URL until it answers `status` (for states no log line announces). Bounded. */
export async function pollStatus(url: string, status: number, attempts = 100, intervalMs = 50): Promise<void> {
  let last = 'nothing';
  for (let i = 0; i < attempts; i++) {
    try {
      const r = await http(url);
      if (r.status === status) return;
      last = `${r.status} ${r.body}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} never answered ${status}; last: ${last}`);
}

/** GET over a fresh connection; resolves with status, body and the x-request-id. */
export async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; requestId: string }> {
  const r = await http(base + path, { headers });
  return { status: r.status, body: r.body, requestId: String(r.headers['x-request-id'] ?? '') };
}

export interface LoadResult {
  sent: number;
  statuses: Record<string, number>;
  errors: string[];
  /** Count of responses per body key (see `keyOf`). */
  keys: Record<string, number>;
}

export interface Load {
  /** Requests finished so far (answered or failed). */
  completed(): number;
  /** Resolves once `n` requests have finished; rejects after `timeoutMs` or when the load ended first. */
  waitForCompleted(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<LoadResult>;
}

/**
 * `concurrency` keep-alive clients, each sending GET `path` in a loop until `stop()`,
 * `maxRequests` in total, or `maxMs` pass, whichever comes first.
 */
export function startLoad(
  base: string,
  opts: { path: string; concurrency?: number; maxRequests?: number; maxMs?: number; keyOf?: (body: string) => string },
): Load {
  const u = new URL(base);
  const concurrency = opts.concurrency ?? 8;
  const maxRequests = opts.maxRequests ?? 200_000;
  const deadline = Date.now() + (opts.maxMs ?? 60_000);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const result: LoadResult = { sent: 0, statuses: {}, errors: [], keys: {} };
  let done = 0;
  let stopped = false;
  const waiters: Array<{ n: number; resolve: () => void; reject: (e: Error) => void }> = [];
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (done >= w.n) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  const one = () =>
    new Promise<void>((resolve) => {
      result.sent++;
      const req = httpRequest({ host: u.hostname, port: u.port, path: opts.path, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = String(res.statusCode);
          result.statuses[status] = (result.statuses[status] ?? 0) + 1;
          if (opts.keyOf) {
            let k: string;
            try {
              k = opts.keyOf(Buffer.concat(chunks).toString());
            } catch {
              k = '(unparseable body)';
            }
            result.keys[k] = (result.keys[k] ?? 0) + 1;
          }
          resolve();
        });
        res.on('error', (err) => {
          result.errors.push(`response: ${err.message}`);
          resolve();
        });
      });
      req.on('error', (err) => {
        result.errors.push(`request: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
        resolve();
      });
      req.end();
    });
  const client = async () => {
    while (!stopped && result.sent < maxRequests && Date.now() < deadline) {
      await one();
      done++;
      settle();
    }
  };
  const clients = Promise.all(Array.from({ length: concurrency }, client)).then(() => {
    stopped = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`load ended after ${done} requests, before reaching ${w.n}`));
  });
  return {
    completed: () => done,
    waitForCompleted: (n, timeoutMs = 10_000) => {
      if (done >= n) return Promise.resolve();
      if (stopped) return Promise.reject(new Error(`load already ended after ${done} requests`));
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} requests (have ${done})`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) });
      });
    },
    stop: async () => {
      stopped = true;
      await clients;
      agent.destroy();
      return result;
    },
  };
}
