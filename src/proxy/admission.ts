// The service's guard at the door of the upstream: an open circuit answers 503 at once
// (no upstream work), a full limiter queues the request or answers 503 at once. Only
// services with `circuit_breaker`, `max_concurrent` or `adaptive_concurrency` come here.
import type { DownstreamResponse } from '../http1/types.js';
import type { Chain } from '../pipeline/chain.js';
import { LocalReply } from '../sdk/local-reply.js';
import type { ConcurrencyLimiter, Waiter } from '../upstream/concurrency.js';
import type { ServiceGuard } from '../upstream/guard.js';
import { OPEN } from '../upstream/circuit-breaker.js';
import type { RequestContext } from './context.js';
import { finish, sendLocalReply, type DrainHooks } from './reply.js';

export type Proceed = (ctx: RequestContext, chain: Chain, hooks: DrainHooks) => void;

const kWaiter = Symbol('northgate.waiter');
interface ResponseWithWaiter extends DownstreamResponse {
  [kWaiter]?: QueuedRequest;
}

/** True when the request may go upstream now; otherwise it was answered or queued. */
export function admit(ctx: RequestContext, chain: Chain, hooks: DrainHooks, guard: ServiceGuard, proceed: Proceed): boolean {
  const now = performance.now();
  const breaker = guard.breaker;
  if (breaker !== null) {
    const generation = breaker.tryAcquire(now);
    if (generation < 0) {
      const retryAfter = String(Math.max(1, Math.ceil(breaker.retryAfterMs(now) / 1000)));
      const detail = breaker.state === OPEN ? 'the service is failing: its circuit breaker is open' : 'the circuit breaker is half-open and its probe requests are in flight';
      sendLocalReply(ctx, LocalReply.error('circuit-open', detail, { 'retry-after': retryAfter }), chain, hooks);
      return false;
    }
    ctx.circuitGeneration = generation;
    ctx.guard = guard;
  }
  const limiter = guard.limiter;
  if (limiter === null) return true;
  ctx.guard = guard;
  if (limiter.tryAcquire()) {
    ctx.concurrencySlot = true;
    return true;
  }
  if (limiter.queued < limiter.queue.size) {
    const waiter = new QueuedRequest(ctx, chain, hooks, limiter, proceed);
    (ctx.res as ResponseWithWaiter)[kWaiter] = waiter;
    ctx.res.on('close', onQueuedClientClose);
    limiter.enqueue(waiter, now);
    return false;
  }
  sendLocalReply(ctx, LocalReply.error('overloaded', 'too many requests in flight to this service', { 'retry-after': '1' }), chain, hooks);
  return false;
}

/** The client left while its request waited: it leaves the queue. */
function onQueuedClientClose(this: ResponseWithWaiter): void {
  this[kWaiter]?.clientClosed();
}

class QueuedRequest implements Waiter {
  deadline = 0;
  prev: Waiter | null = null;
  next: Waiter | null = null;
  queued = false;
  readonly #ctx: RequestContext;
  readonly #chain: Chain;
  readonly #hooks: DrainHooks;
  readonly #limiter: ConcurrencyLimiter;
  readonly #proceed: Proceed;

  constructor(ctx: RequestContext, chain: Chain, hooks: DrainHooks, limiter: ConcurrencyLimiter, proceed: Proceed) {
    this.#ctx = ctx;
    this.#chain = chain;
    this.#hooks = hooks;
    this.#limiter = limiter;
    this.#proceed = proceed;
  }

  admit(): void {
    const ctx = this.#ctx;
    this.#detach();
    ctx.concurrencySlot = true;
    // Not inside the finishing request's call stack (a chain of waiters could be long).
    queueMicrotask(() => {
      if (ctx.res.destroyed) {
        ctx.errorCode = 'client-closed';
        return finish(ctx, this.#chain, this.#hooks);
      }
      this.#proceed(ctx, this.#chain, this.#hooks);
    });
  }

  expire(): void {
    this.#detach();
    const detail = `waited longer than the queue timeout (${this.#limiter.queue.timeoutMs} ms) for a free slot`;
    sendLocalReply(this.#ctx, LocalReply.error('overloaded', detail, { 'retry-after': '1' }), this.#chain, this.#hooks);
  }

  clientClosed(): void {
    if (!this.queued) return;
    this.#limiter.remove(this);
    this.#detach();
    this.#ctx.errorCode = 'client-closed';
    finish(this.#ctx, this.#chain, this.#hooks);
  }

  #detach(): void {
    const res = this.#ctx.res as ResponseWithWaiter;
    res.removeListener('close', onQueuedClientClose);
    res[kWaiter] = undefined;
  }
}
