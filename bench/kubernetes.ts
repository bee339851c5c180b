// `npm run bench -- --scenario kubernetes`: how long a manifest change takes to carry traffic,
// with 1,000 HTTPRoutes. `northgate start --kubernetes-manifests DIR` runs on a directory of
// one file per route (a GitOps checkout: GatewayClass, Gateway, Service, EndpointSlice, 1,000
// HTTPRoutes); each round then (a) moves one route to a new path, (b) adds a route, (c) removes
// it, each by writing or deleting its file, and measures from the write to the first request
// that follows the change (polled every 2 ms over one keep-alive connection). The reload's own
// duration (compile + swap; reading, translating and validating come before it) is from the gateway's log line.
// The CPU a change costs the gateway is measured apart, without requests: one more route moved,
// then the process's CPU time (/proc) over the next 1.5 s.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { freePort, onStdoutLines, sleep, startChild, treeCpuSeconds, waitForHttp200, type Child } from './proc.js';
import { median } from './table.js';
import { northgateMissing, type Ctx, type Upstream } from './targets.js';

export interface KubernetesBenchOptions {
  rounds: number;
  say: (line: string) => void;
}

const TITLE = '### Kubernetes: manifest change to traffic, 1,000 HTTPRoutes';
const ROUTES = 1000;
const FOLLOW_TIMEOUT_MS = 30_000;

const NS = 'bench';

function route(i: number, path: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r${i}, namespace: ${NS} }
spec:
  parentRefs: [{ name: gw }]
  hostnames: ["bench.example"]
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${path} } }]
      backendRefs: [{ name: echo, port: 8080 }]
`;
}

function writeBase(dir: string, upstreamPort: number): void {
  writeFileSync(
    path.join(dir, '00-base.yaml'),
    `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: northgate }
spec: { controllerName: northgate.io/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: ${NS} }
spec:
  gatewayClassName: northgate
  listeners: [{ name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } } }]
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${NS} }
spec: { ports: [{ name: http, port: 8080, protocol: TCP }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: echo-1, namespace: ${NS}, labels: { kubernetes.io/service-name: echo } }
addressType: IPv4
ports: [{ name: http, port: ${upstreamPort}, protocol: TCP }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
`,
  );
  mkdirSync(path.join(dir, 'routes'), { recursive: true });
  for (let i = 0; i < ROUTES; i++) writeFileSync(path.join(dir, 'routes', `r${i}.yaml`), route(i, `/r${i}`));
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function status(port: number, p: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: p, headers: { host: 'bench.example' }, agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Milliseconds from now until GET `p` answers `want`, or NaN after the timeout. */
async function until(port: number, p: string, want: (s: number) => boolean, t0: number): Promise<number> {
  for (let i = 0; i < 100_000 && performance.now() - t0 < FOLLOW_TIMEOUT_MS; i++) {
    if (want(await status(port, p))) return performance.now() - t0;
    await sleep(2);
  }
  return NaN;
}

export async function runKubernetes(ctx: Ctx, up: Upstream, o: KubernetesBenchOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const dir = path.join(ctx.tmpDir, 'kubernetes');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeBase(dir, up.port);
  const proxy = await freePort();
  const statusPort = await freePort();
  const settings = path.join(ctx.tmpDir, 'kubernetes-settings.yaml');
  writeFileSync(settings, `_format_version: "1"\nlisten: { status: "127.0.0.1:${statusPort}" }\n`);
  const t0 = performance.now();
  const child: Child = startChild('northgate-kubernetes', process.execPath, [path.join(ctx.repoRoot, 'bin', 'northgate.js'), 'start', '--kubernetes-manifests', dir, '--port-map', `80=${proxy}`, '--bind-address', '127.0.0.1', '--config', settings, ...ctx.northgateArgs], { env: { ...process.env, NORTHGATE_LOG_LEVEL: 'info' }, stdout: 'pipe' });
  const reloads: number[] = [];
  onStdoutLines(child, (line) => {
    if (!line.includes('"config reloaded"')) return;
    try {
      reloads.push((JSON.parse(line) as { duration_ms: number }).duration_ms);
    } catch {
      // not a JSON line
    }
  });
  try {
    const notReady = await waitForHttp200(`http://127.0.0.1:${statusPort}/readyz`, 60_000, child);
    if (notReady !== null) return [TITLE, '', `Failed: ${notReady}`];
    const startMs = await until(proxy, `/r${ROUTES - 1}/x`, (s) => s === 200, t0);
    o.say(`kubernetes: ${ROUTES} routes served ${startMs.toFixed(0)} ms after spawn`);
    const moved: number[] = [];
    const added: number[] = [];
    const removed: number[] = [];
    const cpuMs: number[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const i = (round * 97) % ROUTES;
      let t = performance.now();
      writeFileSync(path.join(dir, 'routes', `r${i}.yaml`), route(i, `/moved-${round}`));
      moved.push(await until(proxy, `/moved-${round}/x`, (s) => s === 200, t));
      t = performance.now();
      writeFileSync(path.join(dir, 'routes', `new-${round}.yaml`), route(ROUTES + round, `/new-${round}`));
      added.push(await until(proxy, `/new-${round}/x`, (s) => s === 200, t));
      t = performance.now();
      rmSync(path.join(dir, 'routes', `new-${round}.yaml`));
      removed.push(await until(proxy, `/new-${round}/x`, (s) => s === 404, t));
      await sleep(300);
      const before = treeCpuSeconds(child.cp.pid);
      writeFileSync(path.join(dir, 'routes', `r${i}.yaml`), route(i, `/cpu-${round}`));
      await sleep(1500);
      const after = treeCpuSeconds(child.cp.pid);
      if (before !== null && after !== null) cpuMs.push((after - before) * 1000);
      o.say(`  round ${round}/${o.rounds}: moved ${moved.at(-1)!.toFixed(0)} ms, added ${added.at(-1)!.toFixed(0)} ms, removed ${removed.at(-1)!.toFixed(0)} ms; CPU ${cpuMs.at(-1)?.toFixed(0) ?? '?'} ms`);
    }
    const fmt = (xs: number[]) => {
      const ok = xs.filter(Number.isFinite);
      if (ok.length === 0) return '| failed | |';
      return `| ${median(ok).toFixed(0)} | ${Math.min(...ok).toFixed(0)}–${Math.max(...ok).toFixed(0)}${ok.length < xs.length ? ` (${xs.length - ok.length} timed out)` : ''} |`;
    };
    const steady = reloads.slice(1);
    return [
      TITLE,
      '',
      '| change (one file of 1,000 HTTPRoutes) | ms (median) | min–max |',
      '|---|---:|---:|',
      `| route moved to a new path ${fmt(moved)}`,
      `| route added ${fmt(added)}`,
      `| route removed ${fmt(removed)}`,
      `| CPU of the gateway per change (ms, measured apart, no requests) ${fmt(cpuMs)}`,
      '',
      `${o.rounds} round(s). From the file write to the first request that follows it (GET every 2 ms on one keep-alive connection). The path includes the directory watch's debounce (100 ms after the last file event) and the resource store's coalescing (50 ms quiet); the rest is reading the directory, translating, validating, compiling and swapping. Reload (compile + swap, from the log) median ${steady.length ? median(steady).toFixed(0) : '–'} ms over ${steady.length} reload(s). ${ROUTES} routes first served ${startMs.toFixed(0)} ms after spawn.`,
    ];
  } finally {
    agent.destroy();
    await child.stop();
  }
}
