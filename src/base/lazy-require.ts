// Packages that only some configs use (Redis, SQLite, the YAML parsers) are loaded the
// first time a config needs them, not at start-up: ioredis alone is ~50 modules and ~10 MB
// of RSS that a gateway without Redis never touches. require() keeps the call sites
// synchronous (a snapshot is compiled synchronously); every package named here is CommonJS.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter that loads `id` on its first call and returns the same module after. */
export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= require(id) as T);
}
