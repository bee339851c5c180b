// Passive health (outlier detection): consecutive failures of a target (connect failures,
// resets, timeouts, 5xx) eject it for a time that grows with each ejection; it comes back
// when the time is over. A cap on the share of an upstream's targets ejected at once keeps
// a bad deploy from emptying the pool. State lives per (upstream, target) across reloads.

export interface OutlierPolicy {
  /** Consecutive failures that eject a target (0: never eject). */
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** At most this percentage of an upstream's targets are ejected at the same time. */
  readonly maxEjectedPercent: number;
}

export const DEFAULT_OUTLIER: OutlierPolicy = { consecutiveFailures: 5, baseEjectionMs: 10_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 };

export class TargetHealth {
  consecutiveFailures = 0;
  /** How many times the target was ejected (the ejection time doubles with each, up to the max). */
  ejections = 0;
  ejectedUntil = 0;

  available(now: number): boolean {
    return now >= this.ejectedUntil;
  }

  success(): void {
    this.consecutiveFailures = 0;
  }

  /** Records a failure; returns true when it ejected the target. `ejectedPeers` counts the upstream's targets ejected now. */
  failure(now: number, policy: OutlierPolicy, ejectedPeers: number, peers: number): boolean {
    this.consecutiveFailures++;
    if (policy.consecutiveFailures === 0 || this.consecutiveFailures < policy.consecutiveFailures || !this.available(now)) return false;
    if ((ejectedPeers + 1) * 100 > policy.maxEjectedPercent * peers && ejectedPeers > 0) return false;
    const duration = Math.min(policy.maxEjectionMs, policy.baseEjectionMs * 2 ** Math.min(this.ejections, 20));
    this.ejections++;
    this.ejectedUntil = now + duration;
    this.consecutiveFailures = 0;
    return true;
  }
}

/** Keeps each target's health across reloads, keyed by upstream name and target URL. */
export class HealthRegistry {
  readonly #byKey = new Map<string, TargetHealth>();

  get(upstream: string, target: string): TargetHealth {
    const key = `${upstream}|${target}`;
    let h = this.#byKey.get(key);
    if (!h) this.#byKey.set(key, (h = new TargetHealth()));
    return h;
  }

  /** Forgets targets no config uses any more. */
  retain(live: ReadonlySet<TargetHealth>): void {
    for (const [k, h] of this.#byKey) if (!live.has(h)) this.#byKey.delete(k);
  }
}
