// undici's Pool without the rest of undici. Its index also loads fetch, WebSocket,
// EventSource, the cache and mock layers and their dependencies (110 modules, ~9 MB of RSS
// and ~75 ms at start-up) that the gateway never uses; the Pool module alone is 22, and it
// loads on the first pool made: a gateway on the native engine makes one only for a
// WebSocket upgrade, an `engine: node` route, a trace exporter or a usage push. undici is
// pinned in package.json, and test/unit/undici-pool.test.ts checks that this is the very
// class `undici` exports.
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export type Pool = UndiciPool;

let poolClass: typeof UndiciPool | undefined;

/** undici's Pool class (loaded on the first call). */
export function undiciPool(): typeof UndiciPool {
  return (poolClass ??= require('undici/lib/dispatcher/pool.js') as typeof UndiciPool);
}

export function createPool(origin: string, opts?: UndiciPool.Options): Pool {
  return new (undiciPool())(origin, opts);
}

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
let apiRequest: RequestApi | undefined;

/**
 * undici's `request()` API. undici's index installs it (with stream, pipeline, connect and
 * upgrade) on every dispatcher's prototype; a Pool loaded alone has none of them, so callers
 * that want a request with a body stream (the active health checks) take it from here.
 */
export function undiciRequestApi(): RequestApi {
  return (apiRequest ??= require('undici/lib/api/api-request.js') as RequestApi);
}

export function requestOn(dispatcher: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return undiciRequestApi().call(dispatcher, opts);
}
