// The balancer interface, the factory that builds one per upstream from its compiled spec,
// and the per-attempt load feed (attempts in flight, latency) that the forwarder calls.
import type { Target } from './target.js';
import { ConsistentHash, type HashOn } from './balancers/consistent-hash.js';
import { LeastConnections } from './balancers/least-connections.js';
import { PeakEwmaP2C } from './balancers/p2c-ewma.js';
import { RoundRobin } from './balancers/round-robin.js';

export { RoundRobin };

/**
 * What a balancer may read of the request (consistent-hash takes its key from it). The
 * proxy's request context satisfies it and is passed as it is.
 */
export interface BalanceKey {
  readonly path: string;
  /** The raw query string with its "?", or "". */
  readonly query: string;
  readonly clientIp: string;
  readonly consumer: { readonly id: string } | null;
  /** One request header (lower-case name), several values joined with ", ". */
  header(name: string): string | undefined;
}

export interface Balancer {
  /**
   * The next target that is available (not ejected, not down by the active check) and not in
   * `exclude` (targets already tried by this request), or null when there is none. `key` is
   * the request (consistent-hash reads its key from it).
   */
  pick(now: number, exclude: readonly Target[] | null, key: BalanceKey | null): Target | null;
}

export type BalancerSpec =
  | { readonly kind: 'round-robin' }
  | { readonly kind: 'least-connections' }
  | { readonly kind: 'random-two-choices'; readonly decayMs: number }
  | { readonly kind: 'consistent-hash'; readonly hashOn: HashOn; readonly name: string; readonly tableSize: number };

export const ROUND_ROBIN: BalancerSpec = { kind: 'round-robin' };
/** τ of the peak-EWMA latency (Finagle's and Linkerd's default). */
export const DEFAULT_DECAY_MS = 10_000;
/** Maglev table size: a prime well above 100 × the targets of any sane upstream (Envoy's default). */
export const MAGLEV_TABLE_SIZE = 65_537;

/** The balancer of an upstream with no target (an SRV service that names none): nothing to pick. */
const NO_TARGET: Balancer = { pick: () => null };

export function createBalancer(spec: BalancerSpec, targets: readonly Target[]): Balancer {
  if (targets.length === 0) return NO_TARGET;
  switch (spec.kind) {
    case 'round-robin':
      return new RoundRobin(targets);
    case 'least-connections':
      return new LeastConnections(targets);
    case 'random-two-choices':
      return new PeakEwmaP2C(targets, spec.decayMs);
    case 'consistent-hash':
      return new ConsistentHash(targets, spec.hashOn, spec.name, spec.tableSize);
  }
}

/** The τ a target's latency is tracked with (0: its balancer does not read latency). */
export const rttDecayOf = (spec: BalancerSpec): number => (spec.kind === 'random-two-choices' ? spec.decayMs : 0);

/** An attempt to `target` starts (the forwarder calls this once per attempt). */
export function attemptStarted(target: Target): void {
  target.health.inflight++;
}

/**
 * The attempt ended. `startedAt`/`respondedAt` are performance.now() values (respondedAt 0:
 * no response head came). A failed attempt counts at least twice the target's current
 * latency, so a target that fails fast never looks faster than one that answers.
 */
export function attemptEnded(target: Target, startedAt: number, respondedAt: number): void {
  const h = target.health;
  h.inflight--;
  const decay = target.rttDecayMs;
  if (decay === 0) return;
  const now = Date.now();
  const rtt = respondedAt !== 0 ? respondedAt - startedAt : Math.max(performance.now() - startedAt, 2 * h.decayedRtt(now, decay), 1);
  h.observeRtt(rtt, now, decay);
}
