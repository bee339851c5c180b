// Plugins from outside the repo: the config's `extensions:` names modules (a path relative to
// the config file, or a package resolved from its folder), each default-exporting a Plugin or
// an array of them. Importing is asynchronous while validating is not, so it is a step of its
// own: `importExtensions` runs before each (re)load, and the synchronous validation takes the
// plugins it found from here (`extensionsOf`). Only the config file names extensions: the
// admin API and the store hold entities, and an entry written with ${VAR} is refused.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigProblem } from '../base/problems.js';
import type { ConfigSource } from '../config/source.js';
import { PluginRegistry } from '../pipeline/registry.js';
import { PHASES, type CheckEnvironment, type Plugin, type PluginHandler, type PluginScope } from '../sdk/plugin.js';
import { resolveExtension } from './extension-paths.js';
import { configAjv } from './validate.js';

const PLUGIN_NAME = /^[a-z][a-z0-9-]*$/;
/** How long start and reload wait for a module to finish importing (its top-level await). */
export const IMPORT_TIMEOUT_MS = 10_000;
/**
 * Node cannot unload a module: every version of a changed file that was imported stays in
 * memory. A reload loop over a module that keeps changing stops importing it here.
 */
export const MAX_MODULE_VERSIONS = 100;
/** A plugin schema is compiled into the config validator at every (re)load. */
const MAX_SCHEMA_BYTES = 1024 * 1024;
/** Extended registries (each with a compiled config validator) kept for reuse per base registry. */
const REGISTRY_CAP = 8;

/** One entry of `extensions:` as imported: its file and plugins, or why it has none. */
type Imported = { readonly url: string; readonly file: string; readonly plugins: readonly Plugin[] } | { readonly url: null; readonly problem: string };

/** The last import of each config file's entries, by the config file's absolute path; `seq` keeps a slow older import from overwriting a newer one. */
const imports = new Map<string, { readonly seq: number; readonly entries: string; readonly results: readonly Imported[] }>();
let importSeq = 0;
/** The content hashes imported so far of each module file. */
const versions = new Map<string, Set<string>>();
/** Extended registries by base registry and imported module URLs: the same modules give the same registry (and its compiled validator). */
const registries = new WeakMap<PluginRegistry, Map<string, PluginRegistry>>();

export interface ImportOptions {
  /** The bounded wait for each module (default IMPORT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Entries written with `${VAR}`, by index, with the variables they name: refused, not imported. */
  readonly fromEnv?: ReadonlyMap<number, readonly string[]>;
}

/** A plugin's create() failed while a snapshot was compiled; the loader locates it by `scope`. */
export class ExtensionCreateError extends Error {
  constructor(readonly plugin: string, readonly scope: PluginScope, reason: string) {
    super(`create() of plugin "${plugin}" ${reason}`);
  }
}

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
export async function importExtensions(source: ConfigSource, opts: ImportOptions = {}): Promise<void> {
  const list = extensionList(source.value);
  const key = resolve(source.file);
  const seq = ++importSeq;
  if (list === undefined) return void imports.delete(key);
  const base = dirname(key);
  const timeoutMs = opts.timeoutMs ?? IMPORT_TIMEOUT_MS;
  const results = await Promise.all(list.map((spec, i): Imported | Promise<Imported> => {
    const names = opts.fromEnv?.get(i);
    if (names === undefined) return importOne(spec, base, timeoutMs);
    return { url: null, problem: `written with ${names.map((n) => `\${${n}}`).join(', ')}: an extension is named literally, without \${...}: the environment must not choose the code the gateway runs` };
  }));
  const last = imports.get(key);
  if (last === undefined || last.seq < seq) imports.set(key, { seq, entries: JSON.stringify(list), results });
}

async function importOne(spec: string, base: string, timeoutMs: number): Promise<Imported> {
  try {
    const where = resolveExtension(spec, base);
    if ('problem' in where) return { url: null, problem: where.problem };
    const file = where.file;
    const hash = createHash('sha256').update(readFileSync(file)).digest('base64url').slice(0, 16);
    let seen = versions.get(file);
    if (seen === undefined) versions.set(file, (seen = new Set()));
    if (!seen.has(hash)) {
      if (seen.size >= MAX_MODULE_VERSIONS) return { url: null, problem: `"${spec}" changed ${MAX_MODULE_VERSIONS} times since the gateway started and every imported version stays in memory (node cannot unload a module): this version is not imported; restart the gateway to load it` };
      seen.add(hash);
    }
    const url = `${pathToFileURL(file).href}?v=${hash}`;
    let mod: { default?: unknown } | typeof TIMED_OUT;
    try {
      mod = await within(import(url) as Promise<{ default?: unknown }>, timeoutMs);
    } catch (err) {
      return { url: null, problem: `importing "${spec}" failed: ${describe(err)}` };
    }
    if (mod === TIMED_OUT) return { url: null, problem: `importing "${spec}" did not finish within ${timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`} (a top-level await that never settles?); the gateway does not wait for it` };
    let items: unknown[];
    let isList: boolean;
    try {
      const exported = mod.default;
      if (exported === undefined) return { url: null, problem: `"${spec}" has no default export (export default a Plugin or an array of Plugins)` };
      isList = Array.isArray(exported);
      items = isList ? Array.from(exported as unknown[]) : [exported];
    } catch (err) {
      return { url: null, problem: `the default export of "${spec}" is not a Plugin: reading it threw: ${describe(err)}` };
    }
    const plugins: Plugin[] = [];
    for (const [i, item] of items.entries()) {
      const plugin = adopt(item, isList ? `item ${i} of the default export` : 'the default export', spec);
      if (typeof plugin === 'string') return { url: null, problem: plugin };
      plugins.push(plugin);
    }
    return { url, file, plugins };
  } catch (err) {
    return { url: null, problem: `importing "${spec}" failed: ${describe(err)}` };
  }
}

const TIMED_OUT = Symbol('timed out');

/** `promise`, or TIMED_OUT after `ms`: a module cannot be unloaded or cancelled, only not waited for. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((done) => (timer = setTimeout(done, ms, TIMED_OUT)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The plugin as the gateway keeps it: every member read once here (a getter or a Proxy trap
 * runs inside this try, and cannot answer differently later), the schema copied as JSON
 * data, and create()/check() wrapped so that a throw or a wrong result is a located problem.
 * Returns the problem instead when the object is not a Plugin.
 */
function adopt(p: unknown, which: string, spec: string): Plugin | string {
  const notA = (why: string) => `${which} of "${spec}" is not a Plugin: ${why}`;
  if (typeof p !== 'object' || p === null) return notA(`${p === null ? 'null' : typeof p} instead of an object with name, priority, schema and create()`);
  let name: unknown, priority: unknown, schema: unknown, create: unknown, check: unknown, needsOpenApi: unknown;
  try {
    const o = p as Record<string, unknown>;
    name = o['name'];
    priority = o['priority'];
    schema = o['schema'];
    create = o['create'];
    check = o['check'];
    needsOpenApi = o['needsOpenApi'];
  } catch (err) {
    return notA(`reading it threw: ${describe(err)}`);
  }
  if (typeof name !== 'string') return notA('no "name" string');
  if (!PLUGIN_NAME.test(name)) return notA(`its name "${name}" is not kebab-case`);
  if (typeof priority !== 'number') return notA(`"${name}" has no numeric "priority"`);
  if (!Number.isFinite(priority)) return notA(`"${name}" has priority ${priority}; it must be a finite number`);
  if (typeof schema !== 'object' || schema === null) return notA(`"${name}" has no "schema" object`);
  if (typeof create !== 'function') return notA(`"${name}" has no create() function`);
  if (check !== undefined && typeof check !== 'function') return notA(`"${name}" has a "check" that is not a function`);
  const ofSchema = `the schema of plugin "${name}" from "${spec}"`;
  let json: string;
  try {
    json = JSON.stringify(schema);
  } catch (err) {
    const why = describe(err);
    return `${ofSchema} is not JSON data: ${/circular/i.test(why) ? 'it contains itself (a JSON Schema is pure data; use $ref for a recursive shape)' : why}`;
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_SCHEMA_BYTES) return `${ofSchema} is ${(bytes / (1024 * 1024)).toFixed(1)} MB of JSON; at most ${MAX_SCHEMA_BYTES / (1024 * 1024)} MB`;
  const data = JSON.parse(json) as Plugin['schema'];
  try {
    configAjv().compile(data);
  } catch (err) {
    return `${ofSchema} is not a valid JSON Schema: ${describe(err)}`;
  }
  const owner = p;
  const plugin: Plugin = {
    name,
    priority,
    schema: data,
    ...(needsOpenApi === true ? { needsOpenApi: true } : {}),
    create(config: unknown, scope: PluginScope): PluginHandler {
      let handler: unknown;
      try {
        handler = (create as Plugin['create']).call(owner, config, scope);
      } catch (err) {
        throw new ExtensionCreateError(name, scope, `threw: ${describe(err)}`);
      }
      const wrong = notAHandler(handler);
      if (wrong !== null) throw new ExtensionCreateError(name, scope, wrong);
      return handler as PluginHandler;
    },
    ...(check !== undefined ? { check: (config: unknown, env?: CheckEnvironment) => checked(name, () => (check as NonNullable<Plugin['check']>).call(owner, config, env)) } : {}),
  };
  return Object.freeze(plugin);
}

function notAHandler(h: unknown): string | null {
  if (typeof h !== 'object' || h === null) return `returned ${h === null ? 'null' : typeof h} instead of a handler object`;
  try {
    for (const k of [...PHASES, 'close'] as const) {
      const v = (h as Record<string, unknown>)[k];
      if (v !== undefined && typeof v !== 'function') return `returned a handler whose "${k}" is not a function`;
    }
  } catch (err) {
    return `returned a handler that threw when read: ${describe(err)}`;
  }
  return null;
}

/** The problems a plugin's check() returns, or one problem saying how check() failed. */
function checked(name: string, run: () => unknown): Array<{ path: Array<string | number>; message: string }> {
  let out: unknown;
  try {
    out = run();
    if (Array.isArray(out) && out.every(isProblem)) return (out as Array<{ path: Array<string | number>; message: string }>).map((p) => ({ path: [...p.path], message: p.message }));
  } catch (err) {
    return [{ path: [], message: `check() of plugin "${name}" threw: ${describe(err)}` }];
  }
  let shown: string;
  try {
    shown = JSON.stringify(out)?.slice(0, 60) ?? String(out);
  } catch {
    shown = typeof out;
  }
  return [{ path: [], message: `check() of plugin "${name}" returned ${shown} instead of an array of { path, message }` }];
}

function isProblem(p: unknown): boolean {
  const o = p as { path?: unknown; message?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.message === 'string' && Array.isArray(o.path) && o.path.every((s) => typeof s === 'string' || typeof s === 'number');
}

/** A thrown value as text; it may be anything, even an object whose `message` throws. */
function describe(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err);
  } catch {
    return 'a value that cannot be shown';
  }
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
  const files = new Map<string, number>();
  imported.results.forEach((r, i) => {
    if (r.url === null) return void problems.push({ path: ['extensions', i], message: r.problem });
    const first = files.get(r.file);
    if (first !== undefined) return void problems.push({ path: ['extensions', i], message: `names the same module as extensions[${first}] ("${list[first]}"); list it once` });
    files.set(r.file, i);
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
    if (byUrls.size >= REGISTRY_CAP) byUrls.delete(byUrls.keys().next().value!);
    byUrls.set(key, registry);
  }
  return { registry, problems };
}
