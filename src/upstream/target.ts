// One address of an upstream: what balancers pick and the forwarder dispatches to.
import type { Dispatcher } from 'undici';
import type { TargetHealth } from './health.js';

export interface Target {
  readonly url: string;
  /** scheme://host:port, the key of its connection pool. */
  readonly origin: string;
  /** Host name and port of the origin, parsed once (for trace attributes). */
  readonly hostname: string;
  readonly port: number;
  readonly weight: number;
  readonly dispatcher: Dispatcher;
  /** Health and load (in flight, latency), kept across reloads. */
  readonly health: TargetHealth;
  /** τ of the latency EWMA its balancer reads (0: latency not tracked). */
  readonly rttDecayMs: number;
  /** The Host header for a target resolved from a host name ("name:port"), null otherwise. */
  readonly hostHeader: string | null;
}
