// `extensions:` under attack, with the real CLI: only the config file's author makes the
// gateway import code (never the admin API, a store document, `config apply` or the
// environment), and every way a module can be broken or hostile (throwing getters, a Proxy,
// a throwing check() or create(), a cyclic or huge schema, URLs, built-ins, traversal in a
// package specifier) is a located problem: never a crash, and a failed reload keeps serving.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, adminClient, adminUrlOf, nodeConfig } from '../helpers/admin.js';
import { isReloadFailed, isReloadOk, killCli, rewriteAndReload } from '../helpers/load.js';
import { BIN, http, runCli, startCli, startEchoUpstream, tempDir } from '../helpers/servers.js';

const run = promisify(execFile);

/** A module default-exporting `plugin` (JavaScript source of an expression), after `prelude`. */
function moduleText(plugin: string, prelude = ''): string {
  return `${prelude}\nexport default ${plugin};\n`;
}

/** A plugin that lets every request through; `extra` adds members (JavaScript source). */
function plainPlugin(name: string, extra = ''): string {
  return `{ name: ${JSON.stringify(name)}, priority: 10, schema: { type: 'object' }, create() { return {}; }${extra} }`;
}

/** A module that leaves a marker file when it is imported: proof that its code ran. */
function markerModule(marker: string, name = 'marker'): string {
  return moduleText(plainPlugin(name), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'imported');`);
}

function config(extensions: string[], plugins = '{}', url = 'http://127.0.0.1:9'): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0", admin: null }
extensions:
${extensions.map((e) => `  - ${JSON.stringify(e)}`).join('\n')}
services:
  - name: s
    url: ${url}
    routes:
      - paths: ["/"]
        plugins: ${plugins}
`;
}

async function validate(file: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, 'validate', '--config', file], { env: { ...process.env, ...env } });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

test('hostile plugin objects: throwing getters, a Proxy, NaN and Infinity priorities, bad names and schemas are located problems', async () => {
  const dir = tempDir();
  const files: Record<string, string> = {
    'getter.mjs': moduleText(`{ get name() { throw new Error('boom'); }, priority: 1, schema: {}, create() { return {}; } }`),
    'proxy.mjs': moduleText(`new Proxy({}, { get() { throw new Error('trap'); }, has() { throw new Error('trap'); } })`),
    'array-proxy.mjs': moduleText(`new Proxy([], { get(t, k) { if (k === 'length') throw new Error('no length'); return Reflect.get(t, k); } })`),
    'nan.mjs': moduleText(`{ name: 'nan', priority: NaN, schema: {}, create() { return {}; } }`),
    'inf.mjs': moduleText(`{ name: 'inf', priority: Infinity, schema: {}, create() { return {}; } }`),
    'camel.mjs': moduleText(`{ name: 'helloWorld', priority: 1, schema: {}, create() { return {}; } }`),
    'bad-schema.mjs': moduleText(`{ name: 'bad-schema', priority: 1, schema: { type: 'nope' }, create() { return {}; } }`),
    'cyclic.mjs': moduleText(`p`, `const s = { type: 'object', properties: {} }; s.properties.self = s;\nconst p = { name: 'cyclic', priority: 1, schema: s, create() { return {}; } };`),
    'huge.mjs': moduleText(`{ name: 'huge', priority: 1, schema: { enum: Array.from({ length: 120000 }, (_, i) => 'value-' + i) }, create() { return {}; } }`),
    'deep.mjs': moduleText(`{ name: 'deep', priority: 1, schema: d, create() { return {}; } }`, `let d = { type: 'object' }; for (let i = 0; i < 20000; i++) d = { type: 'object', properties: { x: d } };`),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const file = join(dir, 'northgate.yaml');
  const names = Object.keys(files).map((n) => `./${n}`);
  writeFileSync(file, config(names));
  const { code, out } = await validate(file);
  assert.equal(code, 2, out);
  const lines = out.trim().split('\n');
  const at = (i: number) => `${file}:${4 + i}:5 extensions[${i}]: `;
  assert.deepEqual(lines.slice(0, 7), [
    `${at(0)}the default export of "./getter.mjs" is not a Plugin: reading it threw: boom`,
    `${at(1)}the default export of "./proxy.mjs" is not a Plugin: reading it threw: trap`,
    `${at(2)}the default export of "./array-proxy.mjs" is not a Plugin: reading it threw: no length`,
    `${at(3)}the default export of "./nan.mjs" is not a Plugin: "nan" has priority NaN; it must be a finite number`,
    `${at(4)}the default export of "./inf.mjs" is not a Plugin: "inf" has priority Infinity; it must be a finite number`,
    `${at(5)}the default export of "./camel.mjs" is not a Plugin: its name "helloWorld" is not kebab-case`,
    `${at(6)}the schema of plugin "bad-schema" from "./bad-schema.mjs" is not a valid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf`,
  ]);
  assert.equal(lines[7], `${at(7)}the schema of plugin "cyclic" from "./cyclic.mjs" is not JSON data: it contains itself (a JSON Schema is pure data; use $ref for a recursive shape)`);
  assert.match(lines[8]!, new RegExp(`^${at(8).replace(/[[\]./]/g, '\\$&')}the schema of plugin "huge" from "\\./huge\\.mjs" is [0-9.]+ MB of JSON; at most 1 MB$`));
  assert.match(lines[9]!, new RegExp(`^${at(9).replace(/[[\]./]/g, '\\$&')}the schema of plugin "deep" from "\\./deep\\.mjs" (is not JSON data|is not a valid JSON Schema): .*(call stack|nested)`));
  assert.equal(lines.length, 10);
});

test('check() that throws or returns garbage, create() that throws or returns no handler: located at start, and a reload that meets one keeps serving', async (t) => {
  const dir = tempDir();
  writeFileSync(join(dir, 'ok.mjs'), moduleText(plainPlugin('ok')));
  writeFileSync(join(dir, 'check-throws.mjs'), moduleText(plainPlugin('check-throws', `, check() { throw new Error('kaboom'); }`)));
  writeFileSync(join(dir, 'check-garbage.mjs'), moduleText(plainPlugin('check-garbage', `, check() { return 'nope'; }`)));
  writeFileSync(join(dir, 'create-throws.mjs'), moduleText(`{ name: 'create-throws', priority: 1, schema: { type: 'object' }, create() { throw new Error('no connection'); } }`));
  writeFileSync(join(dir, 'create-null.mjs'), moduleText(`{ name: 'create-null', priority: 1, schema: { type: 'object' }, create() { return null; } }`));
  const all = ['./ok.mjs', './check-throws.mjs', './check-garbage.mjs', './create-throws.mjs', './create-null.mjs'];
  const file = join(dir, 'northgate.yaml');

  writeFileSync(file, config(all, '{ check-throws: {}, check-garbage: {} }'));
  const checked = await validate(file);
  assert.equal(checked.code, 2, checked.out);
  assert.deepEqual(checked.out.trim().split('\n').sort(), [
    `${file}:14:34 services[0].routes[0].plugins.check-throws: check() of plugin "check-throws" threw: kaboom`,
    `${file}:14:53 services[0].routes[0].plugins.check-garbage: check() of plugin "check-garbage" returned "nope" instead of an array of { path, message }`,
  ].sort());

  writeFileSync(file, config(all, '{ create-throws: {} }'));
  const start = await runCli(['start', '-c', file]);
  assert.equal(start.code, 2, start.stderr);
  assert.match(start.stderr, new RegExp(`${file.replace(/[./]/g, '\\$&')}:14:35 services\\[0\\]\\.routes\\[0\\]\\.plugins\\.create-throws: create\\(\\) of plugin "create-throws" threw: no connection`));

  writeFileSync(file, config(all, '{ create-null: {} }'));
  const nullStart = await runCli(['start', '-c', file]);
  assert.equal(nullStart.code, 2, nullStart.stderr);
  assert.match(nullStart.stderr, /plugins\.create-null: create\(\) of plugin "create-null" returned null instead of a handler object/);

  const upstream = await startEchoUpstream();
  t.after(() => upstream.close());
  writeFileSync(file, config(all, '{ ok: {} }', upstream.url));
  const gw = await startCli(['--config', file]);
  t.after(() => killCli(gw));
  assert.equal((await http(gw.url, { path: '/x' })).status, 200);
  for (const plugins of ['{ create-throws: {} }', '{ create-null: {} }', '{ check-throws: {} }']) {
    const reloaded = await rewriteAndReload(gw, file, config(all, plugins, upstream.url));
    assert.ok(isReloadFailed(reloaded), JSON.stringify(reloaded));
    assert.match(JSON.stringify(reloaded['problems']), /services\[0\]\.routes\[0\]\.plugins\./);
    assert.equal((await http(gw.url, { path: '/x' })).status, 200, 'the previous config keeps serving');
  }
  assert.equal(gw.child.exitCode, null, 'the gateway is still running');
  assert.ok(isReloadOk(await rewriteAndReload(gw, file, config(all, '{ ok: {} }', upstream.url))));
});

test('a module that throws at import on reload: the reload fails at the entry, the previous config keeps serving', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'northgate.yaml');
  writeFileSync(join(dir, 'p.mjs'), moduleText(plainPlugin('p')));
  writeFileSync(file, config(['./p.mjs'], '{ p: {} }'));
  const gw = await startCli(['--config', file]);
  t.after(() => killCli(gw));
  const before = (await http(gw.url, { path: '/x' })).status;
  writeFileSync(join(dir, 'p.mjs'), `await Promise.reject(new Error('rejected at import'));\n`);
  const reloaded = await rewriteAndReload(gw, file, config(['./p.mjs'], '{ p: {} }'));
  assert.ok(isReloadFailed(reloaded), JSON.stringify(reloaded));
  assert.match(JSON.stringify(reloaded['problems']), /:4:5 extensions\[0\]: importing \\"\.\/p\.mjs\\" failed: rejected at import/);
  assert.equal((await http(gw.url, { path: '/x' })).status, before, 'the previous config keeps serving');
  assert.equal(gw.child.exitCode, null);
});

test('specifiers: URLs, built-ins, traversal in a package specifier, devices and folders are refused clearly, without importing', async () => {
  const dir = tempDir();
  const marker = join(dir, 'imported');
  writeFileSync(join(dir, 'evil.mjs'), markerModule(marker));
  mkdirSync(join(dir, 'node_modules', 'pkg'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'pkg', 'package.json'), JSON.stringify({ name: 'pkg', type: 'module' }));
  mkdirSync(join(dir, 'node_modules', 'bad-exports'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'bad-exports', 'package.json'), JSON.stringify({ name: 'bad-exports', type: 'module', exports: { '.': '../../evil.mjs' } }));
  mkdirSync(join(dir, 'empty-folder'));
  writeFileSync(join(dir, 'plugin.mjs'), moduleText(plainPlugin('beside')));
  const file = join(dir, 'northgate.yaml');
  const entries = [
    `data:text/javascript,import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(marker)}, 'x'); export default 1;`,
    'https://example.com/plugin.mjs',
    'node:fs',
    'fs',
    'pkg/../../evil.mjs',
    'bad-exports',
    '/dev/zero',
    './empty-folder',
    'file:evil.mjs',
    'plugin.mjs',
  ];
  writeFileSync(file, config(entries));
  const { code, out } = await validate(file);
  assert.equal(code, 2, out);
  const at = (i: number) => `${file}:${4 + i}:5 extensions[${i}]: `;
  assert.deepEqual(out.trim().split('\n'), [
    `${at(0)}"${entries[0]!.slice(0, 40)}…" is a URL (data:); an extension is a file (a path relative to the config file, an absolute path, a file:/// URL) or a package`,
    `${at(1)}"https://example.com/plugin.mjs" is a URL (https:); an extension is a file (a path relative to the config file, an absolute path, a file:/// URL) or a package`,
    `${at(2)}"node:fs" is a node built-in module, not a plugin module`,
    `${at(3)}"fs" is a node built-in module, not a plugin module`,
    `${at(4)}"pkg/../../evil.mjs" is not a package name with a subpath: "." and ".." segments are refused (a file is named by a path starting with ./ or ../)`,
    `${at(5)}cannot find module "bad-exports" (the "exports" of ${join(dir, 'node_modules', 'bad-exports', 'package.json')} point outside the package: "../../evil.mjs")`,
    `${at(6)}cannot import "/dev/zero": /dev/zero is not a file`,
    `${at(7)}cannot find module "./empty-folder" (${join(dir, 'empty-folder')} is a folder without a package.json "exports" or "main", nor an index.js)`,
    `${at(8)}"file:evil.mjs" is a relative file: URL; write file:///ABSOLUTE/PATH or a path relative to the config file (./evil.mjs)`,
    `${at(9)}cannot find module "plugin.mjs" (no package "plugin.mjs" in node_modules from ${dir}; a file beside the config file is written "./plugin.mjs")`,
  ]);
  assert.equal(existsSync(marker), false, 'no module was imported');
});

test('what is allowed: .. segments, absolute paths, file:/// URLs (percent-encoded), symlinks, a folder with package.json, a package subpath', async () => {
  const dir = tempDir();
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  mkdirSync(join(dir, 'shared plugins'));
  writeFileSync(join(dir, 'shared plugins', 'up.mjs'), moduleText(plainPlugin('up')));
  writeFileSync(join(dir, 'abs.mjs'), moduleText(plainPlugin('abs')));
  writeFileSync(join(dir, 'shared plugins', 'url.mjs'), moduleText(plainPlugin('url')));
  writeFileSync(join(dir, 'target.mjs'), moduleText(plainPlugin('linked')));
  symlinkSync(join(dir, 'target.mjs'), join(conf, 'link.mjs'));
  mkdirSync(join(conf, 'local-pkg'));
  writeFileSync(join(conf, 'local-pkg', 'package.json'), JSON.stringify({ type: 'module', main: 'main.mjs' }));
  writeFileSync(join(conf, 'local-pkg', 'main.mjs'), moduleText(plainPlugin('local')));
  mkdirSync(join(conf, 'node_modules', 'multi', 'lib'), { recursive: true });
  writeFileSync(join(conf, 'node_modules', 'multi', 'package.json'), JSON.stringify({ name: 'multi', type: 'module', exports: { './extra': './lib/extra.mjs' } }));
  writeFileSync(join(conf, 'node_modules', 'multi', 'lib', 'extra.mjs'), moduleText(plainPlugin('extra')));
  const file = join(conf, 'northgate.yaml');
  writeFileSync(file, config(['../shared plugins/up.mjs', join(dir, 'abs.mjs'), pathToFileURL(join(dir, 'shared plugins', 'url.mjs')).href, './link.mjs', './local-pkg', 'multi/extra'], '{ up: {}, abs: {}, url: {}, linked: {}, local: {}, extra: {} }'));
  assert.deepEqual(await validate(file), { code: 0, out: 'valid\n' });
});

test('names: the same module listed twice, or reached by two paths, is one problem at the second entry', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'hello.mjs'), moduleText(plainPlugin('hello')));
  const file = join(dir, 'northgate.yaml');
  writeFileSync(file, config(['./hello.mjs', './hello.mjs', './sub/../hello.mjs']));
  const { code, out } = await validate(file);
  assert.equal(code, 2, out);
  assert.deepEqual(out.trim().split('\n'), [
    `${file}:5:5 extensions[1]: names the same module as extensions[0] ("./hello.mjs"); list it once`,
    `${file}:6:5 extensions[2]: names the same module as extensions[0] ("./hello.mjs"); list it once`,
  ]);
});

test('${VAR} in an extensions entry is refused, without importing: the file names the code the gateway runs', async () => {
  const dir = tempDir();
  const marker = join(dir, 'imported');
  writeFileSync(join(dir, 'evil.mjs'), markerModule(marker));
  const file = join(dir, 'northgate.yaml');
  writeFileSync(file, config(['${PLUGIN}', './${NAME:-evil}.mjs']));
  const { code, out } = await validate(file, { PLUGIN: './evil.mjs' });
  assert.equal(code, 2, out);
  assert.deepEqual(out.trim().split('\n'), [
    `${file}:4:5 extensions[0]: written with \${PLUGIN}: an extension is named literally, without \${...}: the environment must not choose the code the gateway runs`,
    `${file}:5:5 extensions[1]: written with \${NAME}: an extension is named literally, without \${...}: the environment must not choose the code the gateway runs`,
  ]);
  assert.equal(existsSync(marker), false);
});

test('northgate config apply and diff never import the document\'s extensions (the store holds entities, not code)', async () => {
  const dir = tempDir();
  const marker = join(dir, 'imported');
  writeFileSync(join(dir, 'evil.mjs'), markerModule(marker));
  const file = join(dir, 'entities.yaml');
  writeFileSync(file, `_format_version: "1"
extensions: ["./evil.mjs"]
services:
  - name: s
    url: http://127.0.0.1:9
    routes: [{ paths: ["/"] }]
`);
  const storeUrl = `sqlite:${join(dir, 'store.db')}`;
  const apply = await runCli(['config', 'apply', '--store', storeUrl, '-c', file]);
  assert.equal(apply.code, 0, apply.stderr);
  assert.match(apply.stdout, /applied: config version 1/);
  const diff = await runCli(['config', 'diff', '--store', storeUrl, '-c', file]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.equal(existsSync(marker), false, 'the extension was not imported');

  // An entity naming an extension's plugin is refused: the store validates against the built-ins.
  writeFileSync(file, `_format_version: "1"
extensions: ["./evil.mjs"]
plugins: { marker: {} }
`);
  const refused = await runCli(['config', 'apply', '--store', storeUrl, '-c', file]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /:3:12 plugins\.marker: unknown plugin "marker"/);
  assert.equal(existsSync(marker), false);
});

test('the admin API cannot make the gateway import a module: POST /config and entity writes in mode: database, POST /config in mode: file', async (t) => {
  const dir = tempDir();
  const marker = join(dir, 'imported');
  writeFileSync(join(dir, 'evil.mjs'), markerModule(marker));
  const evil = join(dir, 'evil.mjs');
  const nodeFile = join(dir, 'node.yaml');
  writeFileSync(nodeFile, nodeConfig(`sqlite:${join(dir, 'store.db')}`));
  const gw = await startCli(['-c', nodeFile]);
  t.after(() => killCli(gw));
  const api = adminClient(adminUrlOf(gw));
  for (const body of [`_format_version: "1"\nextensions: [${JSON.stringify(evil)}]\n`, JSON.stringify({ _format_version: '1', extensions: ['./evil.mjs'], services: [] })]) {
    const r = await api('POST', '/config', body, { 'content-type': body.startsWith('{') ? 'application/json' : 'application/yaml' });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json.warnings, ['"extensions" is a node setting (from the node\'s config file), not stored: ignored']);
  }
  for (const [method, path, body] of [['POST', '/services', { name: 'x', url: 'http://127.0.0.1:9', extensions: [evil] }], ['POST', '/plugins', { name: 'marker', config: {} }]] as const) {
    const r = await api(method, path, body);
    assert.equal(r.status, 400, r.body);
  }
  assert.equal(existsSync(marker), false, 'the extension was not imported');

  const fileConf = join(dir, 'file-mode.yaml');
  writeFileSync(fileConf, `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
admin: { token: "${ADMIN_TOKEN}" }
`);
  const fgw = await startCli(['-c', fileConf]);
  t.after(() => killCli(fgw));
  const r = await adminClient(adminUrlOf(fgw))('POST', '/config', JSON.stringify({ _format_version: '1', extensions: [evil] }));
  assert.equal(r.status, 405);
  assert.equal(existsSync(marker), false);
});
