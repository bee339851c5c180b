// The portal's session table: digests only, expiry, OIDC state saved and cleared, and the
// bound on its size (anonymous sessions go first, so a flood of visitors signs nobody out).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPortalDb } from '../../src/portal/store/db.js';
import { DatabaseSessionStore } from '../../src/portal/store/sessions.js';
import { tempDir } from '../helpers/servers.js';

test('sessions: stored by digest, expire, keep a pending OIDC sign-in, and anonymous ones are evicted first past the bound', async () => {
  const path = join(tempDir('northgate-portal-sessions-'), 'p.db');
  const db = await openPortalDb(`sqlite:${path}`);
  try {
    const store = new DatabaseSessionStore(db);
    const s = await store.create(null, 60_000);
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    const got = await store.get(s.id);
    assert.equal(got?.csrf, s.csrf);
    assert.equal(await store.get('x'.repeat(129)), null);
    assert.equal(await store.get(s.id.slice(1)), null);

    got!.oidc = { verifier: 'v', state: 'st', nonce: 'n' };
    await store.save(got!);
    assert.deepEqual((await store.get(s.id))?.oidc, { verifier: 'v', state: 'st', nonce: 'n' });
    got!.oidc = null;
    await store.save(got!);
    assert.equal((await store.get(s.id))?.oidc, null);

    const expired = await store.create('acct', 0);
    assert.equal(await store.get(expired.id), null, 'expired at once');
    await store.destroy(s.id);
    assert.equal(await store.get(s.id), null);

    const signedIn = [];
    for (let i = 0; i < 3; i++) signedIn.push(await store.create(`account-${i}`, 60_000));
    const anonymous = [];
    for (let i = 0; i < 10; i++) anonymous.push(await store.create(null, 60_000));
    // A store bounded at 5 sweeps on its first create: 13 + 1 rows, room made for the new one.
    const bounded = new DatabaseSessionStore(db, { maxSessions: 5 });
    const last = await bounded.create(null, 60_000);
    for (const x of signedIn) assert.notEqual(await bounded.get(x.id), null, 'signed-in sessions are kept while anonymous ones remain');
    const left = (await Promise.all(anonymous.map((x) => bounded.get(x.id)))).filter((x) => x !== null).length;
    assert.ok(left <= 1, `anonymous sessions evicted (left ${left})`);
    assert.notEqual(await bounded.get(last.id), null);
    const file = readFileSync(path).toString('latin1');
    for (const x of [...signedIn, ...anonymous]) assert.ok(!file.includes(x.id), 'no session id in the file');
  } finally {
    await db.close();
  }
});
