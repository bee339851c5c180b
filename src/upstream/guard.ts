// What stands between a service's routes and its upstream: the circuit breaker and the
// concurrency limiter (fixed and/or adaptive, with its queue). Both keep their state per
// process across reloads as long as their own config is unchanged (GuardRegistry).
import type { AdaptivePolicy } from './adaptive.js';
import { AdaptiveLimit } from './adaptive.js';
import { CircuitBreaker, type CircuitPolicy } from './circuit-breaker.js';
import { ConcurrencyLimiter, type QueuePolicy } from './concurrency.js';

/**
 * What the guard reads and clears of a finished request: the admission it holds (circuit
 * generation, concurrency slot) and how it went. The proxy's request context satisfies it.
 */
export interface GuardedRequest {
  guard: ServiceGuard | null;
  /** The circuit generation that admitted the request (-1: no circuit involved). */
  circuitGeneration: number;
  /** Whether the request holds a slot of the service's concurrency limiter. */
  concurrencySlot: boolean;
  /** The error-table code when the gateway answered with an error. */
  readonly errorCode: string | null;
  readonly responseStatus: number;
  /** performance.now() values; 0 when it did not happen. */
  readonly upstreamStartedAt: number;
  readonly upstreamRespondedAt: number;
  readonly finishedAt: number;
}

/** What counts against the circuit: the upstream failing, never the client or a plugin. */
const UPSTREAM_FAILURES = new Set(['upstream-unavailable', 'upstream-timeout', 'upstream-invalid-response', 'upstream-unhealthy']);

export class ServiceGuard {
  readonly breaker: CircuitBreaker | null;
  readonly limiter: ConcurrencyLimiter | null;
  constructor(breaker: CircuitBreaker | null, limiter: ConcurrencyLimiter | null) {
    this.breaker = breaker;
    this.limiter = limiter;
  }

  /**
   * The request is over (called from finish): its outcome goes to the circuit, its latency
   * to the adaptive limit, and its slot to the next waiter. A failure is a 5xx from the
   * upstream, a connect failure, a reset, a timeout (or the total deadline), or every
   * target ejected; 4xx are successes; a client that left or a local reply is neither.
   */
  leave(ctx: GuardedRequest): void {
    ctx.guard = null;
    const code = ctx.errorCode;
    const answered = code === null && ctx.upstreamRespondedAt !== 0;
    const generation = ctx.circuitGeneration;
    if (generation >= 0) {
      ctx.circuitGeneration = -1;
      const breaker = this.breaker!;
      if (code !== null ? UPSTREAM_FAILURES.has(code) : answered && ctx.responseStatus >= 500) breaker.failure(generation);
      else if (answered) breaker.success(generation);
      else breaker.release(generation);
    }
    if (ctx.concurrencySlot) {
      ctx.concurrencySlot = false;
      const limiter = this.limiter!;
      const adaptive = limiter.adaptive;
      if (adaptive !== null && ctx.upstreamStartedAt !== 0 && ctx.upstreamRespondedAt !== 0 && ((answered && ctx.responseStatus < 500) || code === 'upstream-timeout')) {
        adaptive.sample(ctx.upstreamRespondedAt - ctx.upstreamStartedAt, ctx.finishedAt);
      }
      limiter.release();
    }
  }
}

export interface LimiterSpec {
  /** Infinity when only the adaptive limit applies. */
  readonly maxConcurrent: number;
  readonly queue: QueuePolicy;
  readonly adaptive: AdaptivePolicy | null;
}

/** Breakers and limiters by service name, reused by a reload when their config did not change. */
export class GuardRegistry {
  readonly #breakers = new Map<string, { key: string; breaker: CircuitBreaker }>();
  readonly #limiters = new Map<string, { key: string; limiter: ConcurrencyLimiter }>();

  breaker(service: string, policy: CircuitPolicy): CircuitBreaker {
    const key = JSON.stringify(policy);
    const known = this.#breakers.get(service);
    if (known !== undefined && known.key === key) return known.breaker;
    known?.breaker.dispose();
    const breaker = new CircuitBreaker(service, policy);
    this.#breakers.set(service, { key, breaker });
    return breaker;
  }

  limiter(service: string, spec: LimiterSpec): ConcurrencyLimiter {
    const key = JSON.stringify(spec, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v));
    const known = this.#limiters.get(service);
    if (known !== undefined && known.key === key) return known.limiter;
    const limiter = new ConcurrencyLimiter(spec.maxConcurrent, spec.queue, spec.adaptive === null ? null : new AdaptiveLimit(spec.adaptive));
    this.#limiters.set(service, { key, limiter });
    return limiter;
  }

  /** Forgets the breakers and limiters of services that are gone or no longer guarded. */
  retain(live: Iterable<ServiceGuard>): void {
    const breakers = new Set<CircuitBreaker>();
    const limiters = new Set<ConcurrencyLimiter>();
    for (const g of live) {
      if (g.breaker !== null) breakers.add(g.breaker);
      if (g.limiter !== null) limiters.add(g.limiter);
    }
    for (const [name, b] of this.#breakers) {
      if (!breakers.has(b.breaker)) {
        b.breaker.dispose();
        this.#breakers.delete(name);
      }
    }
    for (const [name, l] of this.#limiters) if (!limiters.has(l.limiter)) this.#limiters.delete(name);
  }
}
