// `extensions:` with the real CLI: plugins from modules beside the config file or from a
// package, loaded at start, imported again on reload when their file changed, and every way
// an extension can be wrong reported as FILE:LINE:COL by `northgate validate`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { killCli, rewriteAndReload, isReloadOk } from '../helpers/load.js';
import { BIN, ROOT, http, startCli, tempDir } from '../helpers/servers.js';

const run = promisify(execFile);
const SDK = pathToFileURL(join(ROOT, 'dist/src/sdk/index.js')).href;

/** A module default-exporting a plugin that answers every request with `{ version, greeting }`. */
function answerModule(name: string, version: number): string {
  return `import { LocalReply } from ${JSON.stringify(SDK)};
export default {
  name: ${JSON.stringify(name)},
  priority: 10,
  schema: { type: 'object', additionalProperties: false, properties: { greeting: { type: 'string' } } },
  create(cfg) { return { request: () => LocalReply.json(200, { version: ${version}, greeting: cfg.greeting ?? null }) }; },
};
`;
}

function config(extensions: string[], plugins = 'hello: { greeting: hi }'): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0", admin: null }
extensions:
${extensions.map((e) => `  - ${JSON.stringify(e)}`).join('\n')}
services:
  - name: s
    url: http://127.0.0.1:9
    routes:
      - paths: ["/"]
        plugins:
          ${plugins}
`;
}

async function validate(file: string): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, 'validate', '--config', file]);
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

test('an extension serves at start, and a changed module file is imported again on reload', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'northgate.yaml');
  writeFileSync(join(dir, 'hello.mjs'), answerModule('hello', 1));
  writeFileSync(file, config(['./hello.mjs']));
  const gw = await startCli(['--config', file]);
  t.after(() => killCli(gw));
  assert.deepEqual(JSON.parse((await http(gw.url, { path: '/x' })).body), { version: 1, greeting: 'hi' });

  writeFileSync(join(dir, 'hello.mjs'), answerModule('hello', 2));
  const reloaded = await rewriteAndReload(gw, file, config(['./hello.mjs'], 'hello: { greeting: again }'));
  assert.ok(isReloadOk(reloaded), JSON.stringify(reloaded));
  assert.deepEqual(JSON.parse((await http(gw.url, { path: '/x' })).body), { version: 2, greeting: 'again' });
});

test('an extension found as a package in node_modules from the config folder; an array of plugins', async () => {
  const dir = tempDir();
  const pkg = join(dir, 'node_modules', '@acme', 'gateway-plugins');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/gateway-plugins', type: 'module', exports: { '.': { import: './index.js' } } }));
  writeFileSync(join(pkg, 'one.js'), answerModule('acme-one', 1));
  writeFileSync(join(pkg, 'two.js'), answerModule('acme-two', 2));
  writeFileSync(join(pkg, 'index.js'), `import one from './one.js';\nimport two from './two.js';\nexport default [one, two];\n`);
  const file = join(dir, 'northgate.yaml');
  writeFileSync(file, config(['@acme/gateway-plugins'], 'acme-two: { greeting: x }'));
  assert.deepEqual(await validate(file), { code: 0, out: 'valid\n' });
});

test('northgate validate reports each broken extension at its line, and an extension plugin config against its schema', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'hello.mjs'), answerModule('hello', 1));
  writeFileSync(join(dir, 'also-hello.mjs'), answerModule('hello', 2));
  writeFileSync(join(dir, 'no-default.mjs'), 'export const plugin = {};\n');
  writeFileSync(join(dir, 'not-a-plugin.mjs'), 'export default { name: "half", priority: 1 };\n');
  writeFileSync(join(dir, 'built-in-name.mjs'), answerModule('cors', 1));
  writeFileSync(join(dir, 'throws.mjs'), 'throw new Error("no database URL");\n');
  const file = join(dir, 'northgate.yaml');
  writeFileSync(file, config(['./hello.mjs', './missing.mjs', './no-default.mjs', './not-a-plugin.mjs', './built-in-name.mjs', './throws.mjs', './also-hello.mjs', 'no-such-package']));
  const { code, out } = await validate(file);
  assert.equal(code, 2);
  assert.deepEqual(out.trim().split('\n'), [
    `${file}:5:5 extensions[1]: cannot find module "./missing.mjs" (no file ${join(dir, 'missing.mjs')})`,
    `${file}:6:5 extensions[2]: "./no-default.mjs" has no default export (export default a Plugin or an array of Plugins)`,
    `${file}:7:5 extensions[3]: the default export of "./not-a-plugin.mjs" is not a Plugin: "half" has no "schema" object`,
    `${file}:8:5 extensions[4]: plugin "cors" has the name of a built-in plugin; give it another name`,
    `${file}:9:5 extensions[5]: importing "./throws.mjs" failed: no database URL`,
    `${file}:10:5 extensions[6]: plugin "hello" is also exported by extensions[0] ("./hello.mjs")`,
    `${file}:11:5 extensions[7]: cannot find module "no-such-package" (no package "no-such-package" in node_modules from ${dir})`,
  ]);

  writeFileSync(file, config(['./hello.mjs'], 'hello: { greeting: 5, colour: red }'));
  const schema = await validate(file);
  assert.equal(schema.code, 2);
  assert.deepEqual(schema.out.trim().split('\n').sort(), [
    `${file}:11:30 services[0].routes[0].plugins.hello.greeting: must be string`,
    `${file}:11:33 services[0].routes[0].plugins.hello.colour: unknown key "colour"`,
  ].sort());
});
