// What `npm pack` would publish: the compiled CLI and what it reads at run time, the docs and
// the licence; no tests, benchmarks or their compiled forms. (The full pack + install in an
// empty folder is a manual check: it compiles native modules for minutes.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/servers.js';

test('npm pack lists dist/src/cli/main.js and what it needs at run time, and no test or bench file', () => {
  // --ignore-scripts: list the files of the dist/ built before the test run, without rebuilding it.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
  for (const f of ['package.json', 'bin/northgate.js', 'dist/src/cli/main.js', 'dist/src/runtime/single.js', 'src/portal/static/portal.js', 'README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'docs/operations.md']) {
    assert.ok(files.has(f), `${f} is in the package`);
  }
  const unwanted = [...files].filter((f) => /^(dist\/)?(test|bench)\//.test(f) || /\.test\.(js|ts)$/.test(f));
  assert.deepEqual(unwanted, []);
});

test('package.json: the build runs at pack time, bin is in the package, engines match the runtime dependencies', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    bin: Record<string, string>;
    engines: { node: string };
    files: string[];
  };
  assert.match(pkg.scripts['prepack'] ?? '', /build/, 'prepack builds dist/ for the tarball');
  // prepare also runs when npx installs the checkout as a link: it must not rebuild an up-to-date dist/.
  assert.equal(pkg.scripts['prepare'], 'node scripts/prepare.mjs');
  assert.equal(pkg.bin['northgate'], 'bin/northgate.js');
  assert.equal(pkg.engines.node, '>=20.18.1', 'undici 7 needs 20.18.1');
});
