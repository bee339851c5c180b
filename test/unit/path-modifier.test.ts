// The Gateway API's ReplacePrefixMatch table (HTTPPathModifier), on the path and the length
// of the prefix the router matched, as redirect and rewrite apply it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePathModifier } from '../../src/base/path-modifier.js';

test('replace_prefix follows the Gateway API table, trailing slashes of prefix and replacement included', () => {
  // [request path, matched prefix, replacement, result]
  const table: Array<[string, string, string, string]> = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    ['/a/b', '', '/base', '/base/a/b'],
    ['/a/b', '', '/', '/a/b'],
  ];
  for (const [path, prefix, replacement, result] of table) {
    assert.ok(path.startsWith(prefix));
    assert.equal(compilePathModifier({ replace_prefix: replacement })(path, prefix.length), result, `${path} ${prefix} → ${replacement}`);
  }
});

test('replace_full ignores the request path', () => {
  const full = compilePathModifier({ replace_full: '/fixed/' });
  assert.equal(full('/a/b/c', 2), '/fixed/');
  assert.equal(full('/', 0), '/fixed/');
});
