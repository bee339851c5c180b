// The developer portal's lifecycle. Every process opens the portal's store and follows it
// (its accounts' keys are consumers here); one process serves the portal's listener. Loaded
// only when configured: a gateway without a portal never imports it. The store opens before
// the proxy listens, so that the first request knows the keys and the portal's usage count
// sees every request.
import cluster from 'node:cluster';
import { formatAddress } from '../../base/address.js';
import type { Logger } from '../../base/logger.js';
import { redactUrl } from '../../base/sql/spec.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import type { RawConfig } from '../../config/types.js';
import type { Portal, PortalGateway } from '../../portal/server.js';
import type { PortalData } from '../../portal/store/open.js';
import type { UsageSource } from '../../portal/usage.js';
import { listenFailure, StartFailure } from '../refusal.js';
import type { Feature } from './feature.js';

export interface PortalFeatureOptions {
  readonly logger: Logger;
  readonly configFile: string | null;
  /** Whether this process serves the portal listener. */
  readonly serve: boolean;
  /** A stand-in for the portal's usage source (tests); how often the portal's version is polled. */
  readonly usage?: UsageSource;
  readonly pollMs?: number;
  /** The portal's keys changed (here or in another process): rebuild the snapshot. */
  readonly onConsumersChange: () => void;
}

export class PortalFeature implements Feature {
  readonly #gateway: PortalGateway;
  readonly #opts: PortalFeatureOptions;
  #config: RawConfig | null = null;
  #data: PortalData | null = null;
  #portal: Portal | null = null;
  #bound: { host: string; port: number } | null = null;

  constructor(gateway: PortalGateway, opts: PortalFeatureOptions) {
    this.#gateway = gateway;
    this.#opts = opts;
  }

  start(first: Snapshot, config: RawConfig): void {
    if (first.portal !== null) this.#config = config;
  }

  /** The portal's accounts and keys are consumers too (kept in the portal's database, see docs/portal.md). */
  withConsumers(config: RawConfig): RawConfig {
    if (this.#data === null) return config;
    return { ...config, consumers: [...(config.consumers ?? []), ...this.#data.directory.consumers()] };
  }

  async open(): Promise<void> {
    if (this.#config === null) return;
    const { logger } = this.#opts;
    const { openPortalData, portalStoreUrl } = await import('../../portal/store/open.js');
    const url = portalStoreUrl(this.#config, this.#opts.configFile);
    try {
      this.#data = await openPortalData(url, {
        ...(this.#opts.pollMs !== undefined ? { pollMs: this.#opts.pollMs } : {}),
        onError: (err) => logger.error({ err, type: 'portal' }, 'portal store error; the keys known so far keep working'),
      });
    } catch (err) {
      throw new StartFailure(`cannot open the portal store ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    this.#data.directory.onChange(this.#opts.onConsumersChange);
    this.#opts.onConsumersChange();
    if (!this.#opts.serve) return;
    const { Portal } = await import('../../portal/server.js');
    this.#portal = new Portal(this.#gateway, logger, { directory: this.#data.directory, sessions: this.#data.sessions, ...(this.#opts.usage ? { usage: this.#opts.usage } : {}) });
  }

  async listen(): Promise<void> {
    if (this.#portal === null) return;
    const p = await this.#portal.listen().catch((err: unknown) => {
      throw listenFailure('listen.portal', this.#config?.listen?.portal ?? 'listen.portal', err);
    });
    this.#bound = p;
    this.#opts.logger.info({ type: 'portal', url: `http://${formatAddress(p.host, p.port)}` }, 'developer portal listening');
  }

  /** The bound portal listener, or null when the portal is off or served by another process. */
  get address(): { host: string; port: number } | null {
    return this.#bound;
  }

  get portal(): Portal | null {
    return this.#portal;
  }

  async stop(): Promise<void> {
    await this.#portal?.close();
    await this.#data?.close().catch((err: unknown) => this.#opts.logger.error({ err, type: 'portal' }, 'closing the portal store failed'));
  }
}

/** Outside a cluster worker, a process serves its portal; the master of --workers picks one worker. */
export function servesPortal(option: boolean | undefined): boolean {
  return option ?? !cluster.isWorker;
}
