// Connection pools to targets, keyed by origin, connection options and engine. A reload asks
// for the pools of its new config: unchanged targets get the same pool back (their warm
// keep-alive connections survive the reload), pools no config uses any more are closed
// gracefully (in-flight requests on them finish first).
import { createPool, type Pool } from './undici-pool.js';
import { H2Pool } from './h2-pool.js';
import { NativePool } from './native-pool.js';
import type { UpstreamTls } from './tls.js';
import type { Engine } from '../config/types.js';
import type { buildConnector } from 'undici';

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** The upstream's `tls` block (https:// and grpcs:// targets), null for the defaults. */
  readonly tls?: UpstreamTls | null;
  /** TLS server name (SNI) when the origin is an address resolved from this name. */
  readonly servername?: string | undefined;
}

/** An undici Pool or the native engine's pool for http(s):// targets, an HTTP/2 session pool for grpc(s):// ones. */
export type UpstreamPool = Pool | NativePool | H2Pool;

const KEEP_ALIVE_MS = 4_000;
/** Connections per target, so a slow upstream cannot make the gateway open sockets without bound. */
const MAX_CONNECTIONS_PER_TARGET = 1024;

export class PoolRegistry {
  readonly #pools = new Map<string, UpstreamPool>();
  /** Opens the connections of http(s) pools instead of undici's TCP/TLS connector (the in-process test harness). */
  readonly #connect: buildConnector.connector | undefined;
  /**
   * The HTTP/1.1 client of http(s) pools: the engine the gateway started with (a reload
   * that changes it keeps this one). With a `connect` hook the pools are undici's whatever
   * the engine: the in-process harness speaks to its upstreams through undici's connector.
   */
  engine: Engine = 'node';

  constructor(opts: { connect?: buildConnector.connector } = {}) {
    this.#connect = opts.connect;
  }

  acquire(origin: string, opts: PoolOptions): UpstreamPool {
    const tls = opts.tls ?? null;
    const native = this.engine === 'native' && this.#connect === undefined;
    const key = `${origin}|${opts.connectTimeoutMs}|${opts.servername ?? ''}|${tls?.key ?? ''}|${native ? 'native' : 'node'}`;
    let pool = this.#pools.get(key);
    if (pool !== undefined) return pool;
    if (origin.startsWith('grpc')) {
      pool = new H2Pool(origin, { connectTimeoutMs: opts.connectTimeoutMs, tls, servername: opts.servername });
    } else if (native) {
      pool = new NativePool(origin, {
        connections: MAX_CONNECTIONS_PER_TARGET,
        connectTimeoutMs: opts.connectTimeoutMs,
        keepAliveTimeoutMs: KEEP_ALIVE_MS,
        tls: tls !== null && origin.startsWith('https:') ? tls.connect : null,
        servername: opts.servername,
      });
    } else {
      pool = createPool(origin, {
        connections: MAX_CONNECTIONS_PER_TARGET,
        pipelining: 1,
        keepAliveTimeout: KEEP_ALIVE_MS,
        connect: this.#connect ?? { timeout: opts.connectTimeoutMs, ...(opts.servername !== undefined ? { servername: opts.servername } : {}), ...(tls !== null && origin.startsWith('https:') ? tls.connect : {}) },
        // The per-request read timeout is passed with each dispatch; these are the ceilings.
        headersTimeout: 0,
        bodyTimeout: 0,
        strictContentLength: true,
      });
    }
    this.#pools.set(key, pool);
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
