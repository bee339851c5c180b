// File -> validated config -> snapshot: the one path used by start, validate, reload,
// routes and explain, so they can never disagree.
import { readFileSync } from 'node:fs';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { PluginScope } from '../sdk/plugin.js';
import type { PoolRegistry, UpstreamPool } from '../upstream/pools.js';
import type { HealthRegistry } from '../upstream/health.js';
import type { GuardRegistry } from '../upstream/guard.js';
import type { BackendStates } from '../upstream/backends.js';
import type { DnsAnswers } from '../upstream/upstream.js';
import { compileConfig } from './compile.js';
import { ConfigError, type ConfigPath, type ConfigProblem } from '../base/problems.js';
import type { Snapshot } from './snapshot.js';
import { parseConfigText, readConfigFile, type ConfigSource } from '../config/source.js';
import type { RawConfig } from '../config/types.js';
import { validateConfig } from './validate.js';
import { loadPortalDocuments } from '../portal/documents.js';
import { loadServiceContracts } from '../openapi/contracts.js';
import { ExtensionCreateError, extensionList, extensionsOf, importExtensions } from './extensions.js';

/**
 * The registry a config with `extensions:` was validated with, by its `extensions` array:
 * compiling it needs the same plugins, and a shallow copy of the config (the gateway merges
 * the portal's consumers that way) keeps the array. `file` and `locate` place a problem met
 * while compiling (an extension's create() that throws).
 */
const validatedWith = new WeakMap<readonly string[], { registry: PluginRegistry; file: string; locate: (problems: ConfigProblem[]) => ConfigProblem[] }>();

export function checkSource(source: ConfigSource, registry: PluginRegistry): RawConfig {
  const extended = extensionsOf(source, registry);
  // Without its plugins the rest of the config cannot be checked: these problems come alone.
  if (extended.problems.length > 0) throw new ConfigError(source.file, source.locate(extended.problems));
  const validated = validateConfig(source.value, extended.registry);
  let config = validated.config;
  const problems = validated.problems;
  // Files named in the config are read relative to it; only once the shape is valid.
  if (problems.length === 0) problems.push(...loadPortalDocuments(config, source.file));
  if (problems.length === 0) {
    const contracts = loadServiceContracts(config, source.file);
    problems.push(...contracts.problems);
    if (problems.length === 0 && contracts.config !== config) {
      config = contracts.config;
      problems.push(...generatedRouteProblems(config, extended.registry, contracts.written));
    }
  }
  if (problems.length > 0) throw new ConfigError(source.file, source.locate(problems));
  if (config.extensions !== undefined) validatedWith.set(config.extensions, { registry: extended.registry, file: source.file, locate: source.locate });
  return config;
}

/**
 * The checks of a config whose services got routes from their documents: a problem of a
 * generated route (a name or a path another route has) is reported at the service's `openapi`.
 */
function generatedRouteProblems(config: RawConfig, registry: PluginRegistry, written: Map<number, number>): ConfigProblem[] {
  return validateConfig(config, registry).problems.map((p) => {
    const [, si, key, ri] = p.path;
    const first = typeof si === 'number' ? written.get(si) : undefined;
    if (first === undefined || key !== 'routes' || typeof ri !== 'number' || ri < first) return p;
    const route = config.services![si as number]!.routes![ri]!;
    return { path: ['services', si!, 'openapi'], message: `route "${route.name}" generated for ${route.methods![0]} ${route.paths[0]}: ${p.message}` };
  });
}

/** Resolves every `${NAME}` to a mark, to find the `extensions:` entries the environment wrote. */
const MARKING_ENV = new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `\u0000${name}\u0000` : undefined) }) as NodeJS.ProcessEnv;

/** The file as the loader reads it, and which of its `extensions:` entries hold a `${VAR}` (refused: the file names the code the gateway runs). */
function readForImport(file: string, env?: NodeJS.ProcessEnv): { source: ConfigSource; fromEnv: Map<number, string[]> } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    readConfigFile(file, env); // throws the loader's located "cannot read config"
    throw err;
  }
  const source = parseConfigText(file, text, env);
  const fromEnv = new Map<number, string[]>();
  if (text.includes('${') && extensionList(source.value) !== undefined) {
    extensionList(parseConfigText(file, text, MARKING_ENV).value)?.forEach((entry, i) => {
      const names = [...entry.matchAll(/\u0000([^\u0000]*)\u0000/g)].map((m) => m[1]!);
      if (names.length > 0) fromEnv.set(i, names);
    });
  }
  return { source, fromEnv };
}

/**
 * The asynchronous step before a synchronous load of `file`: imports the modules its
 * `extensions:` names (a changed module file again). A file that cannot be read is left to
 * the load to report.
 */
export async function importConfigExtensions(file: string | null, env?: NodeJS.ProcessEnv): Promise<void> {
  if (file === null) return;
  let read: ReturnType<typeof readForImport>;
  try {
    read = readForImport(file, env);
  } catch {
    return;
  }
  await importExtensions(read.source, { fromEnv: read.fromEnv });
}

/** Reads a file, imports its extensions and validates; rejects with ConfigError with every problem located. */
export async function loadConfig(file: string, registry: PluginRegistry, env?: NodeJS.ProcessEnv): Promise<RawConfig> {
  const { source, fromEnv } = readForImport(file, env);
  await importExtensions(source, { fromEnv });
  return checkSource(source, registry);
}

/**
 * A document for the store (`northgate config apply`, `diff`): its entities validated against
 * `registry`. Its `extensions:` is a node setting, like `listen:`: neither kept nor imported,
 * so applying a document never runs code from it.
 */
export function loadStoreDocument(file: string, registry: PluginRegistry, env?: NodeJS.ProcessEnv): RawConfig {
  const source = readConfigFile(file, env);
  if (extensionList(source.value) === undefined) return checkSource(source, registry);
  const { extensions: _ignored, ...entities } = source.value as Record<string, unknown>;
  return checkSource({ file: source.file, value: entities, locate: source.locate }, registry);
}

/** Reads and validates a file; throws ConfigError with every problem located. Extensions: see importConfigExtensions. */
export function loadConfigFile(file: string, registry: PluginRegistry, env?: NodeJS.ProcessEnv): RawConfig {
  return checkSource(readConfigFile(file, env), registry);
}

export function loadConfigText(file: string, text: string, registry: PluginRegistry, env?: NodeJS.ProcessEnv): RawConfig {
  return checkSource(parseConfigText(file, text, env), registry);
}

export function buildSnapshot(
  config: RawConfig,
  registry: PluginRegistry,
  pools: PoolRegistry,
  version: number,
  source: string,
  health?: HealthRegistry,
  answers?: DnsAnswers,
  guards?: GuardRegistry,
  backendStates?: BackendStates,
): { snapshot: Snapshot; pools: Set<UpstreamPool> } {
  const validated = config.extensions !== undefined ? validatedWith.get(config.extensions) : undefined;
  try {
    return compileConfig(config, { registry: validated?.registry ?? registry, pools, version, source, ...(health ? { health } : {}), ...(answers ? { answers } : {}), ...(guards ? { guards } : {}), ...(backendStates ? { backendStates } : {}) });
  } catch (err) {
    if (!(err instanceof ExtensionCreateError) || validated === undefined) throw err;
    throw new ConfigError(validated.file, validated.locate([{ path: scopePath(config, err.scope, err.plugin), message: err.message }]));
  }
}

/** Where in the config a plugin instance of `scope` is configured. */
function scopePath(config: RawConfig, scope: PluginScope, plugin: string): ConfigPath {
  if (scope.kind === 'global') return ['plugins', plugin];
  const si = (config.services ?? []).findIndex((s) => s.name === scope.service);
  if (scope.kind === 'service' || si < 0) return ['services', si, 'plugins', plugin];
  const ri = (config.services![si]!.routes ?? []).findIndex((r, i) => (r.name ?? `${scope.service}-${i}`) === scope.route);
  return ['services', si, 'routes', ri, 'plugins', plugin];
}
