// The runtime side of the Kubernetes run modes: a control plane whose config documents come
// from a feed (the controller above this layer: the API server's informers or a manifests
// directory, translated) instead of a file or the config store. Each document is the node's
// settings (its --config file: status listener, logging, limits, global plugins) with the
// feed's listeners, upstreams and services put in; it is validated as a whole, like a file,
// and a valid one is swapped in by the same reload path `mode: database` uses. A document
// that does not validate is logged and the previous one keeps serving.
import type { Logger } from '../base/logger.js';
import { ConfigError, type ConfigProblem } from '../base/problems.js';
import { validateConfig } from '../compiler/validate.js';
import type { RawConfig } from '../config/types.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { NodeControlPlane } from './control-plane.js';

/** Where the documents come from. */
export interface ConfigFeed {
  /** Named in logs and problems: "kubernetes API", "manifests DIR". */
  readonly name: string;
  /**
   * Starts following the resources; `onDocument` gets the config document they compile to,
   * first once every kind has been read, then after each change. Resolves after the first.
   */
  start(onDocument: (doc: Record<string, unknown>) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Sections a feed writes: a settings file that has them is refused. */
export const FEED_SECTIONS = ['services', 'upstreams', 'consumers'] as const;

/** The settings and the feed's document as one config document (the feed's listeners replace `listen.proxy`). */
export function mergeFeedDocument(settings: Record<string, unknown>, doc: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...settings };
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'listen' || k === '_format_version') continue;
    if (k === 'plugins' && isObject(settings['plugins']) && isObject(v)) merged[k] = { ...settings['plugins'], ...v };
    else merged[k] = v;
  }
  const listen: Record<string, unknown> = { ...(isObject(settings['listen']) ? settings['listen'] : {}) };
  delete listen['proxy'];
  const proxy = isObject(doc['listen']) ? doc['listen']['proxy'] : undefined;
  // No Gateway listener: no proxy listener (the config's default address is not opened).
  if (proxy !== undefined && !(Array.isArray(proxy) && proxy.length === 0)) listen['proxy'] = proxy;
  merged['listen'] = listen;
  merged['_format_version'] = '1';
  return merged;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface KubernetesPlaneOptions {
  readonly feed: ConfigFeed;
  /** The node's settings (a validated --config file without entity sections), or `{ _format_version: '1' }`. */
  readonly settings: Record<string, unknown>;
  readonly registry: PluginRegistry;
  readonly logger: Logger;
}

export class KubernetesPlane implements NodeControlPlane {
  readonly mode = 'kubernetes' as const;
  readonly #o: KubernetesPlaneOptions;
  #current: RawConfig;
  #version = 0;
  #apply: ((config: RawConfig, version: number) => void | Promise<void>) | null = null;
  /** A document validated after the first one and before `start` handed in the way to apply it. */
  #waiting = false;
  /** The first document is the one the gateway is built from: it needs no reload. */
  #prepared = false;

  private constructor(o: KubernetesPlaneOptions) {
    this.#o = o;
    this.#current = checked(mergeFeedDocument(o.settings, {}), o.registry, o.feed.name);
  }

  /** Reads the resources once (the feed's first document) before the gateway is built from them. */
  static async prepare(o: KubernetesPlaneOptions): Promise<KubernetesPlane> {
    const plane = new KubernetesPlane(o);
    await o.feed.start((doc) => plane.#receive(doc));
    plane.#prepared = true;
    return plane;
  }

  get current(): RawConfig {
    return this.#current;
  }

  /** The validated document in force (the runtime reloads from it). */
  loadConfig(): RawConfig {
    return this.#current;
  }

  sync(): Promise<void> {
    // The feed follows the resources by itself; a SIGHUP re-applies what is in force.
    if (this.#apply !== null) void this.#run(this.#current);
    return Promise.resolve();
  }

  async start(apply: (config: RawConfig, version: number) => void | Promise<void>): Promise<{ admin: string | null }> {
    this.#apply = apply;
    if (this.#waiting) {
      this.#waiting = false;
      await this.#run(this.#current);
    }
    // The admin API edits a file or the store; here the cluster (or the directory) is the source.
    return { admin: null };
  }

  close(): Promise<void> {
    return this.#o.feed.stop();
  }

  #receive(doc: Record<string, unknown>): void {
    let next: RawConfig;
    try {
      next = checked(mergeFeedDocument(this.#o.settings, doc), this.#o.registry, this.#o.feed.name);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.lines() : [(err as Error).message];
      this.#o.logger.error({ type: 'kubernetes', source: this.#o.feed.name, problems }, 'the resources compile to a config that does not validate; the previous config keeps serving');
      return;
    }
    this.#current = next;
    if (this.#apply === null) this.#waiting = this.#prepared;
    else void this.#run(next);
  }

  async #run(config: RawConfig): Promise<void> {
    try {
      await this.#apply!(config, ++this.#version);
    } catch (err) {
      this.#o.logger.error({ type: 'kubernetes', source: this.#o.feed.name, err: (err as Error).message }, 'the new config could not be applied; the previous one keeps serving');
    }
  }
}

/** Validates a document the way a file is (schema, then cross-entity checks); throws ConfigError. */
export function checked(doc: Record<string, unknown>, registry: PluginRegistry, source: string): RawConfig {
  const { config, problems } = validateConfig(doc, registry);
  if (problems.length > 0) throw new ConfigError(source, problems as ConfigProblem[]);
  return config;
}
