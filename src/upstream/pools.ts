// Connection pools to targets, keyed by origin and connection options. A reload asks for
// the pools of its new config: unchanged targets get the same Pool back (their warm
// keep-alive connections survive the reload), pools no config uses any more are closed
// gracefully (in-flight requests on them finish first).
import { Pool } from './undici-pool.js';
import { H2Pool } from './h2-pool.js';
import type { UpstreamTls } from './tls.js';
import type { buildConnector } from 'undici';

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** The upstream's `tls` block (https:// and grpcs:// targets), null for the defaults. */
  readonly tls?: UpstreamTls | null;
  /** TLS server name (SNI) when the origin is an address resolved from this name. */
  readonly servername?: string | undefined;
}

/** An undici Pool for http(s):// targets, an HTTP/2 session pool for grpc(s):// ones. */
export type UpstreamPool = Pool | H2Pool;

const KEEP_ALIVE_MS = 4_000;
/** Connections per target, so a slow upstream cannot make the gateway open sockets without bound. */
const MAX_CONNECTIONS_PER_TARGET = 1024;

export class PoolRegistry {
  readonly #pools = new Map<string, UpstreamPool>();
  /** Opens the connections of http(s) pools instead of undici's TCP/TLS connector (the in-process test harness). */
  readonly #connect: buildConnector.connector | undefined;

  constructor(opts: { connect?: buildConnector.connector } = {}) {
    this.#connect = opts.connect;
  }

  acquire(origin: string, opts: PoolOptions): UpstreamPool {
    const tls = opts.tls ?? null;
    const key = `${origin}|${opts.connectTimeoutMs}|${opts.servername ?? ''}|${tls?.key ?? ''}`;
    let pool = this.#pools.get(key);
    if (!pool && origin.startsWith('grpc')) {
      pool = new H2Pool(origin, { connectTimeoutMs: opts.connectTimeoutMs, tls, servername: opts.servername });
      this.#pools.set(key, pool);
    } else if (!pool) {
      pool = new Pool(origin, {
        connections: MAX_CONNECTIONS_PER_TARGET,
        pipelining: 1,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: this.#connect ?? { timeout: opts.connectTimeoutMs, ...(opts.servername !== undefined ? { servername: opts.servername } : {}), ...(tls !== null && origin.startsWith('https:') ? tls.connect : {}) },
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
  retain(inUse: ReadonlySet<UpstreamPool>): void {
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
