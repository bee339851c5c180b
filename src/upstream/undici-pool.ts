// undici's Pool without the rest of undici. Its index also loads fetch, WebSocket,
// EventSource, the cache and mock layers and their dependencies (110 modules, ~9 MB of RSS
// and ~75 ms at start-up) that the gateway never uses; the Pool module alone is 22. undici
// is pinned in package.json, and test/unit/undici-pool.test.ts checks that this is the very
// class `undici` exports.
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;
