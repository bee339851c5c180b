// The import step of `extensions:` in-process: a module that never finishes importing is
// reported after a bounded wait (start and reload never hang), and a module that keeps
// changing is imported a bounded number of times (node cannot unload a module).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { extensionsOf, importExtensions, MAX_MODULE_VERSIONS } from '../../src/compiler/extensions.js';
import { readConfigFile } from '../../src/config/source.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { tempDir } from '../helpers/servers.js';

const plugin = (name: string, marker = 0) => `export default { name: ${JSON.stringify(name)}, priority: 1, schema: { type: 'object' }, create() { return {}; } };\n// ${marker}\n`;

function configFile(dir: string, extensions: string[]): string {
  const file = join(dir, 'northgate.yaml');
  writeFileSync(file, `_format_version: "1"\nextensions: ${JSON.stringify(extensions)}\n`);
  return file;
}

test('a module whose import never settles is a problem after the bounded wait; the other entries load', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'never.mjs'), `await new Promise(() => {});\nexport default {};\n`);
  writeFileSync(join(dir, 'fine.mjs'), plugin('fine'));
  // fine.mjs is imported first under the default bound, so that the short bound below is
  // only ever met by never.mjs (a loaded machine can take over 50 ms for a first import).
  await importExtensions(readConfigFile(configFile(dir, ['./fine.mjs'])));
  const source = readConfigFile(configFile(dir, ['./fine.mjs', './never.mjs']));
  await importExtensions(source, { timeoutMs: 50 });
  const { problems } = extensionsOf(source, defaultRegistry());
  assert.deepEqual(problems, [{ path: ['extensions', 1], message: 'importing "./never.mjs" did not finish within 50 ms (a top-level await that never settles?); the gateway does not wait for it' }]);
  // Again (a reload): the same pending import, the same bounded wait, no new module.
  await importExtensions(source, { timeoutMs: 50 });
  assert.equal(extensionsOf(source, defaultRegistry()).problems.length, 1);
});

test(`a module file that keeps changing is imported at most ${MAX_MODULE_VERSIONS} times; then the change is a problem until a restart`, async () => {
  const dir = tempDir();
  const source = () => readConfigFile(configFile(dir, ['./changing.mjs']));
  for (let i = 0; i < MAX_MODULE_VERSIONS; i++) {
    writeFileSync(join(dir, 'changing.mjs'), plugin('changing', i));
    const s = source();
    await importExtensions(s);
    assert.deepEqual(extensionsOf(s, defaultRegistry()).problems, [], `version ${i}`);
  }
  writeFileSync(join(dir, 'changing.mjs'), plugin('changing', MAX_MODULE_VERSIONS));
  const s = source();
  await importExtensions(s);
  assert.deepEqual(extensionsOf(s, defaultRegistry()).problems, [{
    path: ['extensions', 0],
    message: `"./changing.mjs" changed ${MAX_MODULE_VERSIONS} times since the gateway started and every imported version stays in memory (node cannot unload a module): this version is not imported; restart the gateway to load it`,
  }]);
  // A version imported before still loads (node has it already).
  writeFileSync(join(dir, 'changing.mjs'), plugin('changing', 3));
  const back = source();
  await importExtensions(back);
  assert.deepEqual(extensionsOf(back, defaultRegistry()).problems, []);
});
