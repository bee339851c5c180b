// HeaderList: the flat [name, value, ...] list the proxy forwards; lookups and edits ignore case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeaderList } from '../../src/sdk/header-list.js';

test('set replaces every value of a name in any case and keeps the other headers in order', () => {
  const h = new HeaderList(['Host', 'a', 'TraceParent', 'old-1', 'x-bench', '1', 'traceparent', 'old-2', 'Accept', '*/*']);
  h.set('traceparent', 'new');
  assert.deepEqual(h.raw, ['Host', 'a', 'x-bench', '1', 'Accept', '*/*', 'traceparent', 'new']);
  h.set('X-Bench', '2');
  assert.deepEqual(h.raw, ['Host', 'a', 'Accept', '*/*', 'traceparent', 'new', 'X-Bench', '2']);
});

test('remove of an absent name leaves the list as it was; lookups ignore case', () => {
  const raw = ['Host', 'a', 'Via', '1.1 x', 'via', '1.1 y'];
  const h = new HeaderList(raw);
  h.remove('traceparent');
  assert.equal(h.raw, raw);
  assert.deepEqual(raw, ['Host', 'a', 'Via', '1.1 x', 'via', '1.1 y']);
  assert.equal(h.get('VIA'), '1.1 x');
  assert.deepEqual(h.getAll('via'), ['1.1 x', '1.1 y']);
  assert.equal(h.has('host'), true);
  assert.equal(h.get('hos'), undefined);
  h.remove('VIA');
  assert.deepEqual(h.raw, ['Host', 'a']);
  assert.equal(h.size, 1);
});
