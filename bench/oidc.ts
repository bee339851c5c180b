// `npm run bench -- --scenario oidc`: what a browser session of `openid-connect` costs. One
// northgate process, routes to the same upstream: no plugins, and openid-connect with its
// sessions in SQLite (local to the node) and, when Redis answers, in Redis (one round trip),
// each with the default session.cache_ttl (the process serves the session from its copy,
// reading the store at most once per cache_ttl) and with 0s (a store read per request).
// The session is minted by this setup straight into the store, as a sign-in would leave
// it, with its signed cookie: the provider is never called (the configured issuer is not
// even reachable). Goal: with the defaults, ≥ 0.90× the req/s of the route without
// plugins. CPU µs per request (the gateway process's user + system time over the requests
// served) moves less than req/s on a busy machine.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireRedis, releaseRedis } from '../src/base/redis.js';
import { SqliteDatabase } from '../src/base/sql/sqlite.js';
import { newSessionId, sessionKey, sign, type CookieSettings } from '../src/plugins/openid-connect/cookies.js';
import { RedisSessionStore } from '../src/plugins/openid-connect/redis-store.js';
import type { SessionData, SessionStore } from '../src/plugins/openid-connect/session-store.js';
import { SqlSessionStore } from '../src/plugins/openid-connect/sql-store.js';
import type { Loader, LoadResult } from './load.js';
import { treeCpuSeconds } from './proc.js';
import { fmtInt, median } from './table.js';
import { northgateMissing, startNorthgate, type Ctx, type Upstream } from './targets.js';

export interface OidcOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

const TITLE = '### Browser session cost (openid-connect, northgate, 1 process, access log on)';
const SECRET = 'bench-cookie-secret-0123456789-0123456789';
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const ISSUER = 'http://127.0.0.1:9';
const LIMITS = { maxSessions: 1000, maxPendingLogins: 1000 };

function plugin(store: string): string {
  return `{ openid-connect: { issuer: "${ISSUER}", client_id: bench, redirect_uri: "http://127.0.0.1:9/cb", cookie: { secret: ${SECRET} }, claim_headers: { X-User-Email: email }, session: ${store} } }`;
}

function oidcConfig(port: number, statusPort: number, upstreamPort: number, sqlite: string, redis: boolean, prefix: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:${port}", status: "127.0.0.1:${statusPort}" }
services:
  - name: bench
    url: "http://127.0.0.1:${upstreamPort}"
    routes:
      - { name: plain, paths: ["=/plain"] }
      - { name: sqlite, paths: ["=/sqlite"], plugins: ${plugin(`{ store: sqlite, path: "${sqlite}" }`)} }
      - { name: sqlite-uncached, paths: ["=/sqlite-uncached"], plugins: ${plugin(`{ store: sqlite, path: "${sqlite}", cache_ttl: 0s }`)} }
${redis ? `      - { name: redis, paths: ["=/redis"], plugins: ${plugin(`{ store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" } }`)} }
      - { name: redis-uncached, paths: ["=/redis-uncached"], plugins: ${plugin(`{ store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" }, cache_ttl: 0s }`)} }\n` : ''}`;
}

function redisAnswers(): Promise<boolean> {
  const u = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const s = connect(Number(u.port || 6379), u.hostname);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** The bench's own Redis keys: its session expires by itself, the bookkeeping would stay. */
async function removeKeys(prefix: string): Promise<void> {
  const client = acquireRedis(REDIS_URL, 1000);
  try {
    if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    releaseRedis(client);
  }
}

/** A session as a sign-in leaves it, and the cookie that names it. */
async function mint(store: SessionStore): Promise<string> {
  const id = newSessionId();
  const now = Date.now();
  const session: SessionData = { iss: ISSUER, sub: 'bench', sid: 'bench-sid', claims: { sub: 'bench', email: 'bench@example.test' }, idToken: 'h.p.s', accessToken: 'bench-access-token', refreshToken: null, accessExpiresAt: 0, expiresAt: now + 3_600_000 };
  if (!(await store.create(sessionKey(id), session))) throw new Error('the store refused the bench session');
  const cookies: CookieSettings = { name: 'ng_oidc', loginName: 'ng_oidc_login', path: '/', secure: true, secret: SECRET };
  return `ng_oidc=${sign(cookies, 'session', id)}`;
}

/** A request head that valgrind slows down (while it instruments again) is not a slowloris. */
const UNDER_VALGRIND = 'limits: { header_timeout: 10m, idle_timeout: 10m, request_timeout: 10m }\n';

/**
 * The config of `node dist/bench/instructions.js --config-file`: the routes of this scenario
 * with ${PORT}, ${STATUS_PORT}, ${UPSTREAM_PORT}, ${ENGINE} left for it to substitute.
 */
function instructionsConfig(sqlite: string, redis: boolean, prefix: string, accessLog: boolean): string {
  // Under valgrind a second holds some hundred requests, not tens of thousands: the "1m" routes
  // keep the copy for the whole run, so that what is counted is the request with a fresh copy.
  const fresh = `      - { name: sqlite-1m, paths: ["=/sqlite-1m"], plugins: ${plugin(`{ store: sqlite, path: "${sqlite}", cache_ttl: 1m }`)} }\n${redis ? `      - { name: redis-1m, paths: ["=/redis-1m"], plugins: ${plugin(`{ store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" }, cache_ttl: 1m }`)} }\n` : ''}`;
  return (oidcConfig(0, 0, 0, sqlite, redis, prefix) + fresh)
    .replace('"127.0.0.1:0", status: "127.0.0.1:0"', '"127.0.0.1:${PORT}", status: "127.0.0.1:${STATUS_PORT}"')
    .replace('http://127.0.0.1:0"', 'http://127.0.0.1:${UPSTREAM_PORT}"')
    .replace('_format_version: "1"\n', `_format_version: "1"\nengine: \${ENGINE}\n${accessLog ? '' : 'access_log: { enabled: false }\n'}${UNDER_VALGRIND}`);
}

/** One signed-in session in a SQLite file in `dir`, and one in Redis when it answers: their cookies. */
async function mintSessions(dir: string, redis: boolean, prefix: string): Promise<{ sqlitePath: string; sqliteCookie: string; redisCookie: string }> {
  const sqlitePath = path.join(dir, 'sessions.sqlite');
  const sqliteDb = new SqliteDatabase(sqlitePath);
  const sqliteCookie = await mint(new SqlSessionStore(sqliteDb, 'northgate_oidc_sessions', LIMITS, Date.now, () => {}));
  await sqliteDb.close();
  let redisCookie = '';
  if (redis) {
    const client = acquireRedis(REDIS_URL, 1000);
    try {
      if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
      redisCookie = await mint(new RedisSessionStore(client, 'bench', prefix, LIMITS, Date.now, () => {}));
    } finally {
      releaseRedis(client);
    }
  }
  return { sqlitePath, sqliteCookie, redisCookie };
}

/**
 * `node dist/bench/oidc.js --setup DIR [--access-log]`: mints the bench's sessions (SQLite in
 * DIR, and Redis when it answers; the Redis one expires in an hour) and writes DIR/oidc.yaml
 * for bench/instructions.ts (the routes of this scenario, and "-1m" ones with cache_ttl 1m);
 * prints the commands that measure each route, cookie included.
 */
async function setup(dir: string, accessLog: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const redis = await redisAnswers();
  const prefix = `northgate:bench:oidc:setup:`;
  const { sqlitePath, sqliteCookie, redisCookie } = await mintSessions(dir, redis, prefix);
  const file = path.join(dir, 'oidc.yaml');
  writeFileSync(file, instructionsConfig(sqlitePath, redis, prefix, accessLog));
  const run = (route: string, cookie: string) => `node dist/bench/instructions.js --config-file ${file} --path /${route}${cookie === '' ? '' : ` --header 'cookie: ${cookie}'`} --header 'accept: application/json'`;
  process.stdout.write(`${run('plain', '')}\n${run('sqlite', sqliteCookie)}\n${run('sqlite-1m', sqliteCookie)}\n${redis ? `${run('redis', redisCookie)}\n${run('redis-1m', redisCookie)}\n` : ''}`);
}

export async function runOidc(ctx: Ctx, loader: Loader, up: Upstream, o: OidcOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'northgate-bench-oidc-'));
  const redis = await redisAnswers();
  const prefix = `northgate:bench:oidc:${process.pid}:`;
  const { sqlitePath, sqliteCookie, redisCookie } = await mintSessions(dir, redis, prefix);

  const ng = await startNorthgate(ctx, 'northgate-oidc', (p, s) => oidcConfig(p, s, up.port, sqlitePath, redis, prefix), 'ignore');
  if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate ${ng}.`];
  const base = `http://127.0.0.1:${ng.port}`;
  const pid = ng.child.cp.pid;
  const sqliteHeaders = { cookie: sqliteCookie, accept: 'application/json' };
  const redisHeaders = { cookie: redisCookie, accept: 'application/json' };
  /** goal: the ratio to meet; 0 for a row that is there to be compared, not judged. */
  const row = (name: string, route: string, headers: Record<string, string>, goal: number) => ({ name, url: `${base}/${route}`, headers, runs: [] as LoadResult[], cpuUs: [] as number[], goal });
  const cases = [
    row('no plugins', 'plain', {}, 1),
    row('session in SQLite', 'sqlite', sqliteHeaders, 0.9),
    ...(redis ? [row('session in Redis', 'redis', redisHeaders, 0.9)] : []),
    row('SQLite, cache_ttl 0s', 'sqlite-uncached', sqliteHeaders, 0),
    ...(redis ? [row('Redis, cache_ttl 0s', 'redis-uncached', redisHeaders, 0)] : []),
  ];
  try {
    o.say('\noidc scenario: one northgate, routes without plugins / openid-connect with a valid session');
    for (let round = 1; round <= o.rounds; round++) {
      for (const c of cases) {
        if (o.warmupS > 0) await loader.run({ url: c.url, connections: o.connections, durationS: o.warmupS, headers: c.headers });
        const cpu0 = treeCpuSeconds(pid);
        const r = await loader.run({ url: c.url, connections: o.connections, durationS: o.durationS, headers: c.headers });
        const cpu1 = treeCpuSeconds(pid);
        const cpuUs = cpu0 !== null && cpu1 !== null && r.requests > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests : NaN;
        c.runs.push(r);
        if (!r.failure && r.requests > 0) c.cpuUs.push(cpuUs);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(20)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  CPU ${cpuUs.toFixed(1)} µs/req  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    await ng.child.stop();
    if (redis) await removeKeys(prefix);
  }
  const out = [TITLE, '', '| route | req/s | × no plugins | goal | CPU µs/req | CPU × no plugins | p50 ms | p99 ms | errors: non-2xx / socket |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  const rpsOf = (c: (typeof cases)[number]) => median(c.runs.filter((r) => !r.failure && r.requests > 0).map((r) => r.rps));
  const plain = rpsOf(cases[0]!);
  const plainCpu = median(cases[0]!.cpuUs);
  for (const c of cases) {
    const good = c.runs.filter((r) => !r.failure && r.requests > 0);
    const ratio = rpsOf(c) / plain;
    const cpu = median(c.cpuUs);
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    const goal = c.goal === 1 || c.goal === 0 ? '–' : `≥ ${c.goal.toFixed(2)} ${ratio >= c.goal ? 'met' : '**not met**'}`;
    out.push(`| ${c.name} | ${fmtInt(rpsOf(c))} | ${ratio.toFixed(3)} | ${goal} | ${cpu.toFixed(1)} | ${(cpu / plainCpu).toFixed(3)} | ${median(good.map((r) => r.p50ms)).toFixed(2)} | ${median(good.map((r) => r.p99ms)).toFixed(2)} | ${errors} |`);
  }
  out.push(
    '',
    `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per route, each after a ${o.warmupS} s warm-up; req/s, CPU and latencies are medians over rounds. A session request checks the cookie (an HMAC the first time in the process, a comparison with the cookie remembered after) and reads the session from the store (SQLite: a local file; Redis: one round trip) at most once per session.cache_ttl (default 1s; the "cache_ttl 0s" rows read it on every request); the provider is never called.${redis ? '' : ' Redis did not answer: its rows are left out.'}`,
  );
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--setup');
  if (at < 0 || process.argv[at + 1] === undefined) {
    process.stderr.write('usage: node dist/bench/oidc.js --setup DIR [--access-log]\n');
    process.exitCode = 2;
  } else {
    setup(path.resolve(process.argv[at + 1]!), process.argv.includes('--access-log')).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exit(1);
      },
    );
  }
}
