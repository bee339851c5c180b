// The usage store `northgate usage` and `usage export` read: the config's metering store
// (`--config`) or one named directly (`--store`, default the local SQLite file).
import { existsSync } from 'node:fs';
import { ConfigError } from '../base/problems.js';
import type { RawConfig } from '../config/types.js';
import { effectiveMetering, parseStore, type StoreSpec } from '../metering/config.js';
import { UsageError } from './args.js';

/** The store and, with --config, the config it came from; or the exit code after saying why not. */
export async function usageStore(values: { config?: string | undefined; store?: string | undefined }): Promise<{ spec: StoreSpec; config: RawConfig | null } | number> {
  if (values.config !== undefined && values.store !== undefined) throw new UsageError('give --config or --store, not both');
  let spec: StoreSpec;
  let config: RawConfig | null = null;
  if (values.config !== undefined) {
    try {
      // The compiler and the plugin list load for --config only: --store reads the store alone.
      const [{ loadConfig }, { defaultRegistry }] = await Promise.all([import('../compiler/load.js'), import('../plugins/index.js')]);
      config = await loadConfig(values.config, defaultRegistry());
      const settings = effectiveMetering(config, values.config);
      if (settings === null) {
        process.stderr.write(`northgate: ${values.config} has no metering section and no portal (or metering.enabled is false); nothing is metered\n`);
        return 1;
      }
      spec = settings.store;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const line of err.lines()) process.stderr.write(line + '\n');
      return 2;
    }
  } else {
    spec = parseStore(values.store ?? 'northgate-metering.sqlite');
  }
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) {
    process.stderr.write(`northgate: no usage store at ${spec.path} (nothing metered yet, or a different --store / --config)\n`);
    return 1;
  }
  return { spec, config };
}
