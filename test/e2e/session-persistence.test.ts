// Session persistence (`routes[].session_persistence`) against real upstreams: a client keeps
// its target (and backend) while it is available; values that are forged, tampered with,
// expired, malformed or name a target gone away get a fresh choice, never an error; sessions
// survive a reload; cookie and header forms; an HTTP/2 client.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const SECRET = 'test-secret-of-at-least-32-characters!';

function named(name: string): Promise<Upstream> {
  return startUpstream((req, res) => {
    req.resume();
    res.end(name);
  });
}

/** What a client that knows the value's layout (not the key) can build: ids are hashes, the MAC an HMAC. */
function forge(key: string, backend: string, targetUrl: string, expiresSeconds: number): string {
  const target = createHash('sha256').update(targetUrl).digest('base64url').slice(0, 11);
  const expires = expiresSeconds === 0 ? '0' : expiresSeconds.toString(36);
  const mac = createHmac('sha256', key).update(`${backend}.${target}.${expires}`).digest('base64url').slice(0, 22);
  return `${backend}.${target}.${expires}.${mac}`;
}

/** The value of the gateway's Set-Cookie for `name`, or undefined. */
function setCookie(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const lines = headers['set-cookie'] ?? [];
  const line = (Array.isArray(lines) ? lines : [lines]).find((l) => l.startsWith(`${name}=`));
  return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0];
}

describe('session persistence', () => {
  const ups: Upstream[] = [];
  let gw: InProcessGateway;
  let config: (targets: Upstream[], weights?: [number, number]) => string;
  before(async () => {
    for (const n of ['t1', 't2', 't3', 'b1', 'b2']) ups.push(await named(n));
    config = (targets, weights = [1, 1]) => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
session_persistence: { secret: "${SECRET}" }
upstreams:
  - name: pool
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 1m } }
    targets: [${targets.map((t) => `{ url: "${t.url}" }`).join(', ')}]
  - { name: b1, targets: [{ url: "${ups[3]!.url}" }] }
services:
  - name: s
    upstream: pool
    routes:
      - { name: cookie, paths: ["/c"], session_persistence: { type: cookie, name: ng-session, ttl: 1h } }
      - { name: header, paths: ["/h"], session_persistence: { type: header, name: X-Session } }
      - name: canary
        paths: ["/b"]
        session_persistence: { type: cookie, name: ng-canary }
        backends: [{ upstream: b1, weight: ${weights[0]} }, { url: "${ups[4]!.url}", weight: ${weights[1]} }]
      - { name: plain, paths: ["/p"] }
`;
    gw = await startGateway(config(ups.slice(0, 3)));
  });
  after(async () => {
    await gw.close();
    for (const u of ups) await u.close();
  });

  const get = (path: string, cookie?: string, headers: Record<string, string> = {}) => http(gw.url + path, { headers: cookie === undefined ? headers : { ...headers, cookie } });

  test('the first answer sets a signed cookie; with it every request goes to that target, without a new cookie', async () => {
    const first = await get('/c');
    const line = ([] as string[]).concat(first.headers['set-cookie'] ?? [])[0]!;
    // No backends on this route: the backend part is "-".
    assert.match(line, /^ng-session=-\.[\w-]{11}\.[0-9a-z]+\.[\w-]{22}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const value = setCookie(first.headers, 'ng-session')!;
    for (let i = 0; i < 9; i++) {
      const res = await get('/c', `other=1; ng-session=${value}; more=2`);
      assert.equal(res.body, first.body);
      assert.equal(res.headers['set-cookie'], undefined);
    }
    // Without the cookie the round-robin goes on: three requests, three targets.
    const spread = new Set([(await get('/c')).body, (await get('/c')).body, (await get('/c')).body]);
    assert.equal(spread.size, 3);
  });

  test('a value signed with another key, tampered with, or malformed is a fresh choice with a new cookie, never an error', async () => {
    const real = setCookie((await get('/c')).headers, 'ng-session')!;
    const t3 = ups[2]!.url;
    const tampered = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    const otherTarget = real.split('.').map((p, i) => (i === 1 ? createHash('sha256').update(t3).digest('base64url').slice(0, 11) : p)).join('.');
    // A MAC of 22 characters, one of them not ASCII (more than 22 bytes): read as latin1 by the parser.
    const wide = real.slice(0, -1) + '\u00e9';
    const values = [forge('not-the-secret-but-32-characters-long', '-', t3, 0), tampered, otherTarget, wide, 'x', '....', `${real}.${real}`, 'a'.repeat(5000), '%00', real.replace(/\./g, '')];
    for (const v of values) {
      // Each forged value is tried three times: it must not pin t3 (a forgery that worked would, every time).
      const bodies = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await get('/c', `ng-session=${v}`);
        assert.equal(res.status, 200, v.slice(0, 40));
        assert.ok(setCookie(res.headers, 'ng-session') !== undefined, `a new cookie for ${v.slice(0, 40)}`);
        bodies.add(res.body);
      }
      assert.equal(bodies.size, 3, `round-robin, not pinned, for ${v.slice(0, 40)}`);
    }
  });

  test('a value signed with the key names its target until it expires', async () => {
    const t2 = ups[1]!.url;
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) assert.equal((await get('/c', `ng-session=${forge(SECRET, '-', t2, now + 60)}`)).body, 't2');
    const expired = forge(SECRET, '-', t2, now - 1);
    const bodies = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const res = await get('/c', `ng-session=${expired}`);
      assert.ok(setCookie(res.headers, 'ng-session') !== undefined);
      bodies.add(res.body);
    }
    assert.equal(bodies.size, 3, 'expired: a fresh choice each time');
  });

  test('header form: the value comes back in the named response header and is read from the request header', async () => {
    const first = await get('/h');
    const value = first.headers['x-session'] as string;
    assert.match(value, /^-\.[\w-]{11}\.0\.[\w-]{22}$/);
    for (let i = 0; i < 5; i++) {
      const res = await get('/h', undefined, { 'x-session': value });
      assert.equal(res.body, first.body);
      assert.equal(res.headers['x-session'], undefined);
    }
    // A cookie value is not a header value of another route's session.
    assert.ok((await get('/h', undefined, { 'x-session': 'forged' })).headers['x-session'] !== undefined);
  });

  test('a route without session persistence neither reads nor sets values', async () => {
    const res = await get('/p', `ng-session=${forge(SECRET, '-', ups[0]!.url, 0)}`);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('with weighted backends the session keeps the backend; a backend set to weight 0 sends its sessions elsewhere', async () => {
    const first = await get('/b');
    const value = setCookie(first.headers, 'ng-canary')!;
    assert.notEqual(value.split('.')[0], '-');
    for (let i = 0; i < 6; i++) assert.equal((await get('/b', `ng-canary=${value}`)).body, first.body);
    // Without it the two backends alternate.
    assert.deepEqual(new Set([(await get('/b')).body, (await get('/b')).body]), new Set(['b1', 'b2']));
    // A rollback: the pinned backend gets weight 0.
    assert.equal(gw.reload(config(ups.slice(0, 3), first.body === 'b1' ? [0, 1] : [1, 0])).ok, true);
    try {
      const res = await get('/b', `ng-canary=${value}`);
      assert.notEqual(res.body, first.body);
      assert.ok(setCookie(res.headers, 'ng-canary') !== undefined);
    } finally {
      assert.equal(gw.reload(config(ups.slice(0, 3))).ok, true);
    }
  });

  test('sessions survive a reload; a value naming a target removed by the reload gets a fresh choice', async () => {
    const values = new Map<string, string>();
    while (values.size < 3) {
      const res = await get('/c');
      values.set(res.body, setCookie(res.headers, 'ng-session')!);
    }
    assert.equal(gw.reload(config(ups.slice(0, 3)) + '\n# unchanged\n').ok, true);
    for (const [body, value] of values) assert.equal((await get('/c', `ng-session=${value}`)).body, body);
    // t3 leaves the upstream.
    assert.equal(gw.reload(config(ups.slice(0, 2))).ok, true);
    try {
      assert.equal((await get('/c', `ng-session=${values.get('t1')}`)).body, 't1');
      const moved = await get('/c', `ng-session=${values.get('t3')}`);
      assert.ok(['t1', 't2'].includes(moved.body));
      assert.ok(setCookie(moved.headers, 'ng-session') !== undefined);
    } finally {
      assert.equal(gw.reload(config(ups.slice(0, 3))).ok, true);
    }
  });

  test('a pinned target that goes down: the request is retried elsewhere and the cookie moves with it', async () => {
    const victim = await named('victim');
    const text = config([victim, ups[0]!]).replace('upstream: pool', 'upstream: pool\n    retries: { attempts: 2, on: [connect-failure] }');
    assert.equal(gw.reload(text).ok, true);
    try {
      let value: string | undefined;
      while (value === undefined) {
        const res = await get('/c');
        if (res.body === 'victim') value = setCookie(res.headers, 'ng-session');
      }
      await victim.close();
      // Pinned to the dead target: connect failure, ejected, retried on t1, and the new cookie names t1.
      const moved = await get('/c', `ng-session=${value}`);
      assert.equal(moved.body, 't1');
      const next = setCookie(moved.headers, 'ng-session')!;
      assert.notEqual(next, value);
      // The dead target is ejected: the old value now gets a fresh choice at once (t1, the only one left).
      assert.equal((await get('/c', `ng-session=${value}`)).body, 't1');
      assert.equal((await get('/c', `ng-session=${next}`)).headers['set-cookie'], undefined);
    } finally {
      assert.equal(gw.reload(config(ups.slice(0, 3))).ok, true);
    }
  });

  test('an HTTP/2 client keeps its target with the cookie', async () => {
    const h2 = await startGateway(config(ups.slice(0, 3)).replace('listen: { proxy: "127.0.0.1:0", status: null }', 'listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }'));
    const session = connect(h2.url);
    const request = (cookie?: string) =>
      new Promise<{ body: string; cookie: string | undefined }>((resolve, reject) => {
        const req = session.request({ ':path': '/c', ...(cookie === undefined ? {} : { cookie }) });
        let body = '';
        let set: string | undefined;
        req.on('response', (h) => (set = setCookie(h as Record<string, string | string[] | undefined>, 'ng-session')));
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => resolve({ body, cookie: set }));
        req.on('error', reject);
      });
    try {
      const first = await request();
      assert.ok(first.cookie !== undefined);
      for (let i = 0; i < 6; i++) {
        const r = await request(`ng-session=${first.cookie}`);
        assert.deepEqual([r.body, r.cookie], [first.body, undefined]);
      }
    } finally {
      session.close();
      await h2.close();
    }
  });
});
