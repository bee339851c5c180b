// `key-auth` and `acl`: keys in headers and query, 401s that reveal nothing, identity
// headers that cannot be spoofed, hidden credentials, key rotation by reload.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { consumerIdFor } from '../../src/consumers/index.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { ROOT } from '../helpers/servers.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

interface Echo { path: string; headers: Record<string, string | undefined> }
const echoOf = (body: string): Echo => JSON.parse(body) as Echo;

const problemsOf = (yaml: string): string[] => {
  try {
    loadConfigText('k.yaml', yaml, defaultRegistry(), { ALICE_KEY: 'alice-key-from-env' });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
};

const config = (upstream: string, aliceKey = 'alice-secret-key-1') => `
_format_version: "1"
consumers:
  - username: alice
    groups: [staff, billing]
    credentials:
      key-auth: [{ key: "${aliceKey}", id: alice-key }]
  - username: bob
    id: bob-id
    groups: [guests]
    credentials:
      key-auth: [{ key: "bob-secret-key-1" }]
services:
  - name: s
    url: "${upstream}"
    routes:
      - name: open
        paths: ["/open"]
      - name: keyed
        paths: ["/keyed"]
        plugins:
          key-auth: {}
      - name: visible
        paths: ["/visible"]
        plugins:
          key-auth: { hide_credentials: false, key_names: [token] }
      - name: header-only
        paths: ["/header-only"]
        plugins:
          key-auth: { in: [header] }
      - name: staff
        paths: ["/staff"]
        plugins:
          key-auth: {}
          acl: { allow: [staff] }
      - name: no-guests
        paths: ["/no-guests"]
        plugins:
          key-auth: {}
          acl: { deny: [guests] }
      - name: acl-alone
        paths: ["/acl-alone"]
        plugins:
          acl: { allow: [staff] }
`;

describe('consumers config', () => {
  const base = (consumers: string) => `_format_version: "1"\nconsumers:\n${consumers}`;

  test('a duplicate key across consumers, a duplicate username and a short key are refused with their positions', () => {
    const lines = problemsOf(base(`  - username: a
    credentials: { key-auth: [{ key: "same-key-123" }] }
  - username: a
    credentials: { key-auth: [{ key: "same-key-123" }] }
`));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.ok(lines.some((l) => /^k\.yaml:5:\d+ consumers\[1\]\.username: duplicate consumer username "a"/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^k\.yaml:6:\d+ consumers\[1\]\.credentials\.key-auth\[0\]\.key: duplicate key \(same as consumers\[0\]\.credentials\.key-auth\[0\]\)/.test(l)), lines.join('\n'));
    assert.ok(!lines.some((l) => l.includes('same-key-123')), 'a problem never repeats a key');
    const short = problemsOf(base('  - username: a\n    credentials: { key-auth: [{ key: "short" }] }\n'));
    assert.equal(short.length, 1);
    assert.match(short[0]!, /^k\.yaml:4:\d+ consumers\[0\]\.credentials\.key-auth\[0\]\.key: must be 8-1024 printable ASCII/);
  });

  test('keys may come from the environment; unknown keys in a consumer are refused', () => {
    assert.deepEqual(problemsOf(base('  - username: a\n    credentials: { key-auth: [{ key: "${ALICE_KEY}" }] }\n')), []);
    const lines = problemsOf(base('  - username: a\n    group: [x]\n'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /consumers\[0\]\.group: unknown key "group" \(did you mean "groups"\?\)/);
  });

  test('acl needs exactly one of allow / deny', () => {
    const lines = problemsOf(`_format_version: "1"\nplugins:\n  acl: { allow: [a], deny: [b] }\n`);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /plugins\.acl: needs exactly one of "allow" or "deny"/);
  });

  test('keys are looked up by SHA-256 digest and compared with timingSafeEqual; the index keeps no key', () => {
    const src = readFileSync(join(ROOT, 'src', 'consumers', 'index.ts'), 'utf8');
    assert.match(src, /findKey\(key: string\)[^}]*hash\('sha256', key, 'base64'\)[^}]*timingSafeEqual\(hit\.digest, Buffer\.from\(text, 'base64'\)\)/s);
    assert.match(src, /timingSafeEqual\(derived, target\.hash\)/);
  });
});

describe('key-auth and acl', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: config('http://echo'), upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  test('no key: 401 problem with WWW-Authenticate: Key', async () => {
    const res = await gw.request({ path: '/keyed' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Key realm="northgate"');
    assert.match(res.headers['content-type']!, /application\/problem\+json/);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(body['type'], 'urn:northgate:problem:unauthorized');
  });

  test('an unknown key and an almost-right key get the same answer (only the request id differs)', async () => {
    const strip = (b: string) => ({ ...(JSON.parse(b) as Record<string, unknown>), request_id: null });
    const unknown = await gw.request({ path: '/keyed', headers: { apikey: 'nobody-has-this-key' } });
    const close = await gw.request({ path: '/keyed', headers: { apikey: 'alice-secret-key-2' } });
    assert.equal(unknown.status, 401);
    assert.equal(close.status, 401);
    assert.deepEqual(strip(unknown.body), strip(close.body));
    assert.equal(unknown.headers['www-authenticate'], close.headers['www-authenticate']);
  });

  test('a valid key in a header: identity headers reach the upstream, the key does not', async () => {
    const res = await gw.request({ path: '/keyed', headers: { 'X-API-Key': 'alice-secret-key-1' } });
    assert.equal(res.status, 200);
    const e = echoOf(res.body);
    assert.equal(e.headers['x-consumer-id'], consumerIdFor('alice'));
    assert.match(e.headers['x-consumer-id']!, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(e.headers['x-consumer-username'], 'alice');
    assert.equal(e.headers['x-consumer-groups'], 'staff,billing');
    assert.equal(e.headers['x-credential-id'], 'alice-key');
    assert.equal(e.headers['x-api-key'], undefined, 'hide_credentials is on by default');
  });

  test('a key in the query string is accepted and removed; other parameters keep their bytes', async () => {
    const res = await gw.request({ path: '/keyed?a=1&apikey=bob-secret-key-1&b=%2F+x&apikey=other' });
    assert.equal(res.status, 200);
    const e = echoOf(res.body);
    assert.equal(e.path, '/keyed?a=1&b=%2F+x');
    assert.equal(e.headers['x-consumer-id'], 'bob-id');
    assert.equal(e.headers['x-credential-id'], 'bob/key-auth/0');
  });

  test('with in: [header], a query key is not looked at', async () => {
    const res = await gw.request({ path: '/header-only?apikey=bob-secret-key-1' });
    assert.equal(res.status, 401);
  });

  test('hide_credentials: false forwards the key; custom key_names', async () => {
    const res = await gw.request({ path: '/visible', headers: { token: 'bob-secret-key-1' } });
    assert.equal(res.status, 200);
    assert.equal(echoOf(res.body).headers['token'], 'bob-secret-key-1');
  });

  test('client-sent identity headers are removed, on routes with and without auth', async () => {
    const spoof = { 'X-Consumer-Id': 'admin', 'X-Consumer-Username': 'admin', 'X-Consumer-Groups': 'staff', 'X-Credential-Id': 'x', 'X-Anonymous-Consumer': 'false' };
    const open = echoOf((await gw.request({ path: '/open', headers: spoof })).body);
    for (const h of Object.keys(spoof)) assert.equal(open.headers[h.toLowerCase()], undefined, h);
    const keyed = echoOf((await gw.request({ path: '/keyed', headers: { ...spoof, apikey: 'bob-secret-key-1' } })).body);
    assert.equal(keyed.headers['x-consumer-id'], 'bob-id');
    assert.equal(keyed.headers['x-consumer-username'], 'bob');
    assert.equal(keyed.headers['x-consumer-groups'], 'guests');
    const raw = (await gw.request({ path: '/keyed', headers: { ...spoof, apikey: 'bob-secret-key-1' } })).body;
    assert.equal((raw.match(/x-consumer-id/gi) ?? []).length, 2, 'one x-consumer-id in headers and one in rawHeaders: no duplicate');
  });

  test('acl allow: a member passes, a known non-member gets 403 (not 401)', async () => {
    assert.equal((await gw.request({ path: '/staff', headers: { apikey: 'alice-secret-key-1' } })).status, 200);
    const bob = await gw.request({ path: '/staff', headers: { apikey: 'bob-secret-key-1' } });
    assert.equal(bob.status, 403);
    assert.equal((JSON.parse(bob.body) as { type: string }).type, 'urn:northgate:problem:forbidden');
    assert.equal(bob.headers['www-authenticate'], undefined);
    assert.equal((await gw.request({ path: '/staff' })).status, 401, 'authentication runs before acl');
  });

  test('acl deny, and acl without an auth plugin refuses (403)', async () => {
    assert.equal((await gw.request({ path: '/no-guests', headers: { apikey: 'alice-secret-key-1' } })).status, 200);
    assert.equal((await gw.request({ path: '/no-guests', headers: { apikey: 'bob-secret-key-1' } })).status, 403);
    assert.equal((await gw.request({ path: '/acl-alone', headers: { 'x-consumer-groups': 'staff' } })).status, 403);
  });

  test('key rotation by reload: the new key works at once, the old one stops', async () => {
    assert.equal((await gw.request({ path: '/keyed', headers: { apikey: 'alice-secret-key-1' } })).status, 200);
    const r = gw.reload(config('http://echo', 'alice-rotated-key-2'));
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal((await gw.request({ path: '/keyed', headers: { apikey: 'alice-secret-key-1' } })).status, 401);
    const res = await gw.request({ path: '/keyed', headers: { apikey: 'alice-rotated-key-2' } });
    assert.equal(res.status, 200);
    assert.equal(echoOf(res.body).headers['x-consumer-username'], 'alice');
    gw.reload(config('http://echo'));
  });
});
