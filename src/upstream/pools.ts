// Connection pools to targets, keyed by origin and connection options. A reload asks for
// the pools of its new config: unchanged targets get the same Pool back (their warm
// keep-alive connections survive the reload), pools no config uses any more are closed
// gracefully (in-flight requests on them finish first).
import { Pool } from 'undici';

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** TLS server name (SNI) when the origin is an address resolved from this name. */
  readonly servername?: string | undefined;
}

const KEEP_ALIVE_MS = 4_000;
/** Connections per target, so a slow upstream cannot make the gateway open sockets without bound. */
const MAX_CONNECTIONS_PER_TARGET = 1024;

export class PoolRegistry {
  readonly #pools = new Map<string, Pool>();

  acquire(origin: string, opts: PoolOptions): Pool {
    const key = `${origin}|${opts.connectTimeoutMs}|${opts.servername ?? ''}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: MAX_CONNECTIONS_PER_TARGET,
        pipelining: 1,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: opts.servername === undefined ? { timeout: opts.connectTimeoutMs } : { timeout: opts.connectTimeoutMs, servername: opts.servername },
        // The per-request read timeout is passed with each dispatch; these are the ceilings.
        headersTimeout: 0,
        bodyTimeout: 0,
        strictContentLength: true,
      });
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Closes every pool not in `inUse` (the set of pools the live snapshot holds). */
  retain(inUse: ReadonlySet<Pool>): void {
    for (const [key, pool] of this.#pools) {
      if (!inUse.has(pool)) {
        this.#pools.delete(key);
        void pool.close().catch(() => undefined);
      }
    }
  }

  async closeAll(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((p) => p.close()));
  }

  get size(): number {
    return this.#pools.size;
  }
}
