// undici's Pool without the rest of undici. Its index also loads fetch, WebSocket,
// EventSource, the cache and mock layers and their dependencies (110 modules, ~9 MB of RSS
// and ~75 ms at start-up) that the gateway never uses; the Pool module alone is 22. undici
// is pinned in package.json, and test/unit/undici-pool.test.ts checks that this is the very
// class `undici` exports.
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;

/**
 * undici's `request()` API. undici's index installs it (with stream, pipeline, connect and
 * upgrade) on every dispatcher's prototype; a Pool loaded alone has none of them, so callers
 * that want a request with a body stream (the active health checks) take it from here.
 */
const apiRequest = require('undici/lib/api/api-request.js') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

export function requestOn(dispatcher: Dispatcher, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return apiRequest.call(dispatcher, opts);
}

/** For the unit test: the function that undici's index installs as `Dispatcher.prototype.request`. */
export const undiciRequestApi: unknown = apiRequest;
