// Retry decisions and passive-health bookkeeping for upstream attempts. Retries go to a
// different target when there is one, after a jittered exponential backoff, only for
// requests that can be replayed (idempotent method; no body, or one that fit in the replay
// buffer), never past the request's total deadline, and within the
// service's retry budget, so that retries cannot multiply the load on a struggling service.
import type { RetryCondition, Target, Upstream } from '../compiler/snapshot.js';
import type { RequestContext } from '../proxy/context.js';

export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Retries are always allowed while this few are in flight, whatever the budget says. */
const MIN_RETRY_CONCURRENCY = 3;

const CONNECT_FAILURE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** What kind of failure an upstream error is, or null when it is not the upstream's fault. */
export function failureOf(err: unknown): RetryCondition | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (CONNECT_FAILURE.has(code)) return 'connect-failure';
  if (RESET.has(code)) return 'reset';
  if (TIMEOUT.has(code)) return 'timeout';
  return code.startsWith('HPE_') ? 'reset' : null;
}

/** The backoff (ms) before retrying this failure, or -1 when it must not be retried. */
export function planRetry(ctx: RequestContext, condition: RetryCondition): number {
  const service = ctx.route!.service;
  const policy = service.retries;
  if (ctx.attempt >= policy.attempts || !policy.on.has(condition)) return -1;
  if (!policy.nonIdempotent && !IDEMPOTENT.has(ctx.method)) return -1;
  // A body already streamed to the failed attempt cannot be sent again unless it fit in the replay buffer.
  if ((ctx.requestBodyLength > 0 || ctx.requestChunked) && ctx.replayBody === null) return -1;
  if (ctx.res.destroyed) return -1;
  const stats = service.stats;
  if (stats.retries >= Math.max(MIN_RETRY_CONCURRENCY, Math.floor((stats.inflight * policy.budgetPercent) / 100))) return -1;
  const delay = retryDelay(ctx);
  // Never sleep past the total deadline: the failure is answered now instead.
  if (ctx.deadlineAt !== 0 && performance.now() + delay >= ctx.deadlineAt) return -1;
  return delay;
}

/** Full jitter on an exponential backoff: uniformly in [delay/2, delay]. */
export function retryDelay(ctx: RequestContext): number {
  const p = ctx.route!.service.retries;
  const delay = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** (ctx.attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

/** The target for the next attempt: another one than those tried when possible. */
export function nextTarget(ctx: RequestContext, now: number): Target | null {
  const balancer = ctx.route!.service.upstream.balancer;
  return balancer.pick(now, ctx.tried, ctx) ?? balancer.pick(now, null, ctx);
}

export function recordSuccess(target: Target): void {
  target.health.success();
}

/** Counts a failure against the target; ejects it after enough consecutive ones. Returns true on ejection. */
export function recordFailure(upstream: Upstream, target: Target, now: number): boolean {
  let ejected = 0;
  for (const t of upstream.targets) if (!t.health.available(now)) ejected++;
  return target.health.failure(now, upstream.outlier, ejected, upstream.targets.length);
}
