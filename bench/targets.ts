// Start/stop of the upstream and of each target under test.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { BODY } from './peers/common.js';
import {
  describeExit,
  freePort,
  pinned,
  startChild,
  waitForHttp200,
  waitForLine,
  type Child,
  type Pinning,
} from './proc.js';

export const TARGET_NAMES = ['direct', 'nginx', 'node-floor', 'net-minimal', 'fastify-http-proxy', 'fast-gateway', 'northgate', 'northgate-access-log', 'northgate-baseline'] as const;

/**
 * Another built checkout of Northgate (BENCH_BASELINE=/path/to/checkout) run as the target
 * `northgate-baseline` with the main table's `northgate` config: a change measured against
 * the code before it, in the same run. Absent unless the variable is set.
 */
export function baselineRoot(): string | null {
  const dir = process.env['BENCH_BASELINE'];
  return dir !== undefined && dir !== '' ? path.resolve(dir) : null;
}
export type TargetName = (typeof TARGET_NAMES)[number];

export interface Ctx {
  pin: Pinning;
  tmpDir: string;
  repoRoot: string;
  /** dist/bench, where the compiled peer scripts live */
  benchDir: string;
  /** nginx binary, or null when not on PATH (or disabled) */
  nginx: string | null;
  /** extra args for `northgate start` (BENCH_NORTHGATE_ARGS) */
  northgateArgs: string[];
  /**
   * Config variants of this checkout's northgate targets (`--northgate-extra`, `--engine`): the
   * main and chain tables show one row per variant; other scenarios use the first. Empty: the
   * configs as written.
   */
  northgateVariants: Variant[];
}

/** Extra top-level config for the northgate targets, e.g. `engine: native`, and its row label. */
export interface Variant {
  label: string;
  extra: string;
}

type Yaml = { [k: string]: unknown };
const isMap = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a variant's YAML; throws when it is not a mapping, so a typo stops the bench before it starts. */
export function parseExtra(extra: string): Yaml {
  const v = load(extra);
  if (!isMap(v)) throw new Error(`extra northgate config must be YAML mapping lines such as "engine: native", got: ${extra}`);
  return v;
}

function merge(into: Yaml, from: Yaml): Yaml {
  const out: Yaml = { ...into };
  for (const [k, v] of Object.entries(from)) out[k] = isMap(v) && isMap(out[k]) ? merge(out[k] as Yaml, v) : v;
  return out;
}

/**
 * A bench config with a variant's lines merged in: mappings merge key by key (so `listen:
 * { engine: native }` adds to the listen section rather than replacing it), anything else
 * replaces. Written out as JSON, which is YAML.
 */
export function withExtra(config: string, extra: string): string {
  if (extra.trim() === '') return config;
  const base = load(config);
  if (!isMap(base)) throw new Error('bench config is not a mapping');
  return `${JSON.stringify(merge(base, parseExtra(extra)), null, 1)}\n`;
}

/** A target's row name with its variant, e.g. `northgate (engine: native)`. */
export function variantName(name: string, v: Variant | undefined): string {
  return v === undefined ? name : `${name} (${v.label})`;
}

export interface Running {
  name: string;
  url: string;
  alive(): boolean;
  stop(): Promise<void>;
  /** The process whose CPU time (with its children's) is the target's cost per request. */
  pid?: number;
}

export type Started = { ok: true; target: Running } | { ok: false; reason: string };

export interface Upstream extends Running {
  kind: 'nginx' | 'node';
  port: number;
}

const fromChild = (name: string, child: Child, url: string): Running => ({
  name,
  url,
  alive: () => child.alive(),
  stop: () => child.stop(),
  ...(child.cp.pid !== undefined ? { pid: child.cp.pid } : {}),
});

function nginxConf(dir: string, server: string, extraHttp = ''): string {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const t = (n: string): string => path.join(dir, n);
  return `${user}worker_processes 1;
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t('tmp_body')};
  proxy_temp_path ${t('tmp_proxy')};
  fastcgi_temp_path ${t('tmp_fastcgi')};
  uwsgi_temp_path ${t('tmp_uwsgi')};
  scgi_temp_path ${t('tmp_scgi')};
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${extraHttp}
  server {
${server}
  }
}
`;
}

async function startNginx(ctx: Ctx, label: string, core: 'proxy' | 'load', port: number, conf: string): Promise<Child | string> {
  if (!ctx.nginx) return 'nginx not on PATH';
  const dir = path.join(ctx.tmpDir, label);
  mkdirSync(dir, { recursive: true });
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const [cmd, args] = pinned(ctx.pin, core, ctx.nginx, ['-p', dir, '-c', confFile, '-g', 'daemon off;']);
  const child = startChild(label, cmd, args);
  const err = await waitForHttp200(`http://127.0.0.1:${port}/`, 10_000, child);
  if (err) {
    await child.stop();
    return `nginx (${label}) did not start: ${err}`;
  }
  return child;
}

export async function startUpstream(ctx: Ctx): Promise<Upstream> {
  if (ctx.nginx) {
    const port = await freePort();
    const server = `    listen 127.0.0.1:${port};
    location / { default_type application/json; return 200 '${BODY}'; }`;
    const c = await startNginx(ctx, 'upstream-nginx', 'load', port, nginxConf(path.join(ctx.tmpDir, 'upstream-nginx'), server));
    if (typeof c !== 'string') {
      return { ...fromChild('upstream', c, `http://127.0.0.1:${port}/`), kind: 'nginx', port };
    }
    process.stdout.write(`! ${c}; falling back to the Node upstream\n`);
  }
  const r = await startNodePeer(ctx, 'node-upstream', 'load', '');
  if (!r.ok) throw new Error(`upstream did not start: ${r.reason}`);
  const port = Number(new URL(r.target.url).port);
  return { ...r.target, name: 'upstream', kind: 'node', port };
}

async function startNodePeer(ctx: Ctx, script: string, core: 'proxy' | 'load', upstream: string): Promise<Started> {
  const file = path.join(ctx.benchDir, 'peers', `${script}.js`);
  const [cmd, args] = pinned(ctx.pin, core, process.execPath, [file, '0', upstream]);
  const child = startChild(script, cmd, args, { stdout: 'pipe' });
  const line = await waitForLine(child, (l) => l.startsWith('{"ready"'), 15_000);
  const port = line ? (JSON.parse(line) as { port: number }).port : 0;
  if (!port) {
    await child.stop();
    return { ok: false, reason: `${script} did not report a port within 15 s${describeExit(child)}` };
  }
  child.cp.stdout?.resume(); // drain anything else it prints
  const url = `http://127.0.0.1:${port}/`;
  const err = await waitForHttp200(url, 10_000, child);
  if (err) {
    await child.stop();
    return { ok: false, reason: `${script} answers but not 200: ${err}` };
  }
  return { ok: true, target: fromChild(script, child, url) };
}

/**
 * The main table's Northgate: one route with the headers plugin. The access log is off as
 * it is for every other target of the table (nginx runs with `access_log off`, the Node peers
 * log nothing); `northgate-access-log` is the same with the default JSON access log on.
 */
export function benchNorthgateConfig(port: number, statusPort: number, upstreamPort: number, accessLog = true): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
${accessLog ? '' : 'access_log: { enabled: false }\n'}services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - name: bench
        paths: ["/"]
        plugins: { headers: { request: { set: { x-bench: "1" } } } }
`;
}

export interface NorthgateProc {
  child: Child;
  port: number;
  statusPort: number;
  configFile: string;
}

/** Why northgate cannot be run here, or null when it looks built. */
export function northgateMissing(repoRoot: string): string | null {
  for (const f of ['dist/src/cli/main.js', 'bin/northgate.js']) {
    if (!existsSync(path.join(repoRoot, f))) return `${f} is missing (gateway not built yet?)`;
  }
  return null;
}

/**
 * Starts `node bin/northgate.js start --config <file>` pinned to the proxy core; waits for /readyz.
 * `extra` (a variant's config lines) defaults to the first variant for this checkout and to
 * none for another one (BENCH_BASELINE may predate the key a variant sets).
 */
export async function startNorthgate(
  ctx: Ctx,
  label: string,
  config: (port: number, statusPort: number) => string,
  stdout: 'ignore' | 'pipe',
  readyTimeoutMs = 15_000,
  repoRoot = ctx.repoRoot,
  extra = repoRoot === ctx.repoRoot ? (ctx.northgateVariants[0]?.extra ?? '') : '',
): Promise<NorthgateProc | string> {
  const missing = northgateMissing(repoRoot);
  if (missing) return missing;
  const port = await freePort();
  const statusPort = await freePort();
  const configFile = path.join(ctx.tmpDir, `${label.replace(/[^\w.-]+/g, '_')}.yaml`);
  writeFileSync(configFile, withExtra(config(port, statusPort), extra));
  const bin = path.join(repoRoot, 'bin', 'northgate.js');
  const [cmd, args] = pinned(ctx.pin, 'proxy', process.execPath, [bin, 'start', '--config', configFile, ...ctx.northgateArgs]);
  const child = startChild(label, cmd, args, { cwd: repoRoot, stdout });
  const err = await waitForHttp200(`http://127.0.0.1:${statusPort}/readyz`, readyTimeoutMs, child);
  if (err) {
    await child.stop();
    return `not ready: ${err}`;
  }
  return { child, port, statusPort, configFile };
}

/** Starts a main-table target; `variant` applies to this checkout's northgate targets. */
export async function startTarget(name: TargetName, ctx: Ctx, up: Upstream, variant?: Variant): Promise<Started> {
  const upstreamUrl = `http://127.0.0.1:${up.port}`;
  switch (name) {
    case 'direct':
      return { ok: true, target: { name, url: up.url, alive: () => up.alive(), stop: async () => {} } };
    case 'nginx': {
      if (!ctx.nginx) return { ok: false, reason: 'nginx not on PATH' };
      const port = await freePort();
      const dir = path.join(ctx.tmpDir, 'proxy-nginx');
      const upstreamBlock = `  upstream bench_upstream {
    server 127.0.0.1:${up.port};
    keepalive 64;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }`;
      const server = `    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }`;
      const c = await startNginx(ctx, 'proxy-nginx', 'proxy', port, nginxConf(dir, server, upstreamBlock));
      if (typeof c === 'string') return { ok: false, reason: c };
      return { ok: true, target: fromChild(name, c, `http://127.0.0.1:${port}/`) };
    }
    case 'node-floor':
      return rename(name, await startNodePeer(ctx, 'node-floor', 'proxy', upstreamUrl));
    case 'net-minimal':
      return rename(name, await startNodePeer(ctx, 'net-minimal', 'proxy', upstreamUrl));
    case 'fastify-http-proxy':
      return rename(name, await startNodePeer(ctx, 'fastify-proxy', 'proxy', upstreamUrl));
    case 'fast-gateway':
      return rename(name, await startNodePeer(ctx, 'fast-gateway', 'proxy', upstreamUrl));
    case 'northgate':
    case 'northgate-access-log': {
      const label = variantName(name, variant);
      const r = await startNorthgate(ctx, label, (p, s) => benchNorthgateConfig(p, s, up.port, name === 'northgate-access-log'), 'ignore', 15_000, ctx.repoRoot, variant?.extra ?? '');
      if (typeof r === 'string') return { ok: false, reason: r };
      return { ok: true, target: fromChild(label, r.child, `http://127.0.0.1:${r.port}/`) };
    }
    case 'northgate-baseline': {
      const root = baselineRoot();
      if (root === null) return { ok: false, reason: 'BENCH_BASELINE is not set' };
      const r = await startNorthgate(ctx, name, (p, s) => benchNorthgateConfig(p, s, up.port, false), 'ignore', 15_000, root);
      if (typeof r === 'string') return { ok: false, reason: `${root}: ${r}` };
      return { ok: true, target: fromChild(name, r.child, `http://127.0.0.1:${r.port}/`) };
    }
  }
}

function rename(name: string, s: Started): Started {
  return s.ok ? { ok: true, target: { ...s.target, name } } : s;
}
