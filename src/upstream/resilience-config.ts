// The service keys of circuit breaking and load shedding: their schema, the checks a
// schema cannot express, and their compiled form (docs/resilience.md is the reference).
import { parseDuration } from '../base/duration.js';
import type { RawService } from '../config/types.js';
import { DEFAULT_ADAPTIVE, type AdaptivePolicy } from './adaptive.js';
import { DEFAULT_CIRCUIT, type CircuitPolicy } from './circuit-breaker.js';
import { ServiceGuard, type GuardRegistry } from './guard.js';

export const DEFAULT_QUEUE_TIMEOUT = '1s';

export function resilienceSchema(duration: Record<string, unknown>): Record<string, unknown> {
  return {
    circuit_breaker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        failure_ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        min_requests: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        window: duration,
        open_for: duration,
        half_open_requests: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    max_concurrent: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    queue: {
      type: 'object',
      additionalProperties: false,
      required: ['size'],
      properties: { size: { type: 'integer', minimum: 0, maximum: 1_000_000 }, timeout: duration },
    },
    adaptive_concurrency: {
      type: 'object',
      additionalProperties: false,
      properties: {
        sample_window: duration,
        min_rtt_interval: duration,
        min_rtt_samples: { type: 'integer', minimum: 1, maximum: 1000 },
        buffer_percent: { type: 'integer', minimum: 0, maximum: 1000 },
        min_limit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        max_limit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      },
    },
  };
}

type Add = (path: Array<string | number>, message: string) => void;

/** Cross-key checks of one service (`at` is its path, e.g. ['services', 0]). */
export function checkResilience(s: RawService, at: Array<string | number>, add: Add): void {
  if (s.queue !== undefined && s.max_concurrent === undefined && s.adaptive_concurrency === undefined) {
    add([...at, 'queue'], 'a queue needs "max_concurrent" or "adaptive_concurrency" on the same service');
  }
  const a = s.adaptive_concurrency;
  if (a !== undefined && (a.min_limit ?? DEFAULT_ADAPTIVE.minLimit) > (a.max_limit ?? DEFAULT_ADAPTIVE.maxLimit)) {
    add([...at, 'adaptive_concurrency', 'min_limit'], 'must not be above max_limit');
  }
  const zero = (text: string | undefined, path: string[]) => {
    if (text !== undefined && parseDuration(text) === 0) add([...at, ...path], 'must be more than 0');
  };
  zero(s.circuit_breaker?.window, ['circuit_breaker', 'window']);
  zero(s.circuit_breaker?.open_for, ['circuit_breaker', 'open_for']);
  zero(a?.sample_window, ['adaptive_concurrency', 'sample_window']);
  zero(s.timeouts?.total, ['timeouts', 'total']);
}

export function checkRouteTimeouts(r: { timeouts?: { total?: string } }, at: Array<string | number>, add: Add): void {
  if (r.timeouts?.total !== undefined && parseDuration(r.timeouts.total) === 0) add([...at, 'timeouts', 'total'], 'must be more than 0');
}

const ms = (text: string | undefined, fallback: number): number => (text === undefined ? fallback : parseDuration(text)!);

export function circuitPolicy(s: RawService): CircuitPolicy | null {
  const c = s.circuit_breaker;
  if (c === undefined) return null;
  return {
    failureRatio: c.failure_ratio ?? DEFAULT_CIRCUIT.failureRatio,
    minRequests: c.min_requests ?? DEFAULT_CIRCUIT.minRequests,
    windowMs: ms(c.window, DEFAULT_CIRCUIT.windowMs),
    openForMs: ms(c.open_for, DEFAULT_CIRCUIT.openForMs),
    halfOpenRequests: c.half_open_requests ?? DEFAULT_CIRCUIT.halfOpenRequests,
  };
}

export function adaptivePolicy(s: RawService): AdaptivePolicy | null {
  const a = s.adaptive_concurrency;
  if (a === undefined) return null;
  return {
    sampleWindowMs: ms(a.sample_window, DEFAULT_ADAPTIVE.sampleWindowMs),
    minRttIntervalMs: ms(a.min_rtt_interval, DEFAULT_ADAPTIVE.minRttIntervalMs),
    minRttSamples: a.min_rtt_samples ?? DEFAULT_ADAPTIVE.minRttSamples,
    buffer: (a.buffer_percent ?? DEFAULT_ADAPTIVE.buffer * 100) / 100,
    minLimit: a.min_limit ?? DEFAULT_ADAPTIVE.minLimit,
    maxLimit: a.max_limit ?? DEFAULT_ADAPTIVE.maxLimit,
  };
}

/** The service's guard, reusing the registry's breaker and limiter when their config is unchanged; null when none is configured. */
export function serviceGuard(s: RawService, registry: GuardRegistry): ServiceGuard | null {
  const circuit = circuitPolicy(s);
  const adaptive = adaptivePolicy(s);
  const limited = s.max_concurrent !== undefined || adaptive !== null;
  if (circuit === null && !limited) return null;
  const breaker = circuit === null ? null : registry.breaker(s.name, circuit);
  const limiter = limited
    ? registry.limiter(s.name, {
        maxConcurrent: s.max_concurrent ?? Infinity,
        queue: { size: s.queue?.size ?? 0, timeoutMs: ms(s.queue?.timeout, parseDuration(DEFAULT_QUEUE_TIMEOUT)!) },
        adaptive,
      })
    : null;
  return new ServiceGuard(breaker, limiter);
}
