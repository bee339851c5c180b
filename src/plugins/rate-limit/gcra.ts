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
export function decide(limits: readonly Limit[], tats: readonly number[], now: number): { decision: Decision; tats: number[] } {
  const next: number[] = new Array(limits.length);
  const decision = decideInto(limits, tats, now, next);
  return { decision, tats: decision.allowed ? next : [...tats] };
}

/**
 * `decide` without allocating state: the TATs after an admitted request are written into
 * `next` (left unspecified when refused). The local store calls this per request.
 */
export function decideInto(limits: readonly Limit[], tats: readonly number[], now: number, next: number[]): Decision {
  let worst = 0;
  let worstRemaining = Infinity;
  let retryAfter = 0;
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
    allowed,
    remaining: allowed ? worstRemaining : 0,
    reset: Math.max(0, Math.ceil((tat - now) / 1000)),
    retryAfter: allowed ? 0 : Math.max(1, Math.ceil(retryAfter / 1000)),
    limit: worst,
  };
}

/** TATs of an admitted request, reused by every check (decideInto writes, the store copies). */
const scratch: number[] = [];
const NO_TATS: readonly number[] = [];

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
    const entry = this.#state.get(key);
    const live = entry !== undefined && entry.expires > now;
    const decision = decideInto(limits, live ? entry.tats : NO_TATS, now, scratch);
    if (decision.allowed) {
      // Kept until the last limit's TAT has drained (state older than that admits like none).
      let expires = now;
      for (let i = 0; i < limits.length; i++) expires = Math.max(expires, scratch[i]! + limits[i]!.period);
      if (entry !== undefined) {
        // Updated in place: one object per key, not one per request.
        for (let i = 0; i < limits.length; i++) entry.tats[i] = scratch[i]!;
        entry.expires = expires;
      } else {
        if (this.#state.size >= this.#maxKeys) this.#sweep(now, true);
        this.#state.set(key, { tats: scratch.slice(0, limits.length), expires });
      }
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
