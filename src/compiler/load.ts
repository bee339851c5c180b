// File -> validated config -> snapshot: the one path used by start, validate, reload,
// routes and explain, so they can never disagree.
import type { PluginRegistry } from '../pipeline/registry.js';
import type { PoolRegistry, UpstreamPool } from '../upstream/pools.js';
import type { HealthRegistry } from '../upstream/health.js';
import type { GuardRegistry } from '../upstream/guard.js';
import type { AddressSource } from '../upstream/upstream.js';
import { compileConfig } from './compile.js';
import { ConfigError } from '../base/problems.js';
import type { Snapshot } from './snapshot.js';
import { parseConfigText, readConfigFile, type ConfigSource } from '../config/source.js';
import type { RawConfig } from '../config/types.js';
import { validateConfig } from './validate.js';
import { loadPortalDocuments } from '../portal/documents.js';
import { extensionsOf, importExtensions } from './extensions.js';

/**
 * The registry a config with `extensions:` was validated with, by its `extensions` array:
 * compiling it needs the same plugins, and a shallow copy of the config (the gateway merges
 * the portal's consumers that way) keeps the array.
 */
const validatedWith = new WeakMap<readonly string[], PluginRegistry>();

export function checkSource(source: ConfigSource, registry: PluginRegistry): RawConfig {
  const extended = extensionsOf(source, registry);
  // Without its plugins the rest of the config cannot be checked: these problems come alone.
  if (extended.problems.length > 0) throw new ConfigError(source.file, source.locate(extended.problems));
  const { config, problems } = validateConfig(source.value, extended.registry);
  // Files named in the config are read relative to it; only once the shape is valid.
  if (problems.length === 0) problems.push(...loadPortalDocuments(config, source.file));
  if (problems.length > 0) throw new ConfigError(source.file, source.locate(problems));
  if (config.extensions !== undefined) validatedWith.set(config.extensions, extended.registry);
  return config;
}

/**
 * The asynchronous step before a synchronous load of `file`: imports the modules its
 * `extensions:` names (a changed module file again). A file that cannot be read is left to
 * the load to report.
 */
export async function importConfigExtensions(file: string | null, env?: NodeJS.ProcessEnv): Promise<void> {
  if (file === null) return;
  let source: ConfigSource;
  try {
    source = readConfigFile(file, env);
  } catch {
    return;
  }
  await importExtensions(source);
}

/** Reads a file, imports its extensions and validates; rejects with ConfigError with every problem located. */
export async function loadConfig(file: string, registry: PluginRegistry, env?: NodeJS.ProcessEnv): Promise<RawConfig> {
  const source = readConfigFile(file, env);
  await importExtensions(source);
  return checkSource(source, registry);
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
  addresses?: AddressSource,
  guards?: GuardRegistry,
): { snapshot: Snapshot; pools: Set<UpstreamPool> } {
  return compileConfig(config, { registry: (config.extensions !== undefined ? validatedWith.get(config.extensions) : undefined) ?? registry, pools, version, source, ...(health ? { health } : {}), ...(addresses ? { addresses } : {}), ...(guards ? { guards } : {}) });
}
