// A service: an upstream with the timeouts, retry policy and guard its routes share.
import type { RetryPolicy } from './retry.js';
import type { ServiceGuard } from './guard.js';
import type { Upstream } from './upstream.js';

export interface Service {
  readonly name: string;
  readonly upstream: Upstream;
  /** Path prefix from the service URL ("" when none), without a trailing slash. */
  readonly basePath: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** A WebSocket tunnel with no frame either way for this long is closed. */
  readonly websocketIdleMs: number;
  readonly retries: RetryPolicy;
  /** Deadline across all attempts and backoffs, from the first attempt (0: none). A route may override it. */
  readonly totalTimeoutMs: number;
  /** Circuit breaker and concurrency limiter, or null when neither is configured. */
  readonly guard: ServiceGuard | null;
  /** Requests and retries in flight, for the retry budget (per snapshot; counted in retry.ts). */
  readonly stats: { inflight: number; retries: number };
}
