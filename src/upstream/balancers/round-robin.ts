import type { Target } from '../target.js';

export const usable = (t: Target, now: number, exclude: readonly Target[] | null): boolean => t.health.available(now) && (exclude === null || !exclude.includes(t));

/**
 * Smooth weighted round-robin (the nginx algorithm): weights 3:1 give a,a,b,a — never a
 * burst of the heavy target. Equal weights take a plain counter. Unavailable targets are
 * skipped without disturbing the others' order.
 */
export class RoundRobin {
  readonly #targets: readonly Target[];
  readonly #current: number[];
  readonly #uniform: boolean;
  #next = 0;

  constructor(targets: readonly Target[]) {
    this.#targets = targets;
    this.#current = targets.map(() => 0);
    this.#uniform = targets.every((t) => t.weight === targets[0]!.weight);
  }

  pick(now: number, exclude: readonly Target[] | null): Target | null {
    const targets = this.#targets;
    const n = targets.length;
    if (n === 1) return usable(targets[0]!, now, exclude) ? targets[0]! : null;
    if (this.#uniform) {
      for (let k = 0; k < n; k++) {
        const t = targets[this.#next]!;
        this.#next = this.#next + 1 === n ? 0 : this.#next + 1;
        if (usable(t, now, exclude)) return t;
      }
      return null;
    }
    const current = this.#current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const t = targets[i]!;
      if (!usable(t, now, exclude)) continue;
      current[i]! += t.weight;
      total += t.weight;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    if (best === -1) return null;
    current[best]! -= total;
    return targets[best]!;
  }
}
