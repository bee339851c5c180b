// Active health checks: per upstream and per process, a background loop probes each target
// with `GET path` through the target's own pool (same scheme, TLS and server name as the
// traffic) and keeps a verdict in the target's TargetHealth, which the balancers read. A
// checker survives reloads while its upstream's check settings stay the same (no duplicate
// timers); probes run at most `concurrency` at a time, each bounded by `timeout`, and a
// round that has not finished when the next is due is not doubled.
import { targetHealthChannel } from '../base/events.js';
import type { Target } from './target.js';
import type { Upstream } from './upstream.js';
import type { Logger } from '../base/logger.js';
import { requestOn } from './undici-pool.js';

export interface ActiveCheckPolicy {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** Host header of the probes (default: the target's own host). */
  readonly host: string | null;
  readonly healthy: { readonly successes: number; readonly statuses: ReadonlySet<number> };
  readonly unhealthy: { readonly failures: number; readonly timeouts: number; readonly statuses: ReadonlySet<number> };
  /** Equal signatures: the same checks (a reload keeps the running checker). */
  readonly signature: string;
}

export const ACTIVE_DEFAULTS = {
  path: '/',
  interval: '10s',
  timeout: '1s',
  concurrency: 10,
  successes: 2,
  failures: 3,
  timeouts: 3,
  healthyStatuses: [200, 302],
  unhealthyStatuses: [429, 404, 500, 501, 502, 503, 504, 505],
} as const;


type Outcome = 'success' | 'failure' | 'timeout' | 'neutral';

class UpstreamChecker {
  upstream: Upstream;
  readonly policy: ActiveCheckPolicy;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #stopped = false;

  constructor(upstream: Upstream, policy: ActiveCheckPolicy, logger: Logger) {
    this.upstream = upstream;
    this.policy = policy;
    this.#logger = logger;
  }

  start(): void {
    this.#timer = setInterval(() => void this.round(), this.policy.intervalMs);
    this.#timer.unref();
    void this.round();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One probe of every target, `concurrency` at a time. */
  async round(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    try {
      const targets = [...this.upstream.targets];
      let next = 0;
      const worker = async () => {
        while (next < targets.length && !this.#stopped) {
          const t = targets[next++]!;
          this.#record(t, await this.#probe(t));
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.policy.concurrency, targets.length) }, worker));
    } finally {
      this.#running = false;
    }
  }

  async #probe(t: Target): Promise<Outcome> {
    const p = this.policy;
    const host = p.host ?? t.hostHeader;
    try {
      const res = await requestOn(t.dispatcher, {
        path: p.path,
        method: 'GET',
        // Flat name/value pairs: what both HTTP/1.1 clients (undici's and the native engine's) take.
        headers: host === null ? ['user-agent', 'northgate-health-check'] : ['host', host, 'user-agent', 'northgate-health-check'],
        signal: AbortSignal.timeout(p.timeoutMs),
        headersTimeout: p.timeoutMs,
        bodyTimeout: p.timeoutMs,
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (p.healthy.statuses.has(res.statusCode)) return 'success';
      if (p.unhealthy.statuses.has(res.statusCode)) return 'failure';
      return 'neutral';
    } catch (err) {
      const e = err as { name?: string; code?: string };
      if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
      return 'failure';
    }
  }

  #record(t: Target, outcome: Outcome): void {
    if (this.#stopped) return;
    const h = t.health;
    const p = this.policy;
    if (outcome === 'success') {
      h.checkSuccesses++;
      h.checkFailures = 0;
      h.checkTimeouts = 0;
      if (h.checkSuccesses >= p.healthy.successes && !h.available(Date.now())) {
        h.checkedHealthy();
        this.#changed(t, true, `${h.checkSuccesses} successful checks`);
      }
    } else if (outcome === 'failure' || outcome === 'timeout') {
      h.checkSuccesses = 0;
      const count = outcome === 'failure' ? ++h.checkFailures : ++h.checkTimeouts;
      const limit = outcome === 'failure' ? p.unhealthy.failures : p.unhealthy.timeouts;
      if (limit > 0 && count >= limit && h.checkHealthy) {
        h.checkHealthy = false;
        this.#changed(t, false, `${count} ${outcome === 'failure' ? 'failed' : 'timed-out'} checks`);
      }
    }
  }

  #changed(t: Target, healthy: boolean, reason: string): void {
    const event = { upstream: this.upstream.name, target: t.url, healthy, reason };
    this.#logger[healthy ? 'info' : 'warn']({ type: 'healthcheck', ...event }, healthy ? 'target healthy again (active check)' : 'target unhealthy (active check)');
    if (targetHealthChannel.hasSubscribers) targetHealthChannel.publish(event);
  }
}

/** The running checkers of one process, synced with each snapshot. */
export class ActiveHealthChecks {
  readonly #checkers = new Map<string, UpstreamChecker>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Starts checks for new upstreams, keeps unchanged ones, stops the rest. */
  sync(upstreams: Iterable<Upstream>): void {
    const live = new Map<string, Upstream>();
    for (const u of upstreams) if (!live.has(u.name)) live.set(u.name, u);
    for (const [name, checker] of this.#checkers) {
      const u = live.get(name);
      if (u?.activeCheck?.signature === checker.policy.signature) {
        checker.upstream = u;
        continue;
      }
      checker.stop();
      this.#checkers.delete(name);
      // Checks off (or changed): what the old ones said no longer holds.
      if (u !== undefined) for (const t of u.targets) resetCheck(t);
    }
    for (const [name, u] of live) {
      if (u.activeCheck === null || this.#checkers.has(name)) continue;
      const checker = new UpstreamChecker(u, u.activeCheck, this.#logger);
      this.#checkers.set(name, checker);
      checker.start();
    }
  }

  stopAll(): void {
    for (const c of this.#checkers.values()) c.stop();
    this.#checkers.clear();
  }

  get size(): number {
    return this.#checkers.size;
  }
}

function resetCheck(t: Target): void {
  const h = t.health;
  h.checkHealthy = true;
  h.checkSuccesses = h.checkFailures = h.checkTimeouts = 0;
}
