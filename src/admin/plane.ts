// The control plane of one node: reads the node's config file, opens the store in
// `mode: database`, serves the admin API and follows the store. The runtime asks it for
// the config to (re)load and gives it a way to apply a new one (swap here, or relay to
// workers).
import { parseAddress, type ParsedAddress } from '../base/address.js';
import { importConfigExtensions, loadConfigFile } from '../compiler/load.js';
import { readConfigFile } from '../config/source.js';
import { ConfigError } from '../base/problems.js';
import type { RawConfig } from '../config/types.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { Logger } from '../base/logger.js';
import { ConfigControl } from '../store/control.js';
import { settingsOf } from '../store/document.js';
import { ENTITY_SECTIONS } from '../store/kinds.js';
import { DEFAULT_STORE_URL, openStore } from '../store/store.js';
import { parseDuration } from '../base/duration.js';
import { purgeCaches } from '../plugins/cache/purge.js';
import type { PurgeFn } from '../plugins/cache/purge-endpoint.js';
import { AdminServer, adminRefusal, DEFAULT_ADMIN_ADDRESS } from './server.js';
import type { NodeControlPlane } from '../runtime/control-plane.js';
import { StartFailure, StartRefusal } from '../runtime/refusal.js';

export { DEFAULT_STORE_URL } from '../store/store.js';

export { StartRefusal };

export class ControlPlane implements NodeControlPlane {
  readonly control: ConfigControl;
  readonly #file: string | null;
  readonly #registry: PluginRegistry;
  readonly #settings: RawConfig;
  #current: RawConfig;
  #admin: AdminServer | null = null;

  private constructor(file: string | null, registry: PluginRegistry, settings: RawConfig, control: ConfigControl, initial: RawConfig) {
    this.#file = file;
    this.#registry = registry;
    this.#settings = settings;
    this.control = control;
    this.#current = initial;
  }

  /** Reads the file and, in database mode, the store. Throws ConfigError or StartRefusal. */
  static async prepare(file: string | null, registry: PluginRegistry, logger: Logger, embedded?: () => RawConfig): Promise<ControlPlane> {
    await importConfigExtensions(file);
    const config = file !== null ? loadConfigFile(file, registry) : embedded!();
    const admin = adminAddress(config);
    if (admin !== null) {
      const refusal = adminRefusal(admin.host, config.admin?.token);
      if (refusal !== null) throw new StartRefusal(refusal);
    }
    if ((config.mode ?? 'file') === 'file') {
      let plane: ControlPlane | null = null;
      const control = new ConfigControl({ registry, settings: settingsOf(config as unknown as Record<string, unknown>), store: null, fileConfig: () => plane!.#current });
      plane = new ControlPlane(file, registry, config, control, config);
      return plane;
    }
    const present = ENTITY_SECTIONS.filter((k) => (config as unknown as Record<string, unknown>)[k] !== undefined);
    if (present.length > 0) {
      const problems = present.map((k) => ({ path: [k], atKey: true, message: `with mode: database, ${k} live in the store: manage them with the admin API or "northgate config apply"; remove this section` }));
      throw new ConfigError(file ?? 'config', file !== null ? readConfigFile(file).locate(problems) : problems);
    }
    const url = config.store?.url ?? DEFAULT_STORE_URL;
    let store;
    try {
      store = await openStore(url);
    } catch (err) {
      throw new StartFailure(`cannot open the config store ${url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@')}: ${(err as Error).message}`);
    }
    let plane: ControlPlane | null = null;
    const control = new ConfigControl({
      registry,
      settings: settingsOf(config as unknown as Record<string, unknown>),
      store,
      ...(config.store?.node_id !== undefined ? { nodeId: config.store.node_id } : {}),
      ...(config.store?.poll_interval !== undefined ? { pollMs: parseDuration(config.store.poll_interval)! } : {}),
      apply: (next, version) => plane!.#apply(next, version),
      onError: (err) => logger.error({ err, type: 'store' }, 'config store error; the current config keeps serving'),
    });
    let initial: RawConfig;
    try {
      initial = await control.initial();
    } catch (err) {
      await store.close();
      throw err;
    }
    plane = new ControlPlane(file, registry, config, control, initial);
    return plane;
  }

  #applyFn: ((config: RawConfig, version: number) => void | Promise<void>) | null = null;

  async #apply(next: RawConfig, version: number): Promise<void> {
    this.#current = next;
    await this.#applyFn?.(next, version);
  }

  /** The config to (re)load: the file again (file mode) or the latest store document. */
  loadConfig(): RawConfig {
    if (this.control.mode === 'file' && this.#file !== null) this.#current = loadConfigFile(this.#file, this.#registry);
    return this.#current;
  }

  get current(): RawConfig {
    return this.#current;
  }

  get mode(): 'file' | 'database' {
    return this.control.mode;
  }

  sync(): Promise<void> {
    return this.control.sync();
  }

  /** Starts the admin listener and follows the store; `apply` swaps a new store document in; `metrics` feeds the console's dashboard. */
  async start(apply: (config: RawConfig, version: number) => void | Promise<void>, logger: Logger, purgeMemory: PurgeFn, metrics: (() => Promise<string>) | null = null): Promise<{ admin: string | null }> {
    this.#applyFn = apply;
    const address = adminAddress(this.#settings);
    let admin: string | null = null;
    if (address !== null) {
      this.#admin = new AdminServer({
        host: address.host,
        port: address.port,
        token: this.#settings.admin?.token,
        ...(this.#settings.admin?.max_body_bytes !== undefined ? { maxBodyBytes: this.#settings.admin.max_body_bytes } : {}),
        ...(this.#settings.admin?.allowed_hosts !== undefined ? { allowedHosts: this.#settings.admin.allowed_hosts } : {}),
        control: this.control,
        node: { purgeCache: (req) => purgeCaches(this.#current, req, purgeMemory), config: () => this.#current, metrics },
        configFile: this.#file,
        onError: (err) => logger.error({ err, type: 'admin' }, 'admin API error'),
      });
      let port: number;
      try {
        port = await this.#admin.listen();
      } catch (err) {
        // The default address may be taken (another gateway on this host): run without the
        // admin API rather than not at all. An address that was asked for must bind.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.#settings.listen?.admin !== undefined) throw err;
        logger.warn({ type: 'admin' }, `admin API off: the default address ${DEFAULT_ADMIN_ADDRESS} is in use; set listen.admin (or null)`);
        this.#admin = null;
        await this.control.watch();
        return { admin: null };
      }
      admin = `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`;
      if (this.#settings.admin?.token === undefined) logger.warn({ type: 'admin' }, `admin API on ${admin} without a token (loopback only); set admin.token to require one`);
    }
    await this.control.watch();
    return { admin };
  }

  async close(): Promise<void> {
    await this.#admin?.close();
    await this.control.close();
  }
}

function adminAddress(config: RawConfig): ParsedAddress | null {
  const text = config.listen?.admin === undefined ? DEFAULT_ADMIN_ADDRESS : config.listen.admin;
  if (text === null) return null;
  const a = parseAddress(text);
  return typeof a === 'string' ? null : a;
}

