// Per-request plugin state (setLocal / local / locals): the entries a chain stores without a
// Map per request and the Map the `locals` getter hands out are one store, whatever the order
// of use and however many keys a plugin stores.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DownstreamRequest, DownstreamResponse } from '../../src/http1/types.js';
import { RequestContext, type ListenerInfo } from '../../src/proxy/context.js';
import type { ProxySnapshot } from '../../src/proxy/snapshot.js';
import { localKey } from '../../src/sdk/local-key.js';

function context(): RequestContext {
  const snapshot = { limits: { maxBodyBytes: 1024 } } as unknown as ProxySnapshot;
  return new RequestContext({ method: 'GET' } as DownstreamRequest, {} as DownstreamResponse, snapshot, { protocol: 'http', portText: '80' } as ListenerInfo, 0);
}

test('setLocal values are read back by local and found in locals; locals edits are read by local', () => {
  const ctx = context();
  const a = localKey<number>('a');
  const b = localKey<string>('b');
  assert.equal(ctx.local(a), undefined);
  ctx.setLocal(a, 1);
  ctx.setLocal(b, 'x');
  ctx.setLocal(a, 2);
  assert.equal(ctx.local(a), 2);
  assert.equal(ctx.local(b), 'x');
  const map = ctx.locals;
  assert.deepEqual([...map.entries()], [[a, 2], [b, 'x']]);
  assert.equal(ctx.locals, map);
  map.set('by-name', true);
  map.set(a, 3);
  assert.equal(ctx.local('by-name'), true);
  assert.equal(ctx.local(a), 3);
  ctx.setLocal(b, 'y');
  assert.equal(map.get(b), 'y');
});

test('many keys: every one is kept and readable, before and after locals is asked for', () => {
  const ctx = context();
  const keys = Array.from({ length: 40 }, (_, i) => localKey<number>(`k${i}`));
  keys.forEach((k, i) => ctx.setLocal(k, i));
  keys.forEach((k, i) => assert.equal(ctx.local(k), i));
  assert.equal(ctx.locals.size, 40);
  keys.forEach((k, i) => assert.equal(ctx.locals.get(k), i));
});
