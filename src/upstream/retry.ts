// Retry decisions and passive-health bookkeeping for upstream attempts. Retries go to a
// different target when there is one, after a jittered exponential backoff, only for
// requests that can be replayed (idempotent method; no body, or one that fit in the replay
// buffer), never past the request's total deadline, and within the
// service's retry budget, so that retries cannot multiply the load on a struggling service.
// The budget's counts (requests and retries in flight per service) are kept here too.
import type { BalanceKey } from './balancer.js';
import type { Service } from './service.js';
import type { Target } from './target.js';
import type { Upstream } from './upstream.js';

/** A connection-level failure (failureOf), or a response status as text ("500"), as `retries.on` names it. */
export type RetryCondition = 'connect-failure' | 'reset' | 'timeout' | `${number}`;

export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  readonly on: ReadonlySet<RetryCondition>;
  /** The response statuses among `on` (400–599), as numbers: the response path asks this set only. */
  readonly statuses: ReadonlySet<number>;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Retries in flight may be at most this share of the service's requests in flight. */
  readonly budgetPercent: number;
  /** Retry non-idempotent methods (POST, PATCH) too. */
  readonly nonIdempotent: boolean;
  /** A request body up to this size is kept so that a retry can resend it (0: bodies are never retried). */
  readonly replayBufferBytes: number;
}

/**
 * What retries read and count of a request. The proxy's request context satisfies it and is
 * passed as it is (no object per attempt).
 */
export interface RetryState extends BalanceKey {
  readonly route: { readonly service: Service } | null;
  readonly method: string;
  /** Upstream attempts made so far (retries included). */
  attempt: number;
  /** Targets already tried by this request (null until a retry). */
  readonly tried: readonly Target[] | null;
  /** The declared body length (-1: none declared), or chunked. */
  readonly requestBodyLength: number;
  readonly requestChunked: boolean;
  /** The whole request body when it fit in the replay buffer, else null. */
  readonly replayBody: Buffer | null;
  /** performance.now() at which the total deadline passes (0: none). */
  readonly deadlineAt: number;
  readonly res: { readonly destroyed: boolean };
}

export const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Retries are always allowed while this few are in flight, whatever the budget says. */
const MIN_RETRY_CONCURRENCY = 3;

const CONNECT_FAILURE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** What kind of failure an upstream error is, or null when it is not the upstream's fault. */
export function failureOf(err: unknown): 'connect-failure' | 'reset' | 'timeout' | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (CONNECT_FAILURE.has(code)) return 'connect-failure';
  if (RESET.has(code)) return 'reset';
  if (TIMEOUT.has(code)) return 'timeout';
  return code.startsWith('HPE_') ? 'reset' : null;
}

/**
 * The backoff (ms) before retrying this failure (a connection-level one, or a response
 * status), or -1 when it must not be retried.
 */
export function planRetry(ctx: RetryState, condition: 'connect-failure' | 'reset' | 'timeout' | number): number {
  const policy = ctx.route!.service.retries;
  if (!(typeof condition === 'number' ? policy.statuses.has(condition) : policy.on.has(condition))) return -1;
  if (!mayTryAgain(ctx)) return -1;
  const delay = retryDelay(ctx);
  // Never sleep past the total deadline: the failure is answered now instead.
  if (ctx.deadlineAt !== 0 && performance.now() + delay >= ctx.deadlineAt) return -1;
  return delay;
}

/**
 * Whether the request may be sent once more, whatever the failure: attempts left, a method the
 * policy replays, a body that can be sent again, a client still there, and the service's
 * retry budget not spent.
 */
export function mayTryAgain(ctx: RetryState): boolean {
  const service = ctx.route!.service;
  const policy = service.retries;
  if (ctx.attempt >= policy.attempts) return false;
  if (!policy.nonIdempotent && !IDEMPOTENT.has(ctx.method)) return false;
  // A body already streamed to the failed attempt cannot be sent again unless it fit in the replay buffer.
  if ((ctx.requestBodyLength > 0 || ctx.requestChunked) && ctx.replayBody === null) return false;
  if (ctx.res.destroyed) return false;
  const stats = service.stats;
  return stats.retries < Math.max(MIN_RETRY_CONCURRENCY, Math.floor((stats.inflight * policy.budgetPercent) / 100));
}

/** Full jitter on an exponential backoff: uniformly in [delay/2, delay]. */
export function retryDelay(ctx: RetryState): number {
  const p = ctx.route!.service.retries;
  const delay = Math.min(p.backoffMaxMs, p.backoffBaseMs * 2 ** (ctx.attempt - 1));
  return delay / 2 + Math.random() * (delay / 2);
}

/** The target for the next attempt: another one than those tried when possible. */
export function nextTarget(ctx: RetryState, now: number): Target | null {
  const balancer = ctx.route!.service.upstream.balancer;
  return balancer.pick(now, ctx.tried, ctx) ?? balancer.pick(now, null, ctx);
}

/** An attempt starts: the request's first one joins the service's requests in flight (the budget's base). */
export function countAttempt(ctx: RetryState): void {
  if (ctx.attempt++ === 0) ctx.route!.service.stats.inflight++;
}

/** A retry is decided: the request joins the retries in flight, once however many retries it makes. */
export function countRetry(ctx: RetryState): void {
  if (ctx.attempt === 1) ctx.route!.service.stats.retries++;
}

/** The request is over: it leaves the counts it joined. */
export function releaseBudget(ctx: RetryState): void {
  if (ctx.attempt === 0) return;
  const stats = ctx.route!.service.stats;
  stats.inflight--;
  if (ctx.attempt > 1) stats.retries--;
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
