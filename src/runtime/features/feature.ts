// A feature the gateway runs beside the proxy (the developer portal, tracing, metering): it
// follows the gateway's lifecycle and never the request path. The gateway (the composition
// root) holds a fixed list of them and calls each step in order; a feature the config does
// not turn on does nothing at each step.
import type { Snapshot } from '../../compiler/snapshot.js';
import type { RawConfig } from '../../config/types.js';

export interface Feature {
  /** The first snapshot went into service (built from `config`): start what it asks for. */
  start(first: Snapshot, config: RawConfig): void;
  /** Before the proxy listeners bind: what the first request must find ready. */
  open?(): Promise<void>;
  /** Once the proxy listeners are bound: the feature's own listeners. */
  listen?(): Promise<void>;
  /** A reload put `next` in service in place of `prev`. */
  update?(next: Snapshot, prev: Snapshot): void;
  /** At drain, after the proxy stopped: write what is pending and release connections (never rejects); `remainingMs`: what is left of the drain time. */
  stop(remainingMs?: number): Promise<void>;
}
