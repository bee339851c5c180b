// Log shipping's lifecycle: the sinks start with the first config's `log_sinks:` and send
// what is queued at drain, within what remains of the drain time (at least 1 s). A changed
// sink definition applies on restart; which routes ship where follows every reload.
import type { Logger } from '../../base/logger.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import { LogShipping, type SinkStats } from '../../observability/log-shipping.js';
import type { RequestContext } from '../../proxy/context.js';
import type { Feature } from './feature.js';

/** Sinks get at least this long to send what is queued, even when requests used up the drain time. */
const MIN_FLUSH_MS = 1000;

export class LogShippingFeature implements Feature {
  readonly #logger: Logger;
  readonly #owns: (ctx: RequestContext) => boolean;
  #shipping: LogShipping | null = null;

  constructor(logger: Logger, owns: (ctx: RequestContext) => boolean) {
    this.#logger = logger;
    this.#owns = owns;
  }

  start(first: Snapshot): void {
    if (first.logShipping !== null) this.#shipping = new LogShipping(first.logShipping, this.#logger, this.#owns);
  }

  update(next: Snapshot, prev: Snapshot): void {
    // What a sink's queue and transport were built from; `global`, `fields` and the redaction follow each snapshot.
    const defs = (s: Snapshot): string => JSON.stringify((s.logShipping?.sinks ?? []).map(({ global: _g, ...rest }) => rest));
    if (defs(prev) !== defs(next)) this.#logger.warn({ type: 'reload' }, 'log sink settings changed in the config; new sinks and changed addresses, URLs, headers, batches and retries take effect on restart');
  }

  /** Delivery counts per sink ([] without sinks). */
  stats(): SinkStats[] {
    return this.#shipping?.stats() ?? [];
  }

  async stop(remainingMs = MIN_FLUSH_MS): Promise<void> {
    await this.#shipping?.close(Math.max(MIN_FLUSH_MS, remainingMs));
  }
}
