// Plugins from outside the repo: the config's `extensions:` names modules (a path relative to
// the config file, or a package resolved from its folder), each default-exporting a Plugin or
// an array of them. Importing is asynchronous while validating is not, so it is a step of its
// own: `importExtensions` runs before each (re)load, and the synchronous validation takes the
// plugins it found from here (`extensionsOf`).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigProblem } from '../base/problems.js';
import type { ConfigSource } from '../config/source.js';
import { PluginRegistry } from '../pipeline/registry.js';
import type { Plugin } from '../sdk/plugin.js';
import { configAjv } from './validate.js';

const PLUGIN_NAME = /^[a-z][a-z0-9-]*$/;

/** One entry of `extensions:` as imported: its plugins, or why it has none. */
type Imported = { readonly url: string; readonly plugins: readonly Plugin[] } | { readonly url: null; readonly problem: string };

/** The last import of each config file's entries, by the config file's absolute path. */
const imports = new Map<string, { readonly entries: string; readonly results: readonly Imported[] }>();
/** Extended registries by base registry and imported module URLs: the same modules give the same registry (and its compiled validator). */
const registries = new WeakMap<PluginRegistry, Map<string, PluginRegistry>>();

/** The `extensions:` list of a parsed config; undefined when absent or malformed (the schema says so). */
export function extensionList(value: unknown): string[] | undefined {
  const list = (value as { extensions?: unknown } | null)?.extensions;
  return Array.isArray(list) && list.every((e) => typeof e === 'string' && e.length > 0) ? (list as string[]) : undefined;
}

/**
 * Imports the modules the config names. A module whose file changed since it was last
 * imported is imported again (its URL carries a hash of the content); the modules it imports
 * in turn are node's to cache. Never throws: what fails is reported by `extensionsOf`.
 */
export async function importExtensions(source: ConfigSource): Promise<void> {
  const list = extensionList(source.value);
  const key = resolve(source.file);
  if (list === undefined) return void imports.delete(key);
  const base = dirname(key);
  const results = await Promise.all(list.map((spec) => importOne(spec, base)));
  imports.set(key, { entries: JSON.stringify(list), results });
}

async function importOne(spec: string, base: string): Promise<Imported> {
  const file = resolveModule(spec, base);
  if (file === null) return { url: null, problem: `cannot find module "${spec}" (${isPath(spec) ? `no file ${resolve(base, spec)}` : `no package "${packageName(spec)}" in node_modules from ${base}`})` };
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch (err) {
    return { url: null, problem: `cannot read ${file}: ${(err as Error).message}` };
  }
  const url = `${pathToFileURL(file).href}?v=${createHash('sha256').update(text).digest('base64url').slice(0, 16)}`;
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    return { url: null, problem: `importing "${spec}" failed: ${(err as Error).message ?? String(err)}` };
  }
  if (mod.default === undefined) return { url: null, problem: `"${spec}" has no default export (export default a Plugin or an array of Plugins)` };
  const plugins = Array.isArray(mod.default) ? (mod.default as unknown[]) : [mod.default];
  for (const [i, p] of plugins.entries()) {
    const why = notAPlugin(p);
    const which = Array.isArray(mod.default) ? `item ${i} of the default export` : 'the default export';
    if (why !== null) return { url: null, problem: `${which} of "${spec}" is not a Plugin: ${why}` };
    try {
      configAjv().compile((p as Plugin).schema);
    } catch (err) {
      return { url: null, problem: `the schema of plugin "${(p as Plugin).name}" from "${spec}" is not a valid JSON Schema: ${(err as Error).message}` };
    }
  }
  return { url, plugins: plugins as Plugin[] };
}

function notAPlugin(p: unknown): string | null {
  if (typeof p !== 'object' || p === null) return `${p === null ? 'null' : typeof p} instead of an object with name, priority, schema and create()`;
  const o = p as Record<string, unknown>;
  if (typeof o['name'] !== 'string') return 'no "name" string';
  if (!PLUGIN_NAME.test(o['name'])) return `its name "${o['name']}" is not kebab-case`;
  if (typeof o['priority'] !== 'number' || !Number.isFinite(o['priority'])) return `"${o['name']}" has no numeric "priority"`;
  if (typeof o['schema'] !== 'object' || o['schema'] === null) return `"${o['name']}" has no "schema" object`;
  if (typeof o['create'] !== 'function') return `"${o['name']}" has no create() function`;
  if (o['check'] !== undefined && typeof o['check'] !== 'function') return `"${o['name']}" has a "check" that is not a function`;
  return null;
}

/**
 * The registry a config is validated and compiled with: `base` plus the plugins its
 * extensions export (as `importExtensions` last found them), and a problem per entry that
 * failed, located at `extensions[i]`.
 */
export function extensionsOf(source: ConfigSource, base: PluginRegistry): { registry: PluginRegistry; problems: ConfigProblem[] } {
  const list = extensionList(source.value);
  if (list === undefined) return { registry: base, problems: [] };
  const imported = imports.get(resolve(source.file));
  if (imported === undefined || imported.entries !== JSON.stringify(list)) {
    return { registry: base, problems: [{ path: ['extensions'], message: 'the extensions were not imported before this load (a program loading such a config calls loadConfig, or importConfigExtensions first)' }] };
  }
  const problems: ConfigProblem[] = [];
  const plugins: Plugin[] = [];
  const owner = new Map<string, number>();
  imported.results.forEach((r, i) => {
    if (r.url === null) return void problems.push({ path: ['extensions', i], message: r.problem });
    for (const p of r.plugins) {
      if (base.get(p.name) !== undefined) problems.push({ path: ['extensions', i], message: `plugin "${p.name}" has the name of a built-in plugin; give it another name` });
      else if (owner.has(p.name)) problems.push({ path: ['extensions', i], message: `plugin "${p.name}" is also exported by extensions[${owner.get(p.name)}] ("${list[owner.get(p.name)!]}")` });
      else {
        owner.set(p.name, i);
        plugins.push(p);
      }
    }
  });
  if (problems.length > 0) return { registry: base, problems };
  const key = imported.results.map((r) => r.url).join(' ');
  let byUrls = registries.get(base);
  if (byUrls === undefined) registries.set(base, (byUrls = new Map()));
  let registry = byUrls.get(key);
  if (registry === undefined) {
    registry = new PluginRegistry([...base.all(), ...plugins]);
    byUrls.set(key, registry);
  }
  return { registry, problems };
}

function isPath(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || isAbsolute(spec) || spec.startsWith('file:');
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** A file path, or a package (with an optional subpath) found in node_modules from `base` upwards, resolved as `import` would. */
function resolveModule(spec: string, base: string): string | null {
  if (isPath(spec)) {
    const path = spec.startsWith('file:') ? new URL(spec).pathname : resolve(base, spec);
    if (!existsSync(path)) return null;
    return statSync(path).isDirectory() ? packageEntry(path, '.') : path;
  }
  const name = packageName(spec);
  const subpath = `.${spec.slice(name.length)}`;
  for (let dir = base; ; dir = dirname(dir)) {
    const pkg = join(dir, 'node_modules', name);
    if (existsSync(join(pkg, 'package.json'))) return packageEntry(pkg, subpath);
    if (dirname(dir) === dir) return null;
  }
}

/** The file a package's `exports` (conditions import, node, default) or `main` names for a subpath. */
function packageEntry(dir: string, subpath: string): string | null {
  let pkg: { exports?: unknown; main?: string };
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as typeof pkg;
  } catch {
    pkg = {};
  }
  if (pkg.exports !== undefined) {
    const exp = pkg.exports;
    const map = typeof exp === 'object' && exp !== null && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.')) ? (exp as Record<string, unknown>) : { '.': exp };
    const target = conditional(map[subpath]);
    return target === null ? null : existing(join(dir, target));
  }
  if (subpath !== '.') return existing(join(dir, subpath));
  return existing(join(dir, pkg.main ?? 'index.js'));
}

function conditional(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null) return null;
  if (Array.isArray(target)) return target.map(conditional).find((t) => t !== null) ?? null;
  const t = target as Record<string, unknown>;
  for (const c of ['import', 'node', 'default']) if (t[c] !== undefined) return conditional(t[c]);
  return null;
}

function existing(path: string): string | null {
  return existsSync(path) ? path : null;
}
