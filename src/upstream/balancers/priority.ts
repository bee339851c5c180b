import type { BalanceKey, Balancer } from '../balancer.js';
import type { Target } from '../target.js';

/**
 * SRV priorities (RFC 2782): one balancer per priority group, lowest first; a group is used
 * only while none before it has a target available (healthy, not ejected, not yet tried).
 * An upstream with one group takes that group's balancer directly and never pays for this.
 */
export class PriorityGroups implements Balancer {
  readonly #groups: readonly Balancer[];

  constructor(groups: readonly Balancer[]) {
    this.#groups = groups;
  }

  pick(now: number, exclude: readonly Target[] | null, key: BalanceKey | null): Target | null {
    for (const g of this.#groups) {
      const t = g.pick(now, exclude, key);
      if (t !== null) return t;
    }
    return null;
  }
}
