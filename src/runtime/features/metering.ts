// Metering's lifecycle: the meter starts with the first config (the `metering:` section, or
// the portal's default store: effectiveMetering) and writes the last interval at drain. Its
// settings apply on restart only.
import type { Logger } from '../../base/logger.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import type { RawConfig } from '../../config/types.js';
import { effectiveMetering, type MeteringSettings } from '../../metering/config.js';
import { Meter } from '../../metering/meter.js';
import type { RequestContext } from '../../proxy/context.js';
import type { Feature } from './feature.js';

export class MeteringFeature implements Feature {
  readonly #logger: Logger;
  readonly #configFile: string | null;
  readonly #owns: (ctx: RequestContext) => boolean;
  #meter: Meter | null = null;
  #settings: MeteringSettings | null = null;

  /** `owns`: whether a request came through this gateway's listeners (the meter counts only those). */
  constructor(logger: Logger, configFile: string | null, owns: (ctx: RequestContext) => boolean) {
    this.#logger = logger;
    this.#configFile = configFile;
    this.#owns = owns;
  }

  start(_first: Snapshot, config: RawConfig): void {
    this.#settings = effectiveMetering(config, this.#configFile);
    if (this.#settings !== null) this.#meter = new Meter(this.#settings, this.#logger, this.#owns);
  }

  update(next: Snapshot, prev: Snapshot): void {
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
    // Bounded by the meter's own deadline.
    await this.#meter?.close();
  }
}
