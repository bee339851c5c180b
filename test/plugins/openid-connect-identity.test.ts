// What the upstream gets from a session of `openid-connect`: the identity headers, worked
// out once per session object and put on the request in one pass that drops the client's
// copies of those names (in any case) and the gateway's cookies. The same through a real
// sign-in is in test/e2e/openid-connect.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stripCookies } from '../../src/plugins/openid-connect/cookies.js';
import { Identities } from '../../src/plugins/openid-connect/identity.js';
import type { SessionData } from '../../src/plugins/openid-connect/session-store.js';
import { compileSettings } from '../../src/plugins/openid-connect/settings.js';
import type { Consumer, ConsumerDirectory } from '../../src/sdk/consumer.js';
import { HeaderList } from '../../src/sdk/header-list.js';

function directory(consumers: Consumer[]): ConsumerDirectory {
  return {
    byId: new Map(consumers.map((c) => [c.id, c])),
    byUsername: new Map(consumers.map((c) => [c.username, c])),
    jwtByKeyId: new Map(),
    jwtByIssuer: new Map(),
    findKey: () => null,
    verifyBasic: () => null,
  };
}

const alice: Consumer = { id: 'c-1', username: 'alice', groups: new Set(['staff']), groupsHeader: 'staff', plan: null, kind: 'configured' };

function session(over: Partial<SessionData> = {}): SessionData {
  return { iss: 'https://op', sub: 'alice', sid: 's1', claims: { sub: 'alice', email: 'alice@example.test', roles: ['a', 'b'] }, idToken: 'h.p.s', accessToken: 'at-1', refreshToken: null, accessExpiresAt: 0, expiresAt: 10_000, ...over };
}

const settings = compileSettings({
  issuer: 'https://op',
  client_id: 'app',
  redirect_uri: 'https://app.example/cb',
  cookie: { secret: 's'.repeat(32) },
  claim_headers: { 'X-User-Email': 'email', 'X-Roles': 'roles', 'X-Missing': 'nope' },
  id_token_header: 'X-Id-Token',
  forward_access_token: true,
});

test('identity headers: the client\'s copies go in any case, other fields and cookies stay, the session\'s come last', () => {
  const ids = new Identities(settings);
  const dir = directory([alice]);
  const identity = ids.of(dir, session());
  assert.equal(identity.consumer, alice);
  const h = new HeaderList([
    'Accept', 'text/html',
    'X-Consumer-ID', 'mallory',
    'cookie', 'a=1; ng_oidc=v.sig; b=2',
    'x-user-email', 'forged@evil.test',
    'X-CONSUMER-GROUPS', 'admin',
    'Authorization', 'Bearer forged',
    'X-Id-Token', 'forged',
    'x-missing', 'forged',
    'Cookie', 'ng_oidc_login=s.t; c=3',
    'X-Roles-Extra', 'kept',
  ]);
  ids.apply(h, identity);
  assert.deepEqual(h.raw, [
    'Accept', 'text/html',
    'X-Roles-Extra', 'kept',
    'cookie', 'a=1; b=2; c=3',
    'x-consumer-id', 'c-1', 'x-consumer-username', 'alice', 'x-consumer-groups', 'staff',
    'x-user-email', 'alice@example.test', 'x-roles', 'a,b',
    'x-id-token', 'h.p.s', 'authorization', 'Bearer at-1',
  ]);
  // A request without any of them: the session's headers only, no cookie field made up.
  const plain = new HeaderList(['accept', '*/*', 'cookie', 'ng_oidc=v.sig']);
  ids.apply(plain, identity);
  assert.deepEqual(plain.raw.slice(0, 2), ['accept', '*/*']);
  assert.equal(new HeaderList(plain.raw).get('cookie'), undefined);
  assert.equal(plain.raw.length, 2 + identity.headers.length);
});

test('identity headers: once per session object and consumers; a refreshed session or a reload gives new ones', () => {
  const ids = new Identities(settings);
  const dir = directory([alice]);
  const s = session();
  const first = ids.of(dir, s);
  assert.equal(ids.of(dir, s), first, 'the same session object: the same identity');
  const refreshed = ids.of(dir, { ...s, accessToken: 'at-2', idToken: 'h.p.t' });
  assert.notEqual(refreshed, first);
  assert.ok(refreshed.headers.includes('Bearer at-2') && refreshed.headers.includes('h.p.t'));
  // After a reload alice is no longer configured: an external consumer named by the claim.
  const external = ids.of(directory([]), s);
  assert.equal(external.consumer?.kind, 'external');
  assert.deepEqual(external.headers.slice(0, 4), ['x-consumer-id', 'alice', 'x-consumer-username', 'alice']);
  assert.ok(!external.headers.includes('x-consumer-groups'));
  // No usable consumer claim: no identity to send.
  const none = ids.of(dir, session({ claims: { sub: 'bad,name' } }));
  assert.equal(none.consumer, null);
  // A claim that cannot be a header value is left out, not sent broken.
  const unsafe = ids.of(dir, session({ claims: { sub: 'alice', email: 'a@b\r\nX-Evil: 1' } }));
  assert.ok(!unsafe.headers.includes('x-user-email'));
});

/** stripCookies as a split of every Cookie field: what the hand-written one must agree with. */
function stripBySplit(raw: string[], names: string[]): string[] {
  const h = new HeaderList([...raw]);
  const fields = h.getAll('cookie');
  if (fields.length === 0 || !fields.some((f) => names.some((n) => f.includes(n)))) return h.raw;
  const kept: string[] = [];
  for (const field of fields)
    for (const part of field.split(/; */)) {
      const eq = part.indexOf('=');
      if (part !== '' && !names.includes(eq < 0 ? part : part.slice(0, eq))) kept.push(part);
    }
  h.remove('cookie');
  if (kept.length > 0) h.append('cookie', kept.join('; '));
  return h.raw;
}

test('stripping the gateway\'s cookies agrees with splitting the fields, on generated and hostile headers', () => {
  const names = ['ng_oidc', 'ng_oidc_login'];
  const pieces = ['ng_oidc=', 'ng_oidc', 'ng_oidc_login=x', 'xng_oidc=1', 'a=1', 'v.sig', '=', ';', '; ', ';  ', ' ', ',', 'b', '"q=1"', ''];
  let seed = 7;
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const field = () => {
    let v = '';
    for (let k = next(10); k > 0; k--) v += pieces[next(pieces.length)];
    return v;
  };
  for (let i = 0; i < 3000; i++) {
    const raw: string[] = [];
    for (let k = next(4); k > 0; k--) raw.push(['Cookie', 'cookie', 'COOKIE', 'accept', 'x-cookie'][next(5)]!, field());
    const h = new HeaderList([...raw]);
    stripCookies(h, names);
    assert.deepEqual(h.raw, stripBySplit(raw, names), JSON.stringify(raw));
  }
});
