// One definition of an HTTP token / header name for every schema (base/schema-defs.ts): what
// it accepts, and that no other file of src/ writes the character class again.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { HTTP_TOKEN_CHAR, HTTP_TOKEN_PATTERN, headerNameSchema, headerValueSchema } from '../../src/sdk/index.js';
import { ROOT } from '../helpers/servers.js';

test('a token is one or more tchars (RFC 9110 5.6.2); a header value has no CR, LF or NUL', () => {
  const token = new RegExp(HTTP_TOKEN_PATTERN);
  for (const ok of ['X-Api-Key', 'authorization', "a!#$%&'*+.^_`|~-9"]) assert.ok(token.test(ok), ok);
  for (const bad of ['', 'X Api', 'a:b', 'a\r\nb', 'é', '(x)', 'a"b', 'a,b']) assert.ok(!token.test(bad), JSON.stringify(bad));
  assert.equal(headerNameSchema.pattern, HTTP_TOKEN_PATTERN);
  const value = new RegExp(headerValueSchema.pattern);
  assert.ok(value.test('text/plain; charset=utf-8'));
  for (const bad of ['a\rb', 'a\nb', 'a\u0000b']) assert.ok(!value.test(bad), JSON.stringify(bad));
  assert.ok(Object.isFrozen(headerNameSchema) && Object.isFrozen(headerValueSchema));
});

test('no file of src/ but base/schema-defs.ts spells the token character class', () => {
  const src = join(ROOT, 'src');
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const inner = HTTP_TOKEN_CHAR.slice(1, -1);
  const copies = files.filter((f) => readFileSync(join(src, f), 'utf8').replaceAll("\\'", "'").includes(inner)).map((f) => relative(src, join(src, f)));
  assert.deepEqual(copies, [join('base', 'schema-defs.ts')]);
});
