// What the runtime needs of a node's control plane (admin/plane.ts: the config file or the
// store of `mode: database`, and the admin API). The plane sits above the runtime, so the
// command that starts a node (cli/start.ts) hands its factory in.
import type { Logger } from '../base/logger.js';
import type { RawConfig } from '../config/types.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { PurgeFn } from '../plugins/cache/purge-endpoint.js';

export interface NodeControlPlane {
  /** `file`: the config file is the source; `database`: the config store is; `kubernetes`: cluster resources (runtime/kubernetes.ts). */
  readonly mode: 'file' | 'database' | 'kubernetes';
  /** The validated config in force. */
  readonly current: RawConfig;
  /** The config to (re)load now. */
  loadConfig(): RawConfig;
  /** mode: database: reads the store now (a change is applied through `start`'s callback). */
  sync(): Promise<void>;
  /**
   * Serves the admin API and follows the store; `apply` puts a new validated config in
   * service; `metrics` reads the node's metrics (Prometheus text, summed across workers).
   */
  start(apply: (config: RawConfig, version: number) => void | Promise<void>, logger: Logger, purgeMemory: PurgeFn, metrics: (() => Promise<string>) | null): Promise<{ admin: string | null }>;
  close(): Promise<void>;
}

export type PrepareControlPlane = (file: string | null, registry: PluginRegistry, logger: Logger, embedded: () => RawConfig) => Promise<NodeControlPlane>;
