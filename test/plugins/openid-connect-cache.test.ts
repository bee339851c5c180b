// What spares a session request its HMAC and its store lookup: the session cookies a reader
// has verified, and the process's copies of sessions read from a shared store (how old a
// copy may be, what drops it, a read under way while a session ends, the bounds). The same
// against real gateways and stores is in test/e2e/openid-connect-cache.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieField, cookieValues, newSessionId, SessionCookieReader, sessionKey, sign, type CookieSettings } from '../../src/plugins/openid-connect/cookies.js';
import { CachingSessionStore } from '../../src/plugins/openid-connect/session-cache.js';
import { MemorySessionStore, type PendingLogin, type SessionData, type SessionStore } from '../../src/plugins/openid-connect/session-store.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';

const C: CookieSettings = { name: 'ng_oidc', loginName: 'ng_oidc_login', path: '/', secure: true, secret: 'x'.repeat(40) };
const LIMITS = { maxSessions: 100, maxPendingLogins: 100 };

function session(over: Partial<SessionData> = {}): SessionData {
  return { iss: 'https://op.example', sub: 'alice', sid: 'sid-1', claims: { sub: 'alice' }, idToken: 'h.p.s', accessToken: 'at', refreshToken: null, accessExpiresAt: 0, expiresAt: 1_000_000, ...over };
}

test('session cookies: a verified value is remembered; a tampered, re-purposed or foreign one is refused every time', () => {
  const reader = new SessionCookieReader(C, 2);
  const id = newSessionId();
  const good = sign(C, 'session', id);
  assert.equal(reader.sessionKey(`ng_oidc=${good}`), sessionKey(id));
  assert.equal(reader.sessionKey(`a=1; ng_oidc=${good}`), sessionKey(id), 'remembered: the same key again');
  // Values near the remembered one are checked in full, whatever was remembered.
  const last = good.at(-1) === 'A' ? 'B' : 'A';
  for (const bad of [good.slice(0, -1) + last, good.slice(0, -1), `${good}A`, `${good[0] === 'x' ? 'y' : 'x'}${good.slice(1)}`, sign(C, 'login', id), sign({ ...C, secret: 'y'.repeat(40) }, 'session', id), id, ''])
    assert.equal(reader.sessionKey(`ng_oidc=${bad}`), null, bad);
  // Values that start as the remembered one does (where the memo looks) are compared in full.
  const rest = sign(C, 'session', newSessionId());
  for (const bad of [good.slice(0, 5) + rest.slice(5), good.slice(0, 5), good.slice(0, 6), good.slice(0, 43), `${good.slice(0, 44)}${rest.slice(44)}`, good.replace(/.$/, ''), good.slice(0, -1) + '\u0100'])
    assert.equal(reader.sessionKey(`ng_oidc=${bad}`), null, bad);
  assert.equal(reader.sessionKey(`ng_oidc=${good}`), sessionKey(id), 'and the remembered one still passes');
  // Another reader (another secret) does not share what this one verified.
  assert.equal(new SessionCookieReader({ ...C, secret: 'y'.repeat(40) }).sessionKey(`ng_oidc=${good}`), null);
  // Several values: the first that verifies wins, remembered or not.
  const other = newSessionId();
  assert.equal(reader.sessionKey(`ng_oidc=forged.sig; ng_oidc=${sign(C, 'session', other)}; ng_oidc=${good}`), sessionKey(other));
  // Bounded: beyond 2 the oldest goes, and comes back by a full check.
  const third = newSessionId();
  assert.equal(reader.sessionKey(`ng_oidc=${sign(C, 'session', third)}`), sessionKey(third));
  assert.equal(reader.sessionKey(`ng_oidc=${good}`), sessionKey(id));
  assert.equal(reader.sessionKey(undefined), null);
});

test('session cookies: two ids that start alike each get their own key, remembered or checked again', () => {
  const reader = new SessionCookieReader(C);
  const id = newSessionId();
  const twin = `${id.slice(0, 8)}${newSessionId().slice(8)}`;
  const cookie = (i: string) => `ng_oidc=${sign(C, 'session', i)}`;
  for (let i = 0; i < 3; i++) {
    assert.equal(reader.sessionKey(cookie(id)), sessionKey(id));
    assert.equal(reader.sessionKey(cookie(twin)), sessionKey(twin));
  }
  // The first cookie of the name that verifies wins, also when a later one is the remembered one.
  assert.equal(reader.sessionKey(`${cookie(id)}; ${cookie(twin)}`), sessionKey(id));
  assert.equal(reader.sessionKey(`ng_oidc=${id.slice(0, 8)}; ${cookie(twin)}`), sessionKey(twin));
  assert.equal(reader.sessionKey(`xng_oidc=${sign(C, 'session', id)}`), null, 'another cookie whose name ends as ours');
});

/** cookieValues as a split of the header: what the indexOf search must agree with. */
function cookieValuesBySplit(header: string, name: string): string[] {
  const out: string[] = [];
  for (const part of header.split(/[;,] */)) {
    if (part.startsWith(`${name}=`)) out.push(part.slice(name.length + 1));
    if (out.length === 8) break;
  }
  return out;
}

test('cookie values: the search agrees with splitting the header, on generated and hostile headers', () => {
  const pieces = ['ng_oidc=', 'ng_oidc', 'xng_oidc=', 'a=1', 'v.sig', '=', ';', ',', ' ', '; ', ', ', 'ng_oidc=ng_oidc=', '"q"', ''];
  let seed = 42;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let i = 0; i < 3000; i++) {
    let header = '';
    for (let k = next(14); k > 0; k--) header += pieces[next(pieces.length)];
    assert.deepEqual(cookieValues(header, 'ng_oidc'), cookieValuesBySplit(header, 'ng_oidc'), JSON.stringify(header));
  }
  for (const header of ['', 'ng_oidc', ' ng_oidc=x', 'a=ng_oidc=x', 'a=1;ng_oidc=x', 'a=1,   ng_oidc=x,ng_oidc=y', 'ng_oidc=a=b; c', `${'ng_oidc=v; '.repeat(20)}`])
    assert.deepEqual(cookieValues(header, 'ng_oidc'), cookieValuesBySplit(header, 'ng_oidc'), JSON.stringify(header));
  assert.equal(cookieValues('ng_oidc=v; '.repeat(20), 'ng_oidc').length, 8, 'at most 8');
});

test('the Cookie fields of a request: every one, whatever its case, joined as one (HTTP/2 sends crumbs)', () => {
  assert.equal(cookieField(['Host', 'a', 'Accept', '*/*']), undefined);
  assert.equal(cookieField(['COOKIE', 'a=1', 'x-cookie', 'no=1', 'cookie', 'ng_oidc=v', 'Cookies', 'no=2']), 'a=1; ng_oidc=v');
  const id = newSessionId();
  const reader = new SessionCookieReader(C);
  assert.equal(reader.sessionKey(cookieField(['cookie', 'a=1', 'cookie', `ng_oidc=${sign(C, 'session', id)}`])), sessionKey(id));
});

/** The memory store whose reads wait until `go()`: a read under way while something else happens. */
class SlowReads implements SessionStore {
  readonly description = 'slow';
  readonly inner: MemorySessionStore;
  readonly reads: string[] = [];
  #waiting: Array<() => void> = [];
  slow = false;
  /** The slow reads answered from now on fail. */
  fail = false;

  constructor(now: () => number) {
    this.inner = new MemorySessionStore(LIMITS, now);
  }
  get(key: string): SessionData | null | Promise<SessionData | null> {
    this.reads.push(key);
    if (!this.slow) return this.inner.get(key);
    const found = this.inner.get(key);
    return new Promise((resolve, reject) => this.#waiting.push(() => (this.fail ? reject(new Error('store down')) : resolve(found))));
  }
  /** Answers the reads under way. */
  go(): void {
    for (const answer of this.#waiting.splice(0)) answer();
  }
  /** Answers the read that started last, before the others. */
  goLast(): void {
    this.#waiting.pop()?.();
  }
  release = (name: string) => this.inner.release(name);
  create = (k: string, s: SessionData) => this.inner.create(k, s);
  update = (k: string, s: SessionData) => this.inner.update(k, s);
  delete = (k: string) => this.inner.delete(k);
  endSessions = (iss: string, by: { sid: string } | { sub: string }) => this.inner.endSessions(iss, by);
  putLogin = (state: string, login: PendingLogin) => this.inner.putLogin(state, login);
  takeLogin = (state: string) => this.inner.takeLogin(state);
  claim = (name: string, expiresAt: number) => this.inner.claim(name, expiresAt);
  close = () => this.inner.close();
}

test('session copies: used while younger than the given age and the session lives; a store read replaces them', async () => {
  let now = 1000;
  const inner = new SlowReads(() => now);
  const cache = new CachingSessionStore(inner, () => now);
  try {
    await inner.create('k', session({ expiresAt: 5000 }));
    assert.equal(cache.recent('k', 1000), undefined, 'nothing read yet');
    assert.equal((await cache.get('k'))?.sub, 'alice');
    assert.equal(cache.recent('k', 1000)?.sub, 'alice');
    now += 999;
    assert.equal(cache.recent('k', 1000)?.sub, 'alice');
    assert.equal(cache.recent('k', 999), undefined, 'older than the age asked for');
    now += 1;
    assert.equal(cache.recent('k', 1000), undefined, 'as old as the age asked for');
    // The session's own end is kept even inside the age.
    await cache.get('k');
    now = 5000;
    assert.equal(cache.recent('k', 60_000), undefined, 'the session has ended');
    // A read that finds nothing drops the copy.
    now = 1000;
    await inner.create('j', session({ sid: 'sid-2' }));
    await cache.get('j');
    await inner.inner.delete('j');
    assert.equal(cache.recent('j', 60_000)?.sid, 'sid-2', 'ended behind the cache: the copy serves');
    assert.equal(await cache.get('j'), null);
    assert.equal(cache.recent('j', 60_000), undefined, 'the store said it is over');
  } finally {
    cache.close();
  }
});

test('session copies: a delete, an update or a logout by sid or sub drops them at once, and a read under way then is not kept', async () => {
  const now = () => 1000;
  const inner = new SlowReads(now);
  const cache = new CachingSessionStore(inner, now);
  try {
    const fill = async (key: string, s: SessionData) => {
      await inner.create(key, s);
      await cache.get(key);
      assert.ok(cache.recent(key, 60_000), key);
    };
    await fill('a', session());
    await cache.delete('a');
    assert.equal(cache.recent('a', 60_000), undefined, 'delete');
    await fill('b', session({ sid: 'sid-b' }));
    await cache.update('b', session({ sid: 'sid-b', accessToken: 'at2' }));
    assert.equal(cache.recent('b', 60_000), undefined, 'update: the next request reads the new one');
    await fill('c', session({ sid: 'sid-c', sub: 'carol' }));
    await fill('d', session({ sid: 'sid-d', sub: 'carol' }));
    await fill('e', session({ sid: 'sid-e', sub: 'erin' }));
    await fill('f', session({ sid: 'sid-e', sub: 'erin', iss: 'https://another.example' }));
    assert.equal(await cache.endSessions('https://op.example', { sid: 'sid-c' }), 1);
    assert.equal(cache.recent('c', 60_000), undefined);
    assert.ok(cache.recent('d', 60_000));
    assert.equal(await cache.endSessions('https://op.example', { sub: 'carol' }), 1);
    assert.equal(cache.recent('d', 60_000), undefined);
    assert.ok(cache.recent('e', 60_000), 'another user');
    assert.equal(await cache.endSessions('https://op.example', { sid: 'sid-e' }), 1);
    assert.ok(cache.recent('f', 60_000), 'the same sid at another issuer is another session');

    // A read that started before the session ended must not bring it back.
    await inner.create('g', session({ sid: 'sid-g' }));
    inner.slow = true;
    const reading = cache.get('g');
    await cache.delete('g');
    inner.go();
    assert.equal((await reading)?.sid, 'sid-g', 'the read answers what the store had');
    assert.equal(cache.recent('g', 60_000), undefined, 'but its answer is not kept');
    // Nor one that started before a logout by sid that was still under way.
    await inner.create('h', session({ sid: 'sid-h' }));
    const readingH = cache.get('h');
    const ending = cache.endSessions('https://op.example', { sid: 'sid-h' });
    inner.go();
    await readingH;
    await ending;
    assert.equal(cache.recent('h', 60_000), undefined);
  } finally {
    cache.close();
  }
});

test('session copies: of two reads that answer out of order, the copy keeps the one that started last', async () => {
  let now = 1000;
  const inner = new SlowReads(() => now);
  const cache = new CachingSessionStore(inner, () => now);
  try {
    await inner.create('k', session({ accessToken: 'old' }));
    inner.slow = true;
    const first = cache.get('k');
    now += 10;
    // Another process refreshes the session between the two reads (behind this cache).
    await inner.inner.update('k', session({ accessToken: 'new' }));
    const second = cache.get('k');
    inner.goLast();
    assert.equal((await second)?.accessToken, 'new');
    inner.go();
    assert.equal((await first)?.accessToken, 'old', 'the earlier read answers what the store had then');
    assert.equal(cache.recent('k', 60_000)?.accessToken, 'new', 'but the copy stays the later one');
    // Nor does an earlier read that found nothing drop a later copy.
    const none = cache.get('m');
    now += 10;
    await inner.inner.create('m', session({ sid: 'sid-m' }));
    const found = cache.get('m');
    inner.goLast();
    assert.equal((await found)?.sid, 'sid-m');
    inner.go();
    assert.equal(await none, null);
    assert.equal(cache.recent('m', 60_000)?.sid, 'sid-m');
    // In order, the later read replaces the copy as before.
    await inner.inner.update('k', session({ accessToken: 'newer' }));
    now += 10;
    const third = cache.get('k');
    inner.go();
    await third;
    assert.equal(cache.recent('k', 60_000)?.accessToken, 'newer');
  } finally {
    cache.close();
  }
});

test('session copies: requests that miss the copy during a read share it, unless a change came since it started', async () => {
  const now = () => 1000;
  const inner = new SlowReads(now);
  const cache = new CachingSessionStore(inner, now);
  try {
    await inner.create('k', session({ sid: 'sid-k' }));
    inner.slow = true;
    const first = cache.shared('k');
    const second = cache.shared('k');
    assert.equal(inner.reads.length, 1, 'one read for both');
    // A read that must see the store as it is now (under the refresh lock) is never shared.
    const own = cache.get('k');
    assert.equal(inner.reads.length, 2, 'get: a read of its own');
    // A logout in this process while the read is under way: a request after it reads again.
    await cache.delete('k');
    const third = cache.shared('k');
    assert.equal(inner.reads.length, 3, 'the read from before the logout is not shared');
    inner.go();
    assert.equal((await first)?.sid, 'sid-k');
    assert.equal((await second)?.sid, 'sid-k');
    assert.equal((await own)?.sid, 'sid-k');
    assert.equal(await third, null, 'the request after the logout sees it');
    assert.equal(cache.recent('k', 60_000), undefined);
    // Once a read is over, the next one goes to the store again.
    await inner.create('j', session({ sid: 'sid-j' }));
    const a = cache.shared('j');
    inner.go();
    await a;
    const b = cache.shared('j');
    inner.go();
    assert.equal((await b)?.sid, 'sid-j');
    assert.equal(inner.reads.filter((k) => k === 'j').length, 2);
  } finally {
    cache.close();
  }
});

test('session copies: a failed read fails the requests that shared it, and the next one reads again', async () => {
  const now = () => 1000;
  const inner = new SlowReads(now);
  const cache = new CachingSessionStore(inner, now);
  try {
    await inner.create('k', session());
    inner.slow = true;
    inner.fail = true;
    const first = cache.shared('k');
    const second = cache.shared('k');
    assert.equal(inner.reads.length, 1);
    inner.go();
    await assert.rejects(Promise.resolve(first), /store down/);
    await assert.rejects(Promise.resolve(second), /store down/);
    inner.fail = false;
    const third = cache.shared('k');
    assert.equal(inner.reads.length, 2, 'a failed read is not shared with later requests');
    inner.go();
    assert.equal((await third)?.sub, 'alice');
  } finally {
    cache.close();
  }
});

test('session copies: bounded, the oldest read goes first; notices from the store drop one copy or all', async () => {
  const now = () => 1000;
  const heard: { notify: ((key: string | null) => void) | null } = { notify: null };
  const inner = new SlowReads(now);
  const announcing = Object.assign(inner, { onEnded: (l: (key: string | null) => void) => void (heard.notify = l) });
  const cache = new CachingSessionStore(announcing, now, 3);
  try {
    for (const k of ['a', 'b', 'c', 'd']) {
      await inner.create(k, session());
      await cache.get(k);
    }
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => cache.recent(k, 60_000) !== undefined), [false, true, true, true]);
    const notify = heard.notify;
    assert.ok(notify, 'the cache listens to the store');
    notify('c');
    assert.equal(cache.recent('c', 60_000), undefined, 'a session ended on another node');
    assert.ok(cache.recent('b', 60_000));
    notify(null);
    assert.deepEqual(['b', 'd'].map((k) => cache.recent(k, 60_000)), [undefined, undefined], 'notices may have been missed: every copy goes');
  } finally {
    cache.close();
  }
});

test('session.cache_ttl: 0s to 1m; beyond, the bound on a logout elsewhere would be too long', () => {
  const base = { issuer: 'https://op.example', client_id: 'app', redirect_uri: 'https://app.example/cb', cookie: { secret: 's'.repeat(32) } };
  const problems = (session: Record<string, unknown>) => configProblems(routeWithPlugin('openid-connect', JSON.stringify({ ...base, session: { store: 'sqlite', ...session } })), 'oidc.yaml');
  for (const ok of ['0s', '250ms', '1s', '1m']) assert.deepEqual(problems({ cache_ttl: ok }), [], ok);
  for (const [bad, message] of [['61s', /session\.cache_ttl: must be at most 1m/], ['1h', /session\.cache_ttl: must be at most 1m/], ['soon', /session\.cache_ttl: must be a duration/], ['-1s', /session\.cache_ttl: must be a duration/]] as const) {
    const p = problems({ cache_ttl: bad });
    assert.ok(p.some((line) => /^oidc\.yaml:\d+:\d+ /.test(line) && message.test(line)), `${bad}: ${p.join('\n')}`);
  }
});
