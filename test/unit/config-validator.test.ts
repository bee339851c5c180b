// The config validator compiled at build time (ajv standalone, scripts/build-validator.mjs)
// must refuse exactly what the validator compiled at run time refuses, with the same errors:
// the problems users see come from either one.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { buildConfigSchema } from '../../src/compiler/schema.js';
import { configAjv, configSchemaHash, validateConfig } from '../../src/compiler/validate.js';
import { PluginRegistry } from '../../src/pipeline/registry.js';
import { BUILTIN_PLUGINS, defaultRegistry } from '../../src/plugins/index.js';
import type { Plugin } from '../../src/sdk/plugin.js';

const require = createRequire(import.meta.url);

/** The standalone module the build script writes, evaluated here from the current schema. */
function standalone(schema: Record<string, unknown>): ValidateFunction {
  const standaloneCode = (require('ajv/dist/standalone') as { default: (ajv: unknown, v: ValidateFunction) => string }).default;
  const ajv = configAjv({ code: { source: true } });
  const code = standaloneCode(ajv, ajv.compile(schema));
  const mod = { exports: {} as unknown };
  new Function('module', 'exports', 'require', code)(mod, mod.exports, require);
  return mod.exports as ValidateFunction;
}

const BAD: unknown[] = [
  null,
  { _format_version: 1 },
  { _format_version: '1', listen: { proxy: 8000, nope: true } },
  { _format_version: '1', services: [{ name: 'a b', url: 'ftp://x', routes: [{ paths: [] }, { paths: ['/x'], methods: ['get'] }] }] },
  { _format_version: '1', services: [{ name: 'a', url: 'http://x', plugins: { cors: { origins: 3 }, headres: {}, 'rate-limit': { limits: [{ per: 'soon', max: 0 }] } } }] },
  { _format_version: '1', plugins: { jwt: { algorithms: ['none'], jwks_uri: 'file:///x' }, cache: { store: 'disk' } }, consumers: [{ username: 'x', credentials: { 'key-auth': [{ key: 'short' }] } }] },
  { _format_version: '1', upstreams: [{ name: 'u', targets: [{ url: 'http://a', weight: -1 }] }], plans: [{ name: 'p', quota: { period: 'week' } }], metering: { max_rows: 1 } },
  { _format_version: '1', portal: { colour: 'red' }, services: [{ name: 'a', url: 'http://x', portal: { published: 'yes' }, routes: [{ paths: ['/a'], plugins: { auth: { any: [{ 'key-auth': {}, jwt: {} }] } } }] }] },
];

const view = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => ({ instancePath: e.instancePath, keyword: e.keyword, params: e.params, message: e.message, parentSchema: e.parentSchema }));

test('the build-time validator reports the same errors as the one compiled at run time', () => {
  const schema = buildConfigSchema(defaultRegistry().all(), { shared: true });
  const built = standalone(schema);
  const compiled = configAjv().compile(schema);
  for (const doc of BAD) {
    assert.equal(built(doc), false, JSON.stringify(doc));
    assert.equal(compiled(doc), false, JSON.stringify(doc));
    assert.deepEqual(view(built.errors), view(compiled.errors), JSON.stringify(doc));
    assert.ok((built.errors ?? []).length > 0);
  }
  assert.equal(built({ _format_version: '1', services: [{ name: 'a', url: 'http://x', plugins: { cors: {} }, routes: [{ paths: ['/a'] }] }] }), true);
});

test('a registry with another plugin gets its own schema (another hash) and its plugin validated', () => {
  const extra = { name: 'x-tag', schema: { type: 'object', additionalProperties: false, properties: { tag: { type: 'string' } } }, create: () => ({}) } as unknown as Plugin;
  const registry = new PluginRegistry([...BUILTIN_PLUGINS, extra]);
  assert.notEqual(configSchemaHash(buildConfigSchema(registry.all(), { shared: true })), configSchemaHash(buildConfigSchema(defaultRegistry().all(), { shared: true })));
  const ok = validateConfig({ _format_version: '1', plugins: { 'x-tag': { tag: 'a' } } }, registry);
  assert.deepEqual(ok.problems, []);
  const bad = validateConfig({ _format_version: '1', plugins: { 'x-tag': { tag: 1 } } }, registry);
  assert.deepEqual(bad.problems.map((p) => p.path), [['plugins', 'x-tag', 'tag']]);
});
