// src/upstream/undici-pool.ts loads undici's Pool by its file path: it must stay the class
// undici exports (an undici upgrade that moves it fails here, not in production).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as undici from 'undici';
import { undiciPool, undiciRequestApi } from '../../src/upstream/undici-pool.js';

test('the Pool loaded alone is the one undici exports', async () => {
  const Pool = undiciPool();
  assert.equal(Pool, undici.Pool);
  const pool = new Pool('http://127.0.0.1:1');
  assert.ok(pool instanceof undici.Dispatcher);
  await pool.close();
});

test('the request API taken alone is the one undici installs on its dispatchers', () => {
  // A Pool loaded without undici's index has no request(): the active health checks call this one.
  assert.equal(undiciRequestApi(), undici.Dispatcher.prototype.request);
});
