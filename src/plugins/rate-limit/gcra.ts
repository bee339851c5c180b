// GCRA (the generic cell rate algorithm): each limit keeps one number per key, the
// theoretical arrival time (TAT). A request is admitted when TAT - period + interval <= now;
// admitting moves TAT forward by one interval (period / max). Exactly `max` requests pass
// in a burst from an idle key, then one per interval: no fixed-window edge doubling, one
// number of state, no read-then-write race when it runs inside one atomic step.

export interface Limit {
  /** Window in ms. */
  readonly period: number;
  readonly max: number;
  /** Name used in RateLimit-Policy ("1m"). */
  readonly name: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** Requests left in the most constrained limit (after this one, when admitted). */
  readonly remaining: number;
  /** Seconds until that limit is fully replenished. */
  readonly reset: number;
  /** Seconds until a request would be admitted (0 when admitted). */
  readonly retryAfter: number;
  /** Index of the limit that decided (the most constrained one). */
  readonly limit: number;
}

/** One atomic decision over several limits: all must admit, and only then is state changed. */
export function decide(limits: readonly Limit[], tats: number[], now: number): { decision: Decision; tats: number[] } {
  let worst = 0;
  let worstRemaining = Infinity;
  let retryAfter = 0;
  const next: number[] = new Array(limits.length);
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i]!;
    const interval = l.period / l.max;
    const tat = Math.max(tats[i] ?? 0, now);
    const newTat = tat + interval;
    const allowAt = newTat - l.period;
    if (allowAt > now) {
      const wait = allowAt - now;
      if (wait > retryAfter) {
        retryAfter = wait;
        worst = i;
      }
      worstRemaining = 0;
      next[i] = tat;
    } else {
      next[i] = newTat;
      const remaining = Math.floor((l.period - (newTat - now)) / interval + 1e-9);
      if (retryAfter === 0 && remaining < worstRemaining) {
        worstRemaining = remaining;
        worst = i;
      }
    }
  }
  const allowed = retryAfter === 0;
  const tat = allowed ? next[worst]! : Math.max(tats[worst] ?? 0, now);
  return {
    decision: {
      allowed,
      remaining: allowed ? worstRemaining : 0,
      reset: Math.max(0, Math.ceil((tat - now) / 1000)),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil(retryAfter / 1000)),
      limit: worst,
    },
    tats: allowed ? next : tats,
  };
}

/**
 * In-process store: exact within this process. Keys idle for longer than their longest
 * period are swept, and the number of keys is capped so a flood of distinct keys
 * (random IPs, random header values) cannot grow memory without bound.
 */
export class LocalGcraStore {
  readonly #state = new Map<string, { tats: number[]; expires: number }>();
  readonly #maxKeys: number;
  #lastSweep = 0;

  constructor(maxKeys = 1_000_000) {
    this.#maxKeys = maxKeys;
  }

  check(key: string, limits: readonly Limit[], now = Date.now()): Decision {
    let entry = this.#state.get(key);
    if (entry !== undefined && entry.expires <= now) entry = undefined;
    const { decision, tats } = decide(limits, entry?.tats ?? [], now);
    if (decision.allowed) {
      const longest = Math.max(...tats.map((t, i) => t - now + limits[i]!.period));
      if (entry === undefined && this.#state.size >= this.#maxKeys) this.#sweep(now, true);
      this.#state.set(key, { tats, expires: now + longest });
    }
    if (now - this.#lastSweep > 10_000) this.#sweep(now, false);
    return decision;
  }

  get size(): number {
    return this.#state.size;
  }

  #sweep(now: number, force: boolean): void {
    this.#lastSweep = now;
    for (const [k, v] of this.#state) if (v.expires <= now) this.#state.delete(k);
    // Still full: drop the oldest tenth (Map iteration is insertion order).
    if (force && this.#state.size >= this.#maxKeys) {
      let n = Math.ceil(this.#maxKeys / 10);
      for (const k of this.#state.keys()) {
        if (n-- <= 0) break;
        this.#state.delete(k);
      }
    }
  }
}
