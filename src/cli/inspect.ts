// Loads a config for the read-only commands (routes, explain) exactly as start would.
import { buildSnapshot, loadConfig } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import type { Snapshot } from '../compiler/snapshot.js';
import { defaultRegistry } from '../plugins/index.js';
import { PoolRegistry } from '../upstream/pools.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { RawConfig } from '../config/types.js';

export function withSnapshot(file: string, fn: (s: Snapshot) => number): Promise<number> {
  return withLoadedSnapshot((registry) => loadConfig(file, registry), file, fn);
}

/** The same for a config from elsewhere (Kubernetes manifests, translated): `load` validates or throws ConfigError. */
export async function withLoadedSnapshot(load: (registry: PluginRegistry) => Promise<RawConfig> | RawConfig, source: string, fn: (s: Snapshot) => number): Promise<number> {
  const registry = defaultRegistry();
  let snapshot: Snapshot;
  const pools = new PoolRegistry();
  try {
    snapshot = buildSnapshot(await load(registry), registry, pools, 1, source).snapshot;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.lines().join('\n') + '\n');
      return 2;
    }
    throw err;
  }
  try {
    return fn(snapshot);
  } finally {
    snapshot.dispose();
    await pools.closeAll();
  }
}
