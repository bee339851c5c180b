// Target state kept per (upstream, target) across reloads and DNS changes: passive health
// (outlier detection), active health-check results, and the load the balancers read
// (attempts in flight, peak-EWMA latency).
//
// Passive: consecutive failures (connect failures, resets, timeouts, 5xx) eject a target for a
// time that doubles with each ejection (the multiplier shrinks again while the target stays
// healthy); it comes back when the time is over, or earlier when an active check finds it
// healthy. A cap on the share of an upstream's targets ejected at once keeps a bad deploy
// from emptying the pool.

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
  /** The ejection multiplier: the ejection time is base · 2^ejections, up to the max. */
  ejections = 0;
  ejectedUntil = 0;
  /** False while the active health check says the target is down. */
  checkHealthy = true;
  /** Consecutive active-check results of each kind. */
  checkSuccesses = 0;
  checkFailures = 0;
  checkTimeouts = 0;
  /** Upstream attempts in flight to this target (least-connections, P2C). */
  inflight = 0;
  /** Peak-EWMA latency in ms (0: not measured yet) and when it was last updated (Date.now()). */
  rttMs = 0;
  rttStamp = 0;

  available(now: number): boolean {
    return this.checkHealthy && now >= this.ejectedUntil;
  }

  success(): void {
    this.consecutiveFailures = 0;
  }

  /** Records a failure; returns true when it ejected the target. `ejectedPeers` counts the upstream's targets unavailable now. */
  failure(now: number, policy: OutlierPolicy, ejectedPeers: number, peers: number): boolean {
    this.consecutiveFailures++;
    if (policy.consecutiveFailures === 0 || this.consecutiveFailures < policy.consecutiveFailures || !this.available(now)) return false;
    if ((ejectedPeers + 1) * 100 > policy.maxEjectedPercent * peers && ejectedPeers > 0) return false;
    // Each base-ejection period spent healthy since the last ejection ended takes one step off
    // the multiplier (Envoy's decrement), so a target that failed once a day ago starts short.
    if (this.ejections > 0 && this.ejectedUntil > 0) this.ejections = Math.max(0, this.ejections - Math.floor((now - this.ejectedUntil) / policy.baseEjectionMs));
    const duration = Math.min(policy.maxEjectionMs, policy.baseEjectionMs * 2 ** Math.min(this.ejections, 20));
    this.ejections++;
    this.ejectedUntil = now + duration;
    this.consecutiveFailures = 0;
    // An active check must see it healthy again from now on to bring it back early.
    this.checkSuccesses = 0;
    return true;
  }

  /** The active check's verdict of health: an ejected target comes back at once. */
  checkedHealthy(): void {
    this.checkHealthy = true;
    this.ejectedUntil = 0;
    this.consecutiveFailures = 0;
  }

  /**
   * One latency sample (ms) for the peak-EWMA score: a sample above the current value is taken
   * at once (peak), a lower one is blended in with weight 1 − e^(−Δt/τ).
   */
  observeRtt(rttMs: number, now: number, decayMs: number): void {
    const prev = this.decayedRtt(now, decayMs);
    this.rttMs = rttMs >= prev || prev === 0 ? rttMs : prev + (rttMs - prev) * (1 - Math.exp(-(now - this.rttStamp) / decayMs));
    this.rttStamp = now;
  }

  /** The EWMA decayed towards 0 since the last sample (Finagle's observe(0) at read time): an idle slow target gets probed again. */
  decayedRtt(now: number, decayMs: number): number {
    const rtt = this.rttMs;
    if (rtt === 0) return 0;
    const dt = now - this.rttStamp;
    return dt <= 0 ? rtt : rtt * Math.exp(-dt / decayMs);
  }
}

/** Keeps each target's state across reloads, keyed by upstream name and target URL. */
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

/**
 * Seconds a client should wait when no target is available: until the first ejection ends,
 * or — for targets down by the active check — until enough checks can have passed.
 */
export function retryAfterSeconds(targets: ReadonlyArray<{ readonly health: TargetHealth }>, now: number, checkRecoveryMs: number): number {
  let soonest = Infinity;
  for (const t of targets) {
    const h = t.health;
    const at = h.checkHealthy ? h.ejectedUntil : now + checkRecoveryMs;
    if (at < soonest) soonest = at;
  }
  // No target at all (an SRV name without records, a Service without ready endpoints): ask again in a second.
  if (soonest === Infinity) return 1;
  return Math.max(1, Math.ceil((soonest - now) / 1000));
}
