// `npm run bench -- --scenario auth`: what authentication costs. One northgate process,
// three routes to the same upstream: no plugins, key-auth + acl, jwt (ES256, key from a
// consumer credential). Measured in interleaved rounds; goals from issue #4: key-auth + acl
// ≥ 0.95× and jwt ≥ 0.85× the req/s of the route without plugins.
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface AuthOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Authentication cost (northgate, 1 process, access log on)';
const KEY = 'bench-consumer-api-key-0001';

function authConfig(port: number, statusPort: number, upstreamPort: number, pem: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
consumers:
  - username: bench
    groups: [bench]
    credentials:
      key-auth: [{ key: "${KEY}" }]
      jwt: [{ key_id: bench-es256, algorithm: ES256, public_key: ${JSON.stringify(pem)} }]
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: plain, paths: ["=/plain"] }
      - { name: keyed, paths: ["=/keyed"], plugins: { key-auth: {}, acl: { allow: [bench] } } }
      - { name: jwt, paths: ["=/jwt"], plugins: { jwt: { algorithms: [ES256] } } }
`;
}

export async function runAuth(ctx: Ctx, loader: Loader, up: Upstream, o: AuthOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportSPKI(publicKey);
  const token = await new SignJWT({ sub: 'bench' }).setProtectedHeader({ alg: 'ES256', kid: 'bench-es256' }).setExpirationTime('2h').sign(privateKey);
  const ng = await startNorthgate(ctx, 'northgate-auth', (p, s) => authConfig(p, s, up.port, pem), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const cases = [
    { name: 'no plugins', url: `${base}/plain`, headers: {} as Record<string, string>, runs: [] as LoadResult[], goal: 1 },
    { name: 'key-auth + acl', url: `${base}/keyed`, headers: { apikey: KEY }, runs: [] as LoadResult[], goal: 0.95 },
    { name: 'jwt (ES256, local key)', url: `${base}/jwt`, headers: { authorization: `Bearer ${token}` }, runs: [] as LoadResult[], goal: 0.85 },
  ];
  try {
    o.say('\nauth scenario: one northgate, routes without plugins / key-auth + acl / jwt');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        if (o.warmupS > 0) await loader.run({ url: c.url, connections: o.connections, durationS: o.warmupS, headers: c.headers });
        const r = await loader.run({ url: c.url, connections: o.connections, durationS: o.durationS, headers: c.headers });
        c.runs.push(r);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(24)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    await ng.child.stop();
  }
  const out = [TITLE, '', '| route | req/s | × no plugins | goal | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|'];
  const rpsOf = (c: (typeof cases)[number]) => median(c.runs.filter((r) => !r.failure && r.requests > 0).map((r) => r.rps));
  const plain = rpsOf(cases[0]!);
  for (const c of cases) {
    const good = c.runs.filter((r) => !r.failure && r.requests > 0);
    const ratio = rpsOf(c) / plain;
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    const goal = c.goal === 1 ? '–' : `≥ ${c.goal.toFixed(2)} ${ratio >= c.goal ? 'met' : '**not met**'}`;
    out.push(`| ${c.name} | ${fmtInt(rpsOf(c))} | ${ratio.toFixed(3)} | ${goal} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push(
    '',
    `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per route, each after a ${o.warmupS} s warm-up. The jwt route replays one token, so after the first request it is answered from the verified-token cache (bounded LRU, ≤ 60 s, never past exp): the number is the cost of a client that reuses its token, as real clients do, not of one ES256 verification per request.`,
  );
  return out;
}
