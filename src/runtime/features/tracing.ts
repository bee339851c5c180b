// Tracing's lifecycle: the exporter starts with the first config's `tracing:` and sends the
// spans still queued at drain. Its settings apply on restart only.
import type { Logger } from '../../base/logger.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import { Tracing } from '../../observability/tracing.js';
import type { Feature } from './feature.js';

export class TracingFeature implements Feature {
  readonly #logger: Logger;
  #tracing: Tracing | null = null;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(first: Snapshot): void {
    if (first.tracing !== null) this.#tracing = new Tracing(first.tracing, this.#logger);
  }

  update(next: Snapshot, prev: Snapshot): void {
    if (JSON.stringify(prev.tracing) !== JSON.stringify(next.tracing)) this.#logger.warn({ type: 'reload' }, 'tracing settings changed in the config; they take effect on restart');
  }

  /** Span export counts (null: tracing off). */
  spans(): { exported: number; dropped: number; queued: number } | null {
    const e = this.#tracing?.exporter;
    return e === undefined ? null : { exported: e.exported, dropped: e.dropped, queued: e.queued };
  }

  async stop(): Promise<void> {
    // Bounded by the exporter's own timeout.
    await this.#tracing?.shutdown().catch(() => undefined);
  }
}
