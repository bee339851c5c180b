// `openid-connect`'s copies of sessions (session.cache_ttl) against real gateways and stores.
// Sessions are written straight into the store, as a sign-in leaves them, with their signed
// cookies; the provider is never called (its issuer does not even answer). What is proven:
// a copy serves a session only while it is younger than cache_ttl, an end seen by a process
// (logout, front-channel logout, a store read that finds nothing) drops its copy at once,
// another process stops serving it within cache_ttl (SQLite), and at once when the store
// announces ends (Redis). Tampered cookies are refused, remembered sessions or not.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { acquireRedis, releaseRedis } from '../../src/base/redis.js';
import { SqliteDatabase } from '../../src/base/sql/sqlite.js';
import { newSessionId, sessionKey, sign, type CookieSettings } from '../../src/plugins/openid-connect/cookies.js';
import { RedisSessionStore } from '../../src/plugins/openid-connect/redis-store.js';
import type { SessionData, SessionStore } from '../../src/plugins/openid-connect/session-store.js';
import { SqlSessionStore } from '../../src/plugins/openid-connect/sql-store.js';
import { http, startCli, startEchoUpstream, startGateway, tempDir, writeConfig, type CliGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';

const ISSUER = 'http://127.0.0.1:9';
const SECRET = 'cache-test-cookie-secret-0123456789-abcdef';
const COOKIE: CookieSettings = { name: 'ng_oidc', loginName: 'ng_oidc_login', path: '/', secure: true, secret: SECRET };
const LIMITS = { maxSessions: 1000, maxPendingLogins: 1000 };

function plugin(session: string): string {
  return `{ openid-connect: { issuer: "${ISSUER}", client_id: app, redirect_uri: "http://127.0.0.1:9/cb", cookie: { secret: ${SECRET} }, logout_path: /app/logout, frontchannel_logout_path: /app/fc, session: ${session} } }`;
}

/** A session as a sign-in leaves it, written into `store`; its cookie and store key. */
async function mint(store: SessionStore, sid: string): Promise<{ cookie: string; id: string; key: string }> {
  const id = newSessionId();
  const session: SessionData = { iss: ISSUER, sub: 'alice', sid, claims: { sub: 'alice' }, idToken: 'h.p.s', accessToken: 'at', refreshToken: null, accessExpiresAt: 0, expiresAt: Date.now() + 3_600_000 };
  assert.equal(await store.create(sessionKey(id), session), true);
  return { cookie: `ng_oidc=${sign(COOKIE, 'session', id)}`, id, key: sessionKey(id) };
}

async function mintSqlite(file: string, sid: string): Promise<{ cookie: string; id: string; key: string }> {
  const db = new SqliteDatabase(file);
  try {
    return await mint(new SqlSessionStore(db, 'northgate_oidc_sessions', LIMITS, Date.now, () => {}), sid);
  } finally {
    await db.close();
  }
}

/** The status of an API request with `cookie`; 200 carries the consumer the upstream got. */
async function status(url: string, cookie: string): Promise<number> {
  const r = await http(url, { headers: { cookie, accept: 'application/json' } });
  if (r.status === 200) assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-consumer-id'], 'alice');
  return r.status;
}

/** Polls until `url` answers 401 for `cookie`: at most `polls` × 100 ms. */
async function until401(url: string, cookie: string, polls: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < polls; i++) {
    last = await status(url, cookie);
    if (last === 401) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

describe('one process, sessions in SQLite', () => {
  let upstream: Upstream;
  let gw: InProcessGateway;
  const file = join(tempDir(), 'oidc.sqlite');

  before(async () => {
    upstream = await startEchoUpstream();
    // Two routes on one store: /app keeps copies for a minute, /fresh reads the store every time.
    gw = await startGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstream.url}
    routes:
      - { name: app, paths: [/app], plugins: ${plugin(`{ store: sqlite, path: "${file}", cache_ttl: 1m }`)} }
      - { name: fresh, paths: [/fresh], plugins: ${plugin(`{ store: sqlite, path: "${file}", cache_ttl: 0s }`)} }
`);
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('a copy serves a session ended behind the process\'s back until the store is read again; cache_ttl 0s reads it every time', async () => {
    const s = await mintSqlite(file, 'sid-1');
    assert.equal(await status(`${gw.url}/app`, s.cookie), 200);
    assert.equal(await status(`${gw.url}/fresh`, s.cookie), 200);
    // Another node ends the session: only the store knows.
    const db = new Database(file);
    try {
      assert.equal(db.prepare('DELETE FROM northgate_oidc_sessions WHERE key = ?').run(`s:${s.key}`).changes, 1);
    } finally {
      db.close();
    }
    assert.equal(await status(`${gw.url}/app`, s.cookie), 200, 'the copy is younger than cache_ttl');
    assert.equal(await status(`${gw.url}/fresh`, s.cookie), 401, 'cache_ttl 0s: the store says it is over');
    assert.equal(await status(`${gw.url}/app`, s.cookie), 401, 'the store read dropped the copy');
  });

  test('a logout or a front-channel logout in this process ends the session here at once', async () => {
    const s = await mintSqlite(file, 'sid-2');
    assert.equal(await status(`${gw.url}/app`, s.cookie), 200);
    const out = await http(`${gw.url}/app/logout`, { method: 'POST', headers: { cookie: s.cookie } });
    assert.equal(out.status, 302);
    assert.equal(await status(`${gw.url}/app`, s.cookie), 401);

    const t = await mintSqlite(file, 'sid-3');
    assert.equal(await status(`${gw.url}/app`, t.cookie), 200);
    const fc = await http(`${gw.url}/app/fc?iss=${encodeURIComponent(ISSUER)}&sid=sid-3`);
    assert.equal(fc.status, 200);
    assert.equal(await status(`${gw.url}/app`, t.cookie), 401);
  });

  test('a remembered session\'s cookie tampered with, or signed for another purpose, is refused', async () => {
    const s = await mintSqlite(file, 'sid-4');
    assert.equal(await status(`${gw.url}/app`, s.cookie), 200);
    const value = s.cookie.slice('ng_oidc='.length);
    const flipped = value.at(-1) === 'A' ? 'B' : 'A';
    for (const bad of [value.slice(0, -1) + flipped, value.slice(0, -1), `${value}A`, sign(COOKIE, 'login', s.id), sign({ ...COOKIE, secret: 'another-secret-0123456789-0123456789-abc' }, 'session', s.id), s.id])
      assert.equal(await status(`${gw.url}/app`, `ng_oidc=${bad}`), 401, bad);
    assert.equal(await status(`${gw.url}/app`, s.cookie), 200);
  });
});

function cliConfig(upstreamUrl: string, session: string): string {
  return writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstreamUrl}
    routes:
      - { name: app, paths: [/app], plugins: ${plugin(session)} }
`);
}

describe('two processes', () => {
  let upstream: Upstream;
  const gateways: CliGateway[] = [];

  before(async () => {
    upstream = await startEchoUpstream();
  });

  after(async () => {
    for (const g of gateways) await g.stop();
    await upstream?.close();
  });

  test('SQLite: a session logged out on one process stops working on the other once its copy is cache_ttl old', async () => {
    const file = join(tempDir(), 'oidc.sqlite');
    const config = cliConfig(upstream.url, `{ store: sqlite, path: "${file}", cache_ttl: 1s }`);
    const a = await startCli(['--config', config]);
    gateways.push(a);
    const b = await startCli(['--config', config]);
    gateways.push(b);
    const s = await mintSqlite(file, 'sid-1');
    assert.equal(await status(`${a.url}/app`, s.cookie), 200);
    assert.equal(await status(`${b.url}/app`, s.cookie), 200);
    const out = await http(`${a.url}/app/logout`, { method: 'POST', headers: { cookie: s.cookie } });
    assert.equal(out.status, 302);
    assert.equal(await status(`${a.url}/app`, s.cookie), 401, 'at once where it was logged out');
    // The bound is the point: B's copy was read before the logout, so cache_ttl later it is too old.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await status(`${b.url}/app`, s.cookie), 401, 'within cache_ttl on the other process');
  });

  test('Redis: a session logged out on one node stops working on the other at once, long before cache_ttl', async (t) => {
    const skip = await redisSkipReason();
    if (skip) return t.skip(skip);
    const prefix = `northgate:test:oidc-cache:${process.pid}:${Date.now().toString(36)}:`;
    const config = cliConfig(upstream.url, `{ store: redis, redis: { url: "${REDIS_URL}", prefix: "${prefix}" }, cache_ttl: 1m }`);
    const a = await startCli(['--config', config]);
    gateways.push(a);
    const b = await startCli(['--config', config]);
    gateways.push(b);
    const client = acquireRedis(REDIS_URL, 1000);
    try {
      if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
      const store = new RedisSessionStore(client, 'test', prefix, LIMITS, Date.now, () => {});
      // RP-initiated logout on A (a delete), then a front-channel logout on A (ends by sid).
      const s = await mint(store, 'sid-1');
      const u = await mint(store, 'sid-2');
      for (const g of [a, b]) for (const c of [s, u]) assert.equal(await status(`${g.url}/app`, c.cookie), 200);
      assert.equal((await http(`${a.url}/app/logout`, { method: 'POST', headers: { cookie: s.cookie } })).status, 302);
      assert.equal(await until401(`${b.url}/app`, s.cookie, 50), 401, 'B heard of the logout (a copy would serve for a minute)');
      assert.equal((await http(`${a.url}/app/fc?iss=${encodeURIComponent(ISSUER)}&sid=sid-2`)).status, 200);
      assert.equal(await until401(`${b.url}/app`, u.cookie, 50), 401, 'B heard of the front-channel logout');
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
    } finally {
      releaseRedis(client);
    }
  });
});
