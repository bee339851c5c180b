// `northgate`: the gateway as a library. Start one from a config file or object, load and
// validate configs. Plugins are written against `northgate/sdk`, tested with `northgate/testing`.
import { createLogger, type Logger } from './base/logger.js';
import { ConfigError } from './base/problems.js';
import { importConfigExtensions, loadConfig as loadFile, loadConfigFile, loadConfigText } from './compiler/load.js';
import type { RawConfig } from './config/types.js';
import { PluginRegistry } from './pipeline/registry.js';
import { BUILTIN_PLUGINS } from './plugins/index.js';
import { Gateway, type BoundListener, type ReloadResult } from './runtime/gateway.js';
import type { Plugin } from './sdk/plugin.js';

export { ConfigError };
export type { BoundListener, Gateway, Logger, Plugin, RawConfig as Config, ReloadResult };

export interface GatewayOptions {
  /** A config file (YAML or JSON); its `extensions:` are loaded. */
  readonly configFile?: string;
  /** Or a config as an object or as YAML/JSON text. */
  readonly config?: Record<string, unknown> | RawConfig | string;
  /** Plugins beside the built-in ones and the config's extensions. */
  readonly plugins?: readonly Plugin[];
  /** Default: JSON lines on stdout, as `northgate start` writes them. */
  readonly logger?: Logger;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  /** The bound proxy listeners, in config order (port 0 in the config: the port picked). */
  readonly listeners: readonly BoundListener[];
  /** The first proxy listener as a URL. */
  readonly url: string;
  /** Loads the config again (file: read again, extensions re-imported); the old one keeps serving when it is invalid. */
  reload(): Promise<ReloadResult>;
  /** Drains in-flight requests (up to the config's drain timeout) and closes everything. */
  close(): Promise<void>;
}

function registryOf(plugins: readonly Plugin[] = []): PluginRegistry {
  return new PluginRegistry([...BUILTIN_PLUGINS, ...plugins]);
}

/** Reads, imports the extensions of, and validates a config file; rejects with ConfigError (see `lines()`). */
export function loadConfig(file: string, opts: { plugins?: readonly Plugin[]; env?: NodeJS.ProcessEnv } = {}): Promise<RawConfig> {
  return loadFile(file, registryOf(opts.plugins), opts.env);
}

/** The problems of a config file as `FILE:LINE:COL path: message` lines; empty when it is valid. */
export async function validateConfigFile(file: string, opts: { plugins?: readonly Plugin[]; env?: NodeJS.ProcessEnv } = {}): Promise<string[]> {
  try {
    await loadConfig(file, opts);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
}

/** Starts a gateway in this process: validates the config, binds its proxy listeners. */
export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const registry = registryOf(opts.plugins);
  const file = opts.configFile ?? null;
  if (file === null && opts.config === undefined) throw new TypeError('startGateway needs configFile or config');
  const text = typeof opts.config === 'string' ? opts.config : JSON.stringify({ _format_version: '1', ...opts.config }, null, 2);
  const loadConfig = file !== null ? () => loadConfigFile(file, registry) : () => loadConfigText('config', text, registry);
  await importConfigExtensions(file);
  const gateway = new Gateway({ registry, logger: opts.logger ?? createLogger(), loadConfig, source: file ?? 'config', configFile: file });
  gateway.load();
  const listeners = await gateway.listen();
  return {
    gateway,
    listeners,
    url: gateway.proxyUrl() ?? '',
    reload: async () => {
      await importConfigExtensions(file);
      return gateway.reload();
    },
    close: async () => {
      await gateway.drain();
    },
  };
}
