// The pool of http(s):// targets under `engine: native`: Northgate's HTTP/1.1 client
// (src/http1/client-pool.ts) for every exchange but one kind. An upgrade request (the
// WebSocket handshake of src/proxy/websocket.ts) ends in a tunnel over the raw socket, which
// the engine's client does not hand over: those go to an undici Pool to the same origin,
// opened on the first upgrade, so a route without WebSockets never has one.
import { H1Pool, type H1DispatchOptions, type H1Handler, type H1PoolOptions } from '../http1/client-pool.js';
import { createPool, type Pool } from './undici-pool.js';
import type { Dispatcher } from 'undici';

export class NativePool extends H1Pool {
  readonly #origin: string;
  readonly #opts: H1PoolOptions;
  #upgrades: Pool | null = null;

  constructor(origin: string, opts: H1PoolOptions) {
    super(origin, opts);
    this.#origin = origin;
    this.#opts = opts;
  }

  override dispatch(opts: H1DispatchOptions, handler: H1Handler): boolean {
    if ((opts as { upgrade?: unknown }).upgrade == null) return super.dispatch(opts, handler);
    return this.#upgradePool().dispatch(opts as unknown as Dispatcher.DispatchOptions, handler as Dispatcher.DispatchHandler);
  }

  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#upgrades?.close()]);
  }

  override async destroy(err?: Error): Promise<void> {
    await Promise.all([super.destroy(err), this.#upgrades?.destroy(err ?? null)]);
  }

  #upgradePool(): Pool {
    const o = this.#opts;
    return (this.#upgrades ??= createPool(this.#origin, {
      connections: o.connections ?? null,
      connect: { timeout: o.connectTimeoutMs ?? 10_000, ...(o.servername !== undefined ? { servername: o.servername } : {}), ...(o.tls ?? {}) },
      headersTimeout: 0,
      bodyTimeout: 0,
    }));
  }
}
