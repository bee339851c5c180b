import type { Target } from '../target.js';
import { usable } from './round-robin.js';

/** The score of a target that has attempts in flight but no latency sample yet (Finagle's penalty). */
const UNMEASURED_PENALTY = 1e9;

/**
 * Power of two random choices over a peak-EWMA latency score (Finagle's and Linkerd's
 * balancer): draw two distinct targets at random, send to the cheaper one, where
 * cost = ewma_latency × (inflight + 1) / weight. The EWMA jumps up to a slower sample at once
 * (peak) and decays with τ = `decayMs`, also while the target is idle, so a target that was
 * slow gets probed again after a while instead of being starved for ever.
 */
export class PeakEwmaP2C {
  readonly #targets: readonly Target[];
  readonly #decayMs: number;

  constructor(targets: readonly Target[], decayMs: number) {
    this.#targets = targets;
    this.#decayMs = decayMs;
  }

  pick(now: number, exclude: readonly Target[] | null): Target | null {
    const targets = this.#targets;
    const n = targets.length;
    if (n === 1) return usable(targets[0]!, now, exclude) ? targets[0]! : null;
    const i = Math.floor(Math.random() * n);
    let j = Math.floor(Math.random() * (n - 1));
    if (j >= i) j++;
    const a = targets[i]!;
    const b = targets[j]!;
    const okA = usable(a, now, exclude);
    const okB = usable(b, now, exclude);
    if (okA && okB) return this.#cost(a, now) <= this.#cost(b, now) ? a : b;
    if (okA) return a;
    if (okB) return b;
    // Both draws unavailable: the cheapest of the rest (rare: only with ejected targets).
    let best: Target | null = null;
    let bestCost = Infinity;
    for (const t of targets) {
      if (!usable(t, now, exclude)) continue;
      const c = this.#cost(t, now);
      if (best === null || c < bestCost) {
        best = t;
        bestCost = c;
      }
    }
    return best;
  }

  #cost(t: Target, now: number): number {
    const h = t.health;
    const rtt = h.decayedRtt(now, this.#decayMs);
    if (rtt === 0) return h.inflight === 0 ? 0 : UNMEASURED_PENALTY + h.inflight;
    return (rtt * (h.inflight + 1)) / t.weight;
  }
}
