// A per-service circuit breaker (closed -> open -> half-open -> closed). Closed: outcomes
// are counted in a rolling window of fixed buckets (typed arrays, nothing allocated per
// request); when the failure ratio reaches `failure_ratio` over at least `min_requests`,
// the circuit opens. Open: every request is refused at once for `open_for`. Half-open:
// `half_open_requests` probes go through; all of them succeeding closes the circuit, any
// failure opens it again. Each state has a generation number: an outcome reported for
// another generation (a request admitted before the last change) is ignored.
import { circuitStateChannel } from '../base/events.js';


export const CLOSED = 0;
export const OPEN = 1;
export const HALF_OPEN = 2;
export const STATE_NAMES = ['closed', 'open', 'half-open'] as const;

export interface CircuitPolicy {
  /** Failures / requests in the window at which the circuit opens (0 < ratio <= 1). */
  readonly failureRatio: number;
  /** No opening before the window holds this many outcomes. */
  readonly minRequests: number;
  readonly windowMs: number;
  readonly openForMs: number;
  readonly halfOpenRequests: number;
}

export const DEFAULT_CIRCUIT: CircuitPolicy = { failureRatio: 0.5, minRequests: 20, windowMs: 10_000, openForMs: 30_000, halfOpenRequests: 3 };

export interface CircuitStateChange {
  readonly service: string;
  readonly from: (typeof STATE_NAMES)[number];
  readonly to: (typeof STATE_NAMES)[number];
  /** Failures and outcomes in the window when the circuit opened from closed (0 otherwise). */
  readonly failures: number;
  readonly requests: number;
}

const BUCKETS = 10;

export class CircuitBreaker {
  readonly service: string;
  readonly policy: CircuitPolicy;
  state = CLOSED;
  /** Bumped on every state change; admissions carry it so late outcomes are ignored. */
  generation = 0;
  /** performance.now() at which an open circuit turns half-open. */
  openUntil = 0;
  #probesLeft = 0;
  #probeSuccesses = 0;
  readonly #bucketMs: number;
  readonly #total = new Uint32Array(BUCKETS);
  readonly #failed = new Uint32Array(BUCKETS);
  /** The absolute bucket number each slot currently counts for. */
  readonly #epoch = new Float64Array(BUCKETS).fill(-Infinity);
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(service: string, policy: CircuitPolicy) {
    this.service = service;
    this.policy = policy;
    this.#bucketMs = Math.max(1, policy.windowMs / BUCKETS);
  }

  /** The generation to report the outcome with, or -1 when the request is refused. */
  tryAcquire(now: number): number {
    const state = this.state;
    if (state === CLOSED) return this.generation;
    if (state === OPEN) {
      if (now < this.openUntil) return -1;
      this.#halfOpen();
    }
    if (this.#probesLeft === 0) return -1;
    this.#probesLeft--;
    return this.generation;
  }

  /** Milliseconds until a refused client may try again (for Retry-After). */
  retryAfterMs(now: number): number {
    return this.state === OPEN ? Math.max(0, this.openUntil - now) : 1000;
  }

  success(generation: number): void {
    if (generation !== this.generation) return;
    if (this.state === CLOSED) this.#count(performance.now(), false);
    else if (this.state === HALF_OPEN && ++this.#probeSuccesses >= this.policy.halfOpenRequests) this.#change(CLOSED, 0, 0);
  }

  failure(generation: number): void {
    if (generation !== this.generation) return;
    const now = performance.now();
    if (this.state === HALF_OPEN) return this.#open(now, 0, 0);
    if (this.state !== CLOSED) return;
    this.#count(now, true);
    let total = 0;
    let failed = 0;
    const current = Math.floor(now / this.#bucketMs);
    for (let i = 0; i < BUCKETS; i++) {
      if (current - this.#epoch[i]! < BUCKETS) {
        total += this.#total[i]!;
        failed += this.#failed[i]!;
      }
    }
    if (total >= this.policy.minRequests && failed >= this.policy.failureRatio * total) this.#open(now, failed, total);
  }

  /** Neither success nor failure (the client left, a plugin answered): a half-open probe permit comes back. */
  release(generation: number): void {
    if (generation === this.generation && this.state === HALF_OPEN) this.#probesLeft++;
  }

  dispose(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #count(now: number, failed: boolean): void {
    const abs = Math.floor(now / this.#bucketMs);
    const slot = abs % BUCKETS;
    if (this.#epoch[slot] !== abs) {
      this.#epoch[slot] = abs;
      this.#total[slot] = 0;
      this.#failed[slot] = 0;
    }
    this.#total[slot]!++;
    if (failed) this.#failed[slot]!++;
  }

  #open(now: number, failures: number, requests: number): void {
    this.openUntil = now + this.policy.openForMs;
    this.#change(OPEN, failures, requests);
    this.dispose();
    // The turn to half-open is also made by the first request after open_for (timers run late under load).
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.state === OPEN) this.#halfOpen();
    }, this.policy.openForMs);
    this.#timer.unref();
  }

  #halfOpen(): void {
    this.#probesLeft = this.policy.halfOpenRequests;
    this.#probeSuccesses = 0;
    this.#change(HALF_OPEN, 0, 0);
  }

  #change(to: number, failures: number, requests: number): void {
    const from = this.state;
    this.state = to;
    this.generation++;
    if (to === CLOSED) {
      this.#epoch.fill(-Infinity);
      this.dispose();
    }
    if (circuitStateChannel.hasSubscribers) {
      const message: CircuitStateChange = { service: this.service, from: STATE_NAMES[from]!, to: STATE_NAMES[to]!, failures, requests };
      circuitStateChannel.publish(message);
    }
  }
}
