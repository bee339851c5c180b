// `openid-connect` sessions shared by two gateways (two nodes) through Redis and through
// PostgreSQL: a session made on one is valid on the other, a logout on either ends it on
// both, and an access token about to expire is refreshed once (one refresh_token grant at
// the provider) however many requests on both nodes need it at the same moment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLIENT_ID, CLIENT_SECRET, WebClient, startOidcProvider, type OidcProviderHandle } from '../helpers/oidc-provider.js';
import { startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, REDIS_URL, postgresSkipReason, redisSkipReason } from '../helpers/services.js';

const SECRET = 'cluster-cookie-secret-0123456789-0123456789';
/**
 * The provider's first access tokens live 6 s; the gateway refreshes them when less than 5 s
 * are left. A refreshed token lives an hour: it must serve the later requests without a
 * second refresh however slow the machine is (with 6 s it would be due again 1 s after it came).
 */
const ACCESS_TTL_S = 6;
const REFRESHED_TTL_S = 3600;

function config(issuer: string, upstreamUrl: string, port: number, store: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - name: app
    url: ${upstreamUrl}
    routes: [{ name: app, paths: [/] }]
    plugins:
      openid-connect:
        issuer: "${issuer}"
        client_id: ${CLIENT_ID}
        client_secret: ${CLIENT_SECRET}
        redirect_uri: "http://127.0.0.1:${port}/oidc/callback"
        scopes: [openid, offline_access]
        refresh_before: 5s
        cookie: { secret: ${SECRET} }
        logout_path: /oidc/logout
        backchannel_logout_path: /oidc/backchannel
        forward_access_token: true
        session: ${store}
`;
}

/** This run's keys and table: sessions expire by themselves, the bookkeeping of the run would stay. */
async function cleanUp(store: string, run: string): Promise<void> {
  if (store === 'Redis') {
    const { Redis } = await import('ioredis');
    const r = new Redis(REDIS_URL, { lazyConnect: true });
    try {
      await r.connect();
      const keys = await r.keys(`northgate:test:oidc:${run}:*`);
      if (keys.length > 0) await r.del(...keys);
    } finally {
      r.disconnect();
    }
    return;
  }
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: DATABASE_URL });
  try {
    await c.connect();
    await c.query(`DROP TABLE IF EXISTS oidc_sessions_${run}`);
    await c.query("DELETE FROM ng_schema_migrations WHERE component = $1", [`openid-connect:oidc_sessions_${run}`]);
  } finally {
    await c.end();
  }
}

const stores: Array<[string, () => Promise<string | undefined>, (run: string) => string]> = [
  ['Redis', () => redisSkipReason(), (run) => `{ store: redis, redis: { url: "${REDIS_URL}", prefix: "northgate:test:oidc:${run}:" } }`],
  ['PostgreSQL', () => postgresSkipReason(), (run) => `{ store: postgres, postgres: { url: "${DATABASE_URL}", table: oidc_sessions_${run} } }`],
];

for (const [name, skipReason, storeConfig] of stores) {
  describe(`sessions in ${name}, two gateways`, () => {
    let skip: string | undefined;
    let op: OidcProviderHandle;
    let upstream: Upstream;
    let a: InProcessGateway;
    let b: InProcessGateway;
    const run = `t${process.pid}_${Date.now().toString(36)}`;

    before(async () => {
      skip = await skipReason();
      if (skip) return;
      op = await startOidcProvider();
      upstream = await startEchoUpstream();
      a = await startGateway(config(op.issuer, upstream.url, 1, storeConfig(run)));
      b = await startGateway(config(op.issuer, upstream.url, 1, storeConfig(run)));
      // Each node's callback is its own URL; the sessions are shared.
      assert.equal(a.reload(config(op.issuer, upstream.url, a.port, storeConfig(run))).ok, true);
      assert.equal(b.reload(config(op.issuer, upstream.url, b.port, storeConfig(run))).ok, true);
      await op.configure({ redirectUris: [`${a.url}/oidc/callback`, `${b.url}/oidc/callback`], backchannelLogoutUri: `${a.url}/oidc/backchannel`, accessTokenTtl: ACCESS_TTL_S, refreshedAccessTokenTtl: REFRESHED_TTL_S });
    });

    after(async () => {
      await a?.close();
      await b?.close();
      await upstream?.close();
      await op?.close();
      if (!skip) await cleanUp(name, run);
    });

    /** Signs in on `gw` and returns a client holding the session cookie for both nodes. */
    async function signIn(gw: InProcessGateway): Promise<WebClient> {
      const web = new WebClient();
      const r = await web.signIn(gw.url);
      assert.equal(r.status, 302, r.body);
      const cookie = web.cookies(gw.url).get('ng_oidc')!;
      web.cookies(a.url).set('ng_oidc', cookie);
      web.cookies(b.url).set('ng_oidc', cookie);
      return web;
    }

    async function call(web: WebClient, gw: InProcessGateway): Promise<{ status: number; authorization: string | undefined }> {
      const r = await web.request(`${gw.url}/api/me`, { headers: { accept: 'application/json' } });
      return { status: r.status, authorization: r.status === 200 ? (JSON.parse(r.body) as { headers: Record<string, string> }).headers['authorization'] : undefined };
    }

    test('a session made on one node is valid on the other; logging out on either ends it on both', async (t) => {
      if (skip) return t.skip(skip);
      const web = await signIn(a);
      assert.equal((await call(web, a)).status, 200);
      assert.equal((await call(web, b)).status, 200);
      const out = await web.request(`${b.url}/oidc/logout`);
      assert.equal(out.status, 302);
      const again = new WebClient();
      again.cookies(a.url).set('ng_oidc', web.cookies(a.url).get('ng_oidc')!);
      assert.equal((await call(again, a)).status, 401);

      // Back-channel logout received by node A ends the session node B serves.
      const web2 = await signIn(b);
      const idToken = (await web2.request(`${b.url}/api/me`, { headers: { accept: 'application/json' } })).body;
      assert.ok(idToken);
      const token = await op.logoutToken({ sub: op.account });
      const bc = await new WebClient().request(`${a.url}/oidc/backchannel`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `logout_token=${token}` });
      assert.equal(bc.status, 200, bc.body);
      assert.equal((await call(web2, b)).status, 401);
      // Its jti is spent on both nodes.
      const replay = await new WebClient().request(`${b.url}/oidc/backchannel`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `logout_token=${token}` });
      assert.equal(replay.status, 400);
    });

    test('an access token about to expire is refreshed once for requests on both nodes at the same moment', async (t) => {
      if (skip) return t.skip(skip);
      const web = await signIn(a);
      const first = await call(web, a);
      assert.equal(first.status, 200);
      const before = op.grants['refresh_token'] ?? 0;
      // Wait until less than refresh_before (5 s) of the 6 s token is left (bounded: at most 3 s).
      await new Promise((r) => setTimeout(r, 1500));
      const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => call(web, i % 2 === 0 ? a : b)));
      assert.deepEqual(burst.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
      const tokens = new Set(burst.map((r) => r.authorization));
      assert.equal(tokens.size, 1, 'every request got the one refreshed token');
      assert.notEqual([...tokens][0], first.authorization);
      assert.equal((op.grants['refresh_token'] ?? 0) - before, 1, 'one refresh at the provider');
      // The refreshed token serves later requests on both nodes without another refresh.
      const later = await call(web, b);
      // On a failure, say which it was: a second refresh, or a token from before the first.
      const seen = JSON.stringify({ first: first.authorization, refreshed: [...tokens][0], later: later.authorization, refreshes: (op.grants['refresh_token'] ?? 0) - before });
      assert.equal(later.authorization, [...tokens][0], seen);
      assert.equal((op.grants['refresh_token'] ?? 0) - before, 1, seen);
    });
  });
}
