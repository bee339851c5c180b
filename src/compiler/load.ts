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

export function checkSource(source: ConfigSource, registry: PluginRegistry): RawConfig {
  const { config, problems } = validateConfig(source.value, registry);
  // Files named in the config are read relative to it; only once the shape is valid.
  if (problems.length === 0) problems.push(...loadPortalDocuments(config, source.file));
  if (problems.length > 0) throw new ConfigError(source.file, source.locate(problems));
  return config;
}

/** Reads and validates a file; throws ConfigError with every problem located. */
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
  return compileConfig(config, { registry, pools, version, source, ...(health ? { health } : {}), ...(addresses ? { addresses } : {}), ...(guards ? { guards } : {}) });
}
