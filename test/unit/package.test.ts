// What `npm pack` would publish: the compiled CLI and what it reads at run time, the docs and
// the licence; no tests, benchmarks or their compiled forms. A package outside the repo is
// built and tested against exactly the files `npm pack` would publish (a real install from
// the tarball would compile the native dependencies for minutes: they are linked instead).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDir } from '../helpers/servers.js';

let packed: Set<string> | undefined;

/** The files `npm pack` would put in the tarball, from the dist/ built before the test run (--ignore-scripts: no rebuild); asked once per file. */
function packedFiles(): Set<string> {
  if (packed !== undefined) return packed;
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return (packed = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path)));
}

test('npm pack lists dist/src/cli/main.js and what it needs at run time, and no test or bench file', () => {
  const files = packedFiles();
  const entries = ['index', 'sdk/index', 'testing/index'].flatMap((e) => [`dist/src/${e}.js`, `dist/src/${e}.d.ts`]);
  for (const f of ['package.json', 'bin/northgate.js', 'dist/src/cli/main.js', 'dist/src/runtime/single.js', 'src/portal/static/portal.js', 'README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'docs/operations.md', ...entries]) {
    assert.ok(files.has(f), `${f} is in the package`);
  }
  const unwanted = [...files].filter((f) => /^(dist\/)?(test|bench|examples)\//.test(f) || /\.test\.(js|ts)$/.test(f));
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

test('package.json exports the library, the SDK and the test harness, each with its types', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  const entry = (name: string) => ({ types: `./dist/src/${name}.d.ts`, default: `./dist/src/${name}.js` });
  assert.deepEqual(pkg.exports, { '.': entry('index'), './sdk': entry('sdk/index'), './testing': entry('testing/index'), './package.json': './package.json' });
});

/** The first ```ts block of docs/plugins.md: the plugin example the docs walk through. */
function docsPluginExample(): string {
  const m = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs/plugins.md'), 'utf8'));
  assert.ok(m, 'docs/plugins.md has a ts example');
  return m[1]!;
}

test('a package outside the repo (examples/plugin-hello, plus the docs example) typechecks against northgate/sdk and northgate/testing, and its tests pass', () => {
  // Offline: node_modules/northgate holds the files the tarball would (its dependencies are
  // this checkout's node_modules), and the repo's TypeScript compiles the outside package.
  const dir = tempDir('northgate-outside-');
  cpSync(join(ROOT, 'examples/plugin-hello'), dir, { recursive: true, filter: (src) => !/[\\/](node_modules|dist)$/.test(src) });
  const installed = join(dir, 'node_modules', 'northgate');
  for (const f of packedFiles()) {
    mkdirSync(dirname(join(installed, f)), { recursive: true });
    cpSync(join(ROOT, f), join(installed, f));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir');
  symlinkSync(join(ROOT, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
  writeFileSync(join(dir, 'src', 'docs-example.ts'), docsPluginExample());
  writeFileSync(
    join(dir, 'test', 'docs-example.test.ts'),
    `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPlugin } from 'northgate/testing';
import { requireTeam } from '../src/docs-example.js';

test('the docs example answers 403 without a listed team and lets a listed team through', async () => {
  const refused = await runPlugin(requireTeam, { teams: ['blue'] }, { path: '/x', headers: { 'x-team': 'red' } });
  assert.equal(refused.status, 403);
  assert.equal(refused.upstream, null);
  const allowed = await runPlugin(requireTeam, { teams: ['blue'] }, { path: '/x', headers: { 'x-team': 'blue' } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.upstream?.headers['x-team'], 'blue');
});
`,
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  } catch (err) {
    assert.fail(`tsc in the outside package failed:\n${(err as { stdout: string }).stdout}`);
  }
  let out: string;
  try {
    // Without NODE_TEST_CONTEXT: this runner's child protocol would replace the TAP output.
    const env = { ...process.env };
    delete env['NODE_TEST_CONTEXT'];
    out = execFileSync(process.execPath, ['--test', '--test-reporter=tap', join(dir, 'dist', 'test')], { cwd: dir, encoding: 'utf8', timeout: 120_000, env });
  } catch (err) {
    assert.fail(`the outside package's tests failed:\n${(err as { stdout: string }).stdout}`);
  }
  assert.match(out, /# pass 6\n/);
  assert.match(out, /# fail 0\n/);
});
