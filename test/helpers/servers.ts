// Real servers for tests: upstreams on 127.0.0.1 port 0, an in-process gateway, and the
// real CLI in a child process. Nothing here is a mock.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Plugin } from '../../src/sdk/plugin.js';
import type { Gateway, ReloadResult } from '../../src/runtime/gateway.js';

export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'northgate.js');

export interface Upstream {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startUpstream(handler: RequestListener): Promise<Upstream> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** An upstream that answers with what it received: method, url, headers (raw), body. */
export function startEchoUpstream(): Promise<Upstream> {
  return startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

/** Directories tempDir made, removed as the test file's process exits. */
const tempDirs = new Set<string>();

/**
 * A fresh directory under the system's temp dir, removed with what is in it when the test
 * file's process exits (each file runs in a process of its own), so that runs of the suite do
 * not fill /tmp. NORTHGATE_KEEP_TEST_DIRS=1 keeps them, to look at after a failure.
 */
export function tempDir(prefix = 'northgate-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.size === 0 && process.env['NORTHGATE_KEEP_TEST_DIRS'] !== '1') process.once('exit', removeTempDirs);
  tempDirs.add(dir);
  return dir;
}

function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A child process that outlived its test may still hold a file there: leave it.
    }
  }
}

/** The HTTP/1.1 engine the e2e suites run the gateway with (test/node/ sets it to node). */
/**
 * A loopback port nothing listens on: 1 (tcpmux) needs privileges to bind and no test binds it,
 * so a connection is refused. A port taken from a closed server is not: a parallel test may
 * bind it again before the request.
 */
export const DEAD_PORT = 1;

export const TEST_ENGINE: 'node' | 'native' = process.env['NORTHGATE_TEST_ENGINE'] === 'node' ? 'node' : 'native';

/** A gateway config (YAML or JSON) with the suite's engine, unless it names one itself. */
export function withTestEngine(text: string): string {
  if (TEST_ENGINE === 'native' || !/_format_version/.test(text) || /^engine:|"engine":/m.test(text)) return text;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) return JSON.stringify({ ...(JSON.parse(text) as object), engine: TEST_ENGINE }, null, 2) + '\n';
  return `${text}${text.endsWith('\n') ? '' : '\n'}engine: ${TEST_ENGINE}\n`;
}

export function writeConfig(text: string, name = 'northgate.yaml'): string {
  const file = join(tempDir(), name);
  writeFileSync(file, withTestEngine(text));
  return file;
}

export interface InProcessGateway {
  gateway: Gateway;
  reload(text: string): ReloadResult;
  port: number;
  /** Every proxy listener's bound port, in config order. */
  ports: number[];
  url: string;
  close(): Promise<void>;
}

/** A gateway in this process on a real socket, from YAML text (listen addresses forced to port 0). */
export async function startGateway(yaml: string, plugins: Plugin[] = []): Promise<InProcessGateway> {
  // Loaded here, not with this module: a suite that only runs the CLI never loads the gateway.
  const [{ loadConfigText }, { PluginRegistry }, { BUILTIN_PLUGINS }, { Gateway }, { createLogger }] = await Promise.all([
    import('../../src/compiler/load.js'),
    import('../../src/pipeline/registry.js'),
    import('../../src/plugins/index.js'),
    import('../../src/runtime/gateway.js'),
    import('../../src/base/logger.js'),
  ]);
  const registry = new PluginRegistry([...BUILTIN_PLUGINS, ...plugins]);
  const logger = createLogger({ level: 'silent' });
  let text = yaml;
  const load = () => loadConfigText('test.yaml', withTestEngine(text), registry);
  const gateway = new Gateway({ registry, logger, loadConfig: load, source: 'test.yaml' });
  gateway.load();
  const all = await gateway.listen();
  const port = all[0]!.port;
  return {
    gateway,
    port,
    ports: all.map((b) => b.port),
    url: `http://127.0.0.1:${port}`,
    reload: (next: string) => {
      text = next;
      return gateway.reload();
    },
    close: async () => {
      await gateway.drain(1000);
    },
  };
}

export interface HttpResult {
  status: number;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: string;
}

/** One request over a fresh connection with node:http (raw control over headers and path). */
export function http(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string | string[]> | string[]; body?: string | Buffer; setHost?: boolean } = {},
): Promise<HttpResult> {
  const u = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: opts.path ?? u.pathname + u.search,
        headers: opts.headers as Record<string, string>,
        agent: false,
        setHost: opts.setHost ?? true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes on a TCP connection and returns everything the server answers until it closes (or 3 s pass). */
export async function rawRequest(port: number, text: string): Promise<string> {
  return (await rawExchange(port, text)).text;
}

/** Like rawRequest, and says whether the server closed the connection (rather than the 3 s cap). */
export async function rawExchange(port: number, text: string, capMs = 3000): Promise<{ text: string; serverClosed: boolean }> {
  const { connect } = await import('node:net');
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let capped = false;
    const timer = setTimeout(() => {
      capped = true;
      socket.destroy();
    }, capMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolvePromise({ text: Buffer.concat(chunks).toString('latin1'), serverClosed: !capped });
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

export interface CliGateway {
  child: ChildProcess;
  port: number;
  statusPort: number | null;
  url: string;
  /** JSON log lines seen so far on stdout. */
  lines: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Resolves with the first log line (already seen or future) that satisfies `pred`. */
  waitFor(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `northgate start` for real in a child process and waits until it has announced its listeners. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliGateway> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(parsed);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.pred(parsed)) {
        waiters[i]!.resolve(parsed);
        waiters.splice(i, 1);
      }
    }
  });
  const exited = once(child, 'exit');
  const waitFor = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const seen = lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolveWait, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr: ${stderr}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolveWait(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`gateway exited; stderr: ${stderr}`));
      });
    });
  };
  let started: Record<string, unknown>;
  try {
    started = await waitFor((l) => l['type'] === 'start', 45_000); // generous: a loaded 2-core machine starting N workers
  } catch (err) {
    // A gateway that never became ready must not outlive the test (it would hold the file open).
    child.kill('SIGKILL');
    throw err;
  }
  const proxy = (started['proxy'] as string[])[0]!;
  const port = Number(new URL(proxy).port);
  const status = started['status'] as string | null;
  return {
    child,
    port,
    statusPort: status === null ? null : Number(new URL(status).port),
    url: `http://127.0.0.1:${port}`,
    lines,
    stderr: () => stderr,
    waitFor,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
