// `npm run bench -- --scenario http2`: HTTP/2 beside HTTP/1.1 through one northgate process,
// all measured with h2load (nghttp2-client) so that the load generator is the same for every
// line: HTTP/1.1 on a plain listener, HTTP/1.1 and h2c on an `http2: true` plain listener
// (the preface sniffing), HTTP/1.1 and h2 over TLS on an `http2: true` TLS listener, and h2
// with 10 streams per connection. The upstream is the same HTTP/1.1 one for all of them.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { freePort, pinned, which } from './proc.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface Http2Options {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### HTTP/2 beside HTTP/1.1 (northgate, 1 process, access log on, h2load)';

interface H2loadResult {
  rps: number;
  meanMs: number;
  ok: number;
  failed: number;
  failure?: string;
}

export function parseH2load(out: string): H2loadResult {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0);
  const m = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const lat = /time for request:\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)/.exec(out);
  const meanMs = lat ? Number(lat[1]) * (lat[2] === 'us' ? 0.001 : lat[2] === 's' ? 1000 : 1) : 0;
  const non2xx = status ? Number(status[2]) + Number(status[3]) + Number(status[4]) : 0;
  return { rps, meanMs, ok: Number(m?.[2] ?? 0) - non2xx, failed: Number(m?.[3] ?? 0) + Number(m?.[4] ?? 0) + Number(m?.[5] ?? 0) + non2xx, ...(m ? {} : { failure: out.slice(-300) }) };
}

function config(dir: string, ports: { h1: number; h2c: number; tls: number }, statusPort: number, upstreamPort: number): string {
  return `_format_version: "1"
listen:
  proxy:
    - "127.0.0.1:${ports.h1}"
    - { address: "127.0.0.1:${ports.h2c}", http2: true }
    - address: "127.0.0.1:${ports.tls}"
      http2: true
      tls: { certificates: [{ cert: "${path.join(dir, 'bench.crt')}", key: "${path.join(dir, 'bench.key')}" }] }
  status: "127.0.0.1:${statusPort}"
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - name: bench
        paths: ["/"]
        plugins: { headers: { request: { set: { x-bench: "1" } } } }
`;
}

export async function runHttp2(ctx: Ctx, up: Upstream, o: Http2Options): Promise<string[]> {
  const h2load = which('h2load');
  if (!h2load) return [TITLE, '', 'Skipped: h2load is not installed (Debian/Ubuntu package nghttp2-client).'];
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(ctx.tmpDir, 'bench.key'), '-out', path.join(ctx.tmpDir, 'bench.crt'), '-subj', '/CN=localhost', '-days', '1'], { stdio: 'pipe' });
  // startNorthgate allocates the first proxy port; the other two are derived from free ports below.
  const h2c = await freePort();
  const tls = await freePort();
  let h1 = 0;
  const ng = await startNorthgate(ctx, 'northgate-http2', (p, s) => config(ctx.tmpDir, { h1: (h1 = p), h2c, tls }, s, up.port), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const c = o.connections;
  const cases = [
    { name: 'HTTP/1.1, plain listener', args: ['--h1', `-c${c}`, '-m1', `http://127.0.0.1:${h1}/`], runs: [] as H2loadResult[] },
    { name: 'HTTP/1.1 on the h2c listener', args: ['--h1', `-c${c}`, '-m1', `http://127.0.0.1:${h2c}/`], runs: [] as H2loadResult[] },
    { name: 'h2c (prior knowledge)', args: [`-c${c}`, '-m1', `http://127.0.0.1:${h2c}/`], runs: [] as H2loadResult[] },
    { name: 'HTTP/1.1 over TLS', args: ['--h1', `-c${c}`, '-m1', `https://127.0.0.1:${tls}/`], runs: [] as H2loadResult[] },
    { name: 'h2 over TLS (ALPN)', args: [`-c${c}`, '-m1', `https://127.0.0.1:${tls}/`], runs: [] as H2loadResult[] },
    { name: `h2 over TLS, ${Math.max(1, Math.round(c / 10))} conn × 10 streams`, args: [`-c${Math.max(1, Math.round(c / 10))}`, '-m10', `https://127.0.0.1:${tls}/`], runs: [] as H2loadResult[] },
  ];
  const run = (args: string[], seconds: number): H2loadResult => {
    const [cmd, full] = pinned(ctx.pin, 'load', h2load, ['-t1', `-D${seconds}`, '--warm-up-time=0', ...args]);
    const r = spawnSync(cmd, full, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
    return parseH2load(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  };
  try {
    o.say('\nhttp2 scenario: one northgate, HTTP/1.1 and HTTP/2 listeners, h2load for every line');
    for (let round = 1; round <= o.rounds; round++) {
      for (const cs of cases) {
        if (o.warmupS > 0) run(cs.args, o.warmupS);
        const r = run(cs.args, o.durationS);
        cs.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${cs.name.padEnd(34)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  mean ${r.meanMs.toFixed(2)} ms  failed ${r.failed}`}`);
      }
    }
  } finally {
    await ng.child.stop();
  }
  const base = median(cases[0]!.runs.filter((r) => !r.failure).map((r) => r.rps));
  const out = [TITLE, '', '| listener / protocol | req/s | × HTTP/1.1 plain | mean latency ms | failed |', '|---|---:|---:|---:|---:|'];
  for (const cs of cases) {
    const good = cs.runs.filter((r) => !r.failure);
    const rps = median(good.map((r) => r.rps));
    out.push(`| ${cs.name} | ${fmtInt(rps)} | ${(rps / base).toFixed(3)} | ${median(good.map((r) => r.meanMs)).toFixed(2)} | ${cs.runs.reduce((a, r) => a + r.failed, 0)} |`);
  }
  out.push(
    '',
    `h2load -t1 -c${c} -m1 (one request in flight per connection, like wrk's HTTP/1.1 lines) unless the line says otherwise; ${o.rounds} interleaved round(s) × ${o.durationS} s per line, each after a ${o.warmupS} s warm-up. The upstream speaks HTTP/1.1 for all lines. Compare ratios within one run only.`,
  );
  return out;
}
