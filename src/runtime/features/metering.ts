// Metering's lifecycle: the meter starts with the first config (the `metering:` section, or
// the portal's default store: effectiveMetering) and writes the last interval at drain; with
// `metering.export`, the closed hours are pushed on a schedule (each process pushes the
// same buckets, with the same ids). Its settings apply on restart only.
import type { Logger } from '../../base/logger.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import type { RawConfig } from '../../config/types.js';
import { effectiveMetering, type MeteringSettings } from '../../metering/config.js';
import { Meter } from '../../metering/meter.js';
import { UsagePusher } from '../../metering/export.js';
import type { RequestContext } from '../../proxy/context.js';
import type { Feature } from './feature.js';

export class MeteringFeature implements Feature {
  readonly #logger: Logger;
  readonly #configFile: string | null;
  readonly #owns: (ctx: RequestContext) => boolean;
  #meter: Meter | null = null;
  #pusher: UsagePusher | null = null;
  #settings: MeteringSettings | null = null;
  /** The live config's consumers, for the plan of each pushed bucket. */
  #snapshot: Snapshot | null = null;

  /** `owns`: whether a request came through this gateway's listeners (the meter counts only those). */
  constructor(logger: Logger, configFile: string | null, owns: (ctx: RequestContext) => boolean) {
    this.#logger = logger;
    this.#configFile = configFile;
    this.#owns = owns;
  }

  start(first: Snapshot, config: RawConfig): void {
    this.#snapshot = first;
    const settings = (this.#settings = effectiveMetering(config, this.#configFile));
    if (settings === null) return;
    this.#meter = new Meter(settings, this.#logger, this.#owns);
    if (settings.export !== undefined) {
      this.#pusher = new UsagePusher(settings, settings.export, this.#logger, () => {
        const consumers = this.#snapshot!.consumers.byUsername;
        return (username) => consumers.get(username)?.plan ?? null;
      });
    }
  }

  update(next: Snapshot, prev: Snapshot): void {
    this.#snapshot = next;
    if (JSON.stringify(prev.metering) !== JSON.stringify(next.metering)) this.#logger.warn({ type: 'reload' }, 'metering settings changed in the config; they take effect on restart');
  }

  /** The store the meter writes to (null: metering off). */
  get settings(): MeteringSettings | null {
    return this.#settings;
  }

  flush(): Promise<void> {
    return this.#meter?.flush() ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    // Bounded by the meter's own deadline, and the pusher's timeout.
    await this.#meter?.close();
    await this.#pusher?.close();
  }
}
