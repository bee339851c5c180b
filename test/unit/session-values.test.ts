// Session-persistence values (src/proxy/session.ts): what the gateway issues reads back to the
// same pin; another key, a changed part, an expired value or a foreign cookie reads as none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieLine, issueValue, readPin, targetId, type SessionPersistence } from '../../src/proxy/session.js';
import type { Target } from '../../src/upstream/target.js';

const target = { url: 'http://10.0.0.1:9001' } as Target;
const cookie: SessionPersistence = { type: 'cookie', name: 'ng', ttlMs: 60_000, secret: Buffer.from('k'.repeat(32)) };
const NOW = 1_800_000_000_000;

test('an issued value reads back to its backend and target until its expiry', () => {
  const value = issueValue(cookie, 'b-id', target, NOW);
  assert.deepEqual(readPin(cookie, `a=1; ng=${value}; b=2`, NOW), { backend: 'b-id', target: targetId(target) });
  assert.deepEqual(readPin(cookie, `ng=${value}`, NOW + 59_000), { backend: 'b-id', target: targetId(target) });
  assert.equal(readPin(cookie, `ng=${value}`, NOW + 61_000), null);
  assert.ok(!value.includes('10.0.0.1'), 'no address in the value');
});

test('another key, any changed part, or a cookie of another name is no pin', () => {
  const value = issueValue(cookie, 'b-id', target, NOW);
  assert.equal(readPin({ ...cookie, secret: Buffer.from('x'.repeat(32)) }, `ng=${value}`, NOW), null);
  const parts = value.split('.');
  for (let i = 0; i < 4; i++) {
    const changed = parts.map((p, k) => (k === i ? (p.startsWith('A') ? 'B' : 'A') + p.slice(1) : p)).join('.');
    assert.equal(readPin(cookie, `ng=${changed}`, NOW), null, `part ${i}`);
  }
  assert.equal(readPin(cookie, `ngx=${value}`, NOW), null);
  assert.equal(readPin(cookie, undefined, NOW), null);
});

test('without a ttl a value does not expire; the header form reads the header value itself', () => {
  const header: SessionPersistence = { type: 'header', name: 'x-session', ttlMs: 0, secret: cookie.secret };
  const value = issueValue(header, '-', target, NOW);
  assert.equal(value.split('.')[2], '0');
  assert.deepEqual(readPin(header, ` ${value} `, NOW + 10 * 365 * 86_400_000), { backend: '-', target: targetId(target) });
});

test('the cookie line: HttpOnly, SameSite=Lax, Path=/, Max-Age from the ttl, Secure on TLS listeners', () => {
  assert.equal(cookieLine(cookie, 'v', false), 'ng=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
  assert.equal(cookieLine(cookie, 'v', true), 'ng=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
  assert.equal(cookieLine({ ...cookie, ttlMs: 0 }, 'v', false), 'ng=v; Path=/; HttpOnly; SameSite=Lax');
});
