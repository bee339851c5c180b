import type { Target } from '../config/snapshot.js';

export interface Balancer {
  /** The next target, or null when there is none to send to. */
  pick(): Target | null;
}

/**
 * Smooth weighted round-robin (the nginx algorithm): weights 3:1 give a,a,b,a — never a
 * burst of the heavy target. Equal weights take a plain counter.
 */
export class RoundRobin implements Balancer {
  readonly #targets: readonly Target[];
  readonly #current: number[];
  readonly #total: number;
  readonly #uniform: boolean;
  #next = 0;

  constructor(targets: readonly Target[]) {
    this.#targets = targets;
    this.#current = targets.map(() => 0);
    this.#total = targets.reduce((sum, t) => sum + t.weight, 0);
    this.#uniform = targets.every((t) => t.weight === targets[0]!.weight);
  }

  pick(): Target | null {
    const targets = this.#targets;
    const n = targets.length;
    if (n === 0) return null;
    if (n === 1) return targets[0]!;
    if (this.#uniform) {
      const t = targets[this.#next]!;
      this.#next = this.#next + 1 === n ? 0 : this.#next + 1;
      return t;
    }
    const current = this.#current;
    let best = 0;
    for (let i = 0; i < n; i++) {
      current[i]! += targets[i]!.weight;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= this.#total;
    return targets[best]!;
  }
}
