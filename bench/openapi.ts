// `npm run bench -- --scenario openapi`: what the OpenAPI plugins cost. One northgate
// process, one upstream: a small JSON body POSTed to a plain route and to the same route
// with `request-validator` (parameters and body checked); a GET proxied on a plain route
// and answered by `mock` from the document. Goals: validation ≥ 0.90× of the plain POST,
// the mock ≥ 2× the plain proxied GET.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';
import { treeCpuSeconds } from './proc.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface OpenApiOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### OpenAPI validation and mock (northgate, 1 process, access log on)';
const BODY = JSON.stringify({ customer: 'ada@example.com', lines: [{ sku: 'A-1', quantity: 2 }, { sku: 'B-22', quantity: 1 }], note: 'leave at the door' });

const DOCUMENT = `openapi: 3.0.3
info: { title: Bench orders, version: "1" }
paths:
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [customer, lines]
              additionalProperties: false
              properties:
                customer: { type: string, format: email }
                note: { type: string, nullable: true, maxLength: 200 }
                lines:
                  type: array
                  maxItems: 50
                  items:
                    type: object
                    required: [sku, quantity]
                    properties:
                      sku: { type: string, pattern: '^[A-Z]+-[0-9]+$' }
                      quantity: { type: integer, minimum: 1 }
      responses:
        "201": { description: created }
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer } }
      responses:
        "200":
          description: one order
          content:
            application/json:
              example: { id: 7, customer: ada@example.com, lines: [{ sku: A-1, quantity: 2 }], status: open }
`;

function openapiConfig(port: number, statusPort: number, upstreamPort: number, spec: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
services:
  - name: plain
    url: "http://127.0.0.1:${upstreamPort}"
    routes: [{ name: plain, paths: ["/plain"] }]
  - name: validated
    url: "http://127.0.0.1:${upstreamPort}"
    openapi: { spec: "${spec}", prefix: /validated }
    plugins: { request-validator: {} }
    routes: [{ name: validated, paths: ["/validated"] }]
  - name: mocked
    url: "http://127.0.0.1:${upstreamPort}"
    openapi: { spec: "${spec}", prefix: /mocked }
    plugins: { mock: {} }
    routes: [{ name: mocked, paths: ["/mocked"] }]
`;
}

export async function runOpenApi(ctx: Ctx, loader: Loader, up: Upstream, o: OpenApiOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const spec = path.join(ctx.tmpDir, 'bench-openapi.yaml');
  writeFileSync(spec, DOCUMENT);
  const ng = await startNorthgate(ctx, 'northgate-openapi', (p, s) => openapiConfig(p, s, up.port, spec), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const cases = [
    { name: 'POST plain', url: `${base}/plain/orders`, post: BODY, runs: [] as LoadResult[], cpuUs: [] as number[], vs: -1, goal: 0 },
    { name: 'POST request-validator', url: `${base}/validated/orders`, post: BODY, runs: [] as LoadResult[], cpuUs: [] as number[], vs: 0, goal: 0.9 },
    { name: 'GET plain (proxied)', url: `${base}/plain/orders/7`, post: undefined, runs: [] as LoadResult[], cpuUs: [] as number[], vs: -1, goal: 0 },
    { name: 'GET mock', url: `${base}/mocked/orders/7`, post: undefined, runs: [] as LoadResult[], cpuUs: [] as number[], vs: 2, goal: 2 },
  ];
  try {
    o.say('\nopenapi scenario: one northgate; POST plain / validated, GET proxied / mocked');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        const run = { url: c.url, connections: o.connections, headers: {}, ...(c.post !== undefined ? { postJson: c.post } : {}) };
        if (o.warmupS > 0) await loader.run({ ...run, durationS: o.warmupS });
        const cpu0 = treeCpuSeconds(ng.child.cp.pid);
        const r = await loader.run({ ...run, durationS: o.durationS });
        const cpu1 = treeCpuSeconds(ng.child.cp.pid);
        const cpuUs = cpu0 !== null && cpu1 !== null && r.requests > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests : NaN;
        c.runs.push(r);
        c.cpuUs.push(cpuUs);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(24)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  CPU ${cpuUs.toFixed(1)} µs/req  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    await ng.child.stop();
  }
  const rpsOf = (c: (typeof cases)[number]) => median(c.runs.filter((r) => !r.failure && r.requests > 0).map((r) => r.rps));
  const cpuOf = (c: (typeof cases)[number]) => median(c.cpuUs.filter(Number.isFinite));
  const out = [TITLE, '', '| case | req/s | × its plain route | goal | CPU µs/req | plain route\'s CPU ÷ its CPU | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const c of cases) {
    const good = c.runs.filter((r) => !r.failure && r.requests > 0);
    const ratio = c.vs < 0 ? 1 : rpsOf(c) / rpsOf(cases[c.vs]!);
    const goal = c.goal === 0 ? '–' : `≥ ${c.goal.toFixed(2)} ${ratio >= c.goal ? 'met' : '**not met**'}`;
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    const cpuRatio = c.vs < 0 ? 1 : cpuOf(cases[c.vs]!) / cpuOf(c);
    out.push(`| ${c.name} | ${fmtInt(rpsOf(c))} | ${ratio.toFixed(3)} | ${goal} | ${cpuOf(c).toFixed(1)} | ${cpuRatio.toFixed(3)} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push('', `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per case, each after a ${o.warmupS} s warm-up. The POSTed body is ${BODY.length} bytes of JSON; the mock answers the operation's example. CPU µs/req: user + system time of the northgate process over the measured run ÷ its requests (from /proc), steadier than req/s on a shared machine.`);
  return out;
}
