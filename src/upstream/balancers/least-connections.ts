import type { Target } from '../target.js';
import { usable } from './round-robin.js';

/**
 * Weighted least-connections: the available target with the fewest attempts in flight per
 * unit of weight ((inflight + 1) / weight). The scan starts one further each pick, so ties
 * (an idle upstream) are broken round-robin instead of always landing on the first target.
 */
export class LeastConnections {
  readonly #targets: readonly Target[];
  #start = 0;

  constructor(targets: readonly Target[]) {
    this.#targets = targets;
  }

  pick(now: number, exclude: readonly Target[] | null): Target | null {
    const targets = this.#targets;
    const n = targets.length;
    const start = this.#start;
    this.#start = start + 1 >= n ? 0 : start + 1;
    let best: Target | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const t = targets[i]!;
      if (!usable(t, now, exclude)) continue;
      const score = (t.health.inflight + 1) / t.weight;
      if (score < bestScore) {
        best = t;
        bestScore = score;
      }
    }
    return best;
  }
}
