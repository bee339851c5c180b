// Where the portal keeps accounts, keys and sessions: a durable store shared by the processes
// and nodes that serve one portal. Restart on the default SQLite file (next to the config),
// two gateways on one SQLite file and on one PostgreSQL (a key made on one works on the other
// within 1 s, a revoked one stops within 1 s), `--workers 2` (the portal served by one worker,
// its keys honoured by both), and the default store location.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PortalClient, startPortalGateway, type PortalGatewayHandle } from '../helpers/browser.js';
import { http, startCli, startUpstream, tempDir, type CliGateway, type Upstream } from '../helpers/servers.js';
import { DATABASE_URL, postgresSkipReason } from '../helpers/services.js';
import { openPortalData, portalStoreUrl } from '../../src/portal/store/open.js';
import { openStore } from '../../src/store/store.js';
import { configProblems } from '../helpers/config.js';
import type { RawConfig } from '../../src/config/types.js';

const config = (upstream: string, store = '', extra = '') => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, portal: "127.0.0.1:0", admin: null }
access_log: { enabled: false }
plans: [{ name: free }]
portal:
  self_service: { plans: [free] }
  ${store}
${extra}
services:
  - name: orders
    url: ${upstream}
    plugins: { key-auth: {} }
    routes: [{ paths: [/orders-api], strip_path: true }]
`;

/** Calls `probe` until it returns `want` or `withinMs` has passed (bounded in count and time); the last status. */
async function statusWithin(probe: () => Promise<number>, want: number, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  let status = await probe();
  for (let i = 0; i < 200 && status !== want && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 20));
    status = await probe();
  }
  return status;
}

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream((req, res) => res.end(JSON.stringify({ path: req.url })));
});
after(async () => upstream.close());

const callWith = (base: string) => async (key: string) => (await http(`${base}/orders-api/orders/1`, { headers: { 'x-api-key': key } })).status;

describe('portal store on SQLite', () => {
  test('accounts, keys and sessions survive a restart; the file holds digests, never a key or a session id', async () => {
    const first = await startPortalGateway(config(upstream.url));
    const dir = first.dir;
    const c = new PortalClient(first.portalUrl);
    let secret: string;
    try {
      await c.signUp('keeper@example.com');
      const created = await c.post('/portal/api/keys', { name: 'ci', plan: 'free' });
      assert.equal(created.status, 201);
      secret = created.json['secret'] as string;
      assert.equal(await callWith(first.proxyUrl)(secret), 200);
    } finally {
      await first.close();
    }
    const file = readFileSync(join(dir, 'northgate-portal.db')).toString('latin1') + readWal(dir);
    assert.ok(!file.includes(secret), 'the key itself is not stored');
    assert.ok(!file.includes(c.cookie.split('=')[1]!), 'the session id is not stored');

    const second = await startPortalGateway(config(upstream.url), {}, dir);
    try {
      assert.equal(await callWith(second.proxyUrl)(secret), 200, 'the key works after the restart, before anyone signs in');
      assert.equal(await callWith(second.proxyUrl)('ng_' + 'x'.repeat(43)), 401);
      // The browser keeps its cookie across the restart: still signed in, same CSRF token works.
      const again = new PortalClient(second.portalUrl);
      again.cookie = c.cookie;
      again.csrf = c.csrf;
      const session = await again.get('/portal/api/session');
      assert.equal(session.json['authenticated'], true, 'the session cookie survives the restart');
      assert.equal(session.json['account'].email, 'keeper@example.com');
      const keys = await again.get('/portal/api/keys');
      assert.equal(keys.status, 200);
      assert.equal(keys.json['keys'].length, 1);
      // Signing in with the password works on the new process.
      const fresh = new PortalClient(second.portalUrl);
      await fresh.get('/portal/api/session');
      assert.equal((await fresh.post('/portal/api/sign-in', { email: 'keeper@example.com', password: 'correct horse battery' })).status, 200);
      assert.equal((await fresh.post('/portal/api/sign-up', { email: 'keeper@example.com', password: 'correct horse battery' })).status, 409, 'the email is still taken');
      // Revoked after the restart: stops at once here.
      const id = keys.json['keys'][0].id as string;
      assert.equal((await again.del(`/portal/api/keys/${id}`)).status, 200);
      assert.equal(await callWith(second.proxyUrl)(secret), 401);
    } finally {
      await second.close();
    }
  });

  test('two gateways on one SQLite file: a key made on one works on the other within 1 s, a revoked one stops within 1 s', async () => {
    const dir = tempDir('northgate-portal-shared-');
    const store = `store: ${join(dir, 'shared.db')}`;
    const a = await startPortalGateway(config(upstream.url, store));
    const b = await startPortalGateway(config(upstream.url, store));
    try {
      const c = new PortalClient(a.portalUrl);
      await c.signUp('shared@example.com');
      const created = await c.post('/portal/api/keys', { name: 'ci', plan: 'free' });
      const secret = created.json['secret'] as string;
      assert.equal(await statusWithin(() => callWith(b.proxyUrl)(secret), 200, 1000), 200, 'works on B within 1 s');
      assert.equal((await c.del(`/portal/api/keys/${created.json['key'].id}`)).status, 200);
      assert.equal(await statusWithin(() => callWith(b.proxyUrl)(secret), 401, 1000), 401, 'stops on B within 1 s');
      // B's portal knows the account A made.
      const onB = new PortalClient(b.portalUrl);
      await onB.get('/portal/api/session');
      assert.equal((await onB.post('/portal/api/sign-in', { email: 'shared@example.com', password: 'correct horse battery' })).status, 200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('portal store on PostgreSQL: two nodes', () => {
  const schema = `ng_portal_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}schema=${schema}`;
  let skip: string | undefined;
  let a: PortalGatewayHandle | undefined;
  let b: PortalGatewayHandle | undefined;
  before(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    a = await startPortalGateway(config(upstream.url, `store: "${url}"`));
    b = await startPortalGateway(config(upstream.url, `store: "${url}"`));
  });
  after(async () => {
    await a?.close();
    await b?.close();
    if (skip) return;
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  test('a key created through node A works on node B within 1 s; revoked on A, 401 on B within 1 s; sessions are shared', async (t) => {
    if (skip) return t.skip(skip);
    const c = new PortalClient(a!.portalUrl);
    await c.signUp('nodes@example.com');
    const created = await c.post('/portal/api/keys', { name: 'ci', plan: 'free' });
    assert.equal(created.status, 201);
    const secret = created.json['secret'] as string;
    assert.equal(await callWith(a!.proxyUrl)(secret), 200, 'at once on A');
    assert.equal(await statusWithin(() => callWith(b!.proxyUrl)(secret), 200, 1000), 200, 'on B within 1 s');
    // A session opened on A is valid on B (one portal behind a load balancer).
    const viaB = new PortalClient(b!.portalUrl);
    viaB.cookie = c.cookie;
    viaB.csrf = c.csrf;
    assert.equal((await viaB.get('/portal/api/session')).json['authenticated'], true);
    const revoked = await viaB.del(`/portal/api/keys/${created.json['key'].id}`);
    assert.equal(revoked.status, 200, 'revoked through B this time');
    assert.equal(await callWith(b!.proxyUrl)(secret), 401, 'at once on B');
    assert.equal(await statusWithin(() => callWith(a!.proxyUrl)(secret), 401, 1000), 401, 'on A within 1 s');
    const c2 = await c.post('/portal/api/keys', { name: 'second', plan: 'free' });
    assert.equal(await statusWithin(() => callWith(b!.proxyUrl)(c2.json['secret']), 200, 1000), 200);
    const tables = new pg.Client({ connectionString: DATABASE_URL });
    await tables.connect();
    try {
      const r = await tables.query(`SELECT digest FROM ${schema}.ng_portal_keys`);
      assert.equal(r.rows.length, 2);
      for (const row of r.rows) assert.match(row.digest as string, /^sha256:/);
    } finally {
      await tables.end();
    }
  });
});

describe('portal under --workers', () => {
  let gw: CliGateway | undefined;
  after(async () => {
    await gw?.stop();
  });

  test('one worker serves the portal; a key made there works on requests landing on either worker', async () => {
    const dir = tempDir('northgate-portal-workers-');
    const file = join(dir, 'northgate.yaml');
    writeFileSync(file, config(upstream.url, '', 'access_log: { enabled: true }').replace('access_log: { enabled: false }\n', ''));
    gw = await startCli(['--config', file, '--workers', '2']);
    const line = await gw.waitFor((l) => l['type'] === 'portal' && typeof l['url'] === 'string', 45_000);
    assert.ok(!gw.stderr().includes('not served with --workers'), gw.stderr());
    const portals = gw.lines.filter((l) => l['type'] === 'portal' && typeof l['url'] === 'string');
    assert.equal(portals.length, 1, 'one process serves the portal');
    const c = new PortalClient(String(line['url']).replace('0.0.0.0', '127.0.0.1'));
    await c.signUp('workers@example.com');
    const created = await c.post('/portal/api/keys', { name: 'ci', plan: 'free' });
    assert.equal(created.status, 201);
    const secret = created.json['secret'] as string;
    // New connections are spread over the workers (cluster round-robin): call until both answered 200.
    const pids = new Set<number>();
    let ok = 0;
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 60 && pids.size < 2 && Date.now() < deadline; i++) {
      const r = await http(`${gw.url}/orders-api/orders/${i}`, { headers: { 'x-api-key': secret, connection: 'close' } });
      if (r.status === 200) {
        ok++;
        const access = await gw.waitFor((l) => l['path'] === `/orders-api/orders/${i}` && typeof l['pid'] === 'number');
        if (access['status'] === 200) pids.add(access['pid'] as number);
      } else {
        // A worker that has not seen the key yet answers 401 for at most one poll interval.
        assert.equal(r.status, 401);
      }
    }
    assert.equal(pids.size, 2, 'both workers accepted the portal key');
    assert.equal((await http(`${gw.url}/orders-api/orders/x`, { headers: { 'x-api-key': 'ng_' + 'y'.repeat(43) } })).status, 401);
    assert.ok(readFileSync(join(dir, 'northgate-portal.db')).length > 0, 'the default store sits next to the config');
    // Both workers meter into the portal's default metering file; the portal reads every
    // call from it once the other worker has flushed (every 5 s by default): polled, bounded.
    const usage = async () => {
      const u = await c.get(`/portal/api/usage?step=day&key=${created.json['key'].id}`);
      return (u.json['series'] as Array<{ calls: Record<string, number> }>).reduce((n, p) => n + p.calls['2xx']!, 0);
    };
    const usageDeadline = Date.now() + 20_000;
    let seen = await usage();
    for (let i = 0; i < 100 && seen < ok && Date.now() < usageDeadline; i++) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await usage();
    }
    assert.equal(seen, ok, 'the calls through both workers, from the metering data');
    assert.ok(readFileSync(join(dir, 'northgate-metering.sqlite')).length > 0, 'the metering file sits next to the config');
  });
});

describe('portal.store default', () => {
  test('next to the config file; the config store in mode: database; relative paths from the config file', () => {
    const base = { _format_version: '1', portal: {} } as unknown as RawConfig;
    assert.equal(portalStoreUrl(base, '/etc/northgate/northgate.yaml'), 'sqlite:/etc/northgate/northgate-portal.db');
    assert.equal(portalStoreUrl(base, null), `sqlite:${join(process.cwd(), 'northgate-portal.db')}`);
    assert.equal(portalStoreUrl({ ...base, portal: { store: 'data/p.db' } } as RawConfig, '/etc/ng/n.yaml'), 'sqlite:/etc/ng/data/p.db');
    assert.equal(portalStoreUrl({ ...base, portal: { store: 'sqlite:/var/p.db' } } as RawConfig, '/etc/ng/n.yaml'), 'sqlite:/var/p.db');
    assert.equal(portalStoreUrl({ ...base, mode: 'database', store: { url: 'postgres://db/ng?schema=x' } } as RawConfig, '/etc/ng/n.yaml'), 'postgres://db/ng?schema=x');
    assert.equal(portalStoreUrl({ ...base, mode: 'database' } as RawConfig, '/etc/ng/n.yaml'), `sqlite:${join(process.cwd(), 'northgate.db')}`);
  });

  test('a portal.store that is neither a SQLite file nor a postgres:// URL is a located config problem', () => {
    const lines = configProblems(`_format_version: "1"\nportal:\n  store: "mysql://db/portal"\n`, 'store.yaml');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^store\.yaml:3:\d+ portal\.store: must be a SQLite file/);
  });
});

describe('portal tables in the config store\'s database (mode: database default)', () => {
  test('both migration lists apply to one SQLite file, each in its own migrations table', async () => {
    const path = join(tempDir('northgate-portal-cfg-'), 'northgate.db');
    const store = await openStore(`sqlite:${path}`);
    const data = await openPortalData(`sqlite:${path}`);
    try {
      const account = await data.directory.createAccount({ email: 'Both@Example.com', role: 'developer', passwordHash: null, oidcSubject: null });
      assert.equal(account.email, 'both@example.com');
      assert.equal((await store.read()).version, 0, 'the config version is not the portal\'s');
      assert.deepEqual(data.directory.consumers().map((c) => c.username), ['both@example.com']);
    } finally {
      await data.close();
      await store.close();
    }
    const reopened = await openPortalData(`sqlite:${path}`);
    try {
      assert.equal((await reopened.directory.findAccountByEmail('both@example.com'))?.id !== undefined, true);
    } finally {
      await reopened.close();
    }
  });
});

function readWal(dir: string): string {
  try {
    return readFileSync(join(dir, 'northgate-portal.db-wal')).toString('latin1');
  } catch {
    return '';
  }
}
