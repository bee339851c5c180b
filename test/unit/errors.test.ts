// The error table and docs/errors.md list the same codes, statuses and titles.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS, problemBody } from '../../src/base/errors.js';
import { ROOT } from '../helpers/servers.js';

test('docs/errors.md documents every code of src/base/errors.ts, and nothing else', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z-]+)` \| (\d{3}) \| ([^|]+) \|/gm)].map((m) => [m[1]!, Number(m[2]), m[3]!.trim()] as const);
  const documented = new Map(rows.map(([code, status, title]) => [code, { status, title }]));
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [code, spec] of Object.entries(ERRORS)) assert.deepEqual(documented.get(code), { status: spec.status, title: spec.title }, code);
});

test('problem bodies carry type, title, status, detail and request_id', () => {
  const body = JSON.parse(problemBody('upstream-timeout', undefined, 'req-1')) as Record<string, unknown>;
  assert.deepEqual(body, { type: 'urn:northgate:problem:upstream-timeout', title: 'Upstream Timeout', status: 504, detail: 'Upstream Timeout', request_id: 'req-1' });
});
