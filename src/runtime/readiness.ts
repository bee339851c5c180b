// Start-up readiness of the stores the config's plugins decide with (a rate limit's Redis, a
// quota's PostgreSQL): waited for, bounded, never fatal.
import type { Logger } from '../base/logger.js';
import type { Snapshot } from '../compiler/snapshot.js';

/** How long readiness waits at start for the stores of the config's plugins. */
export const STORE_WAIT_MS = 5000;

/**
 * Resolves once every store of the snapshot's plugins answers, or after `maxWaitMs`, then with
 * a warning naming those that did not: the node is ready anyway, and their plugins'
 * on_store_error applies until they answer. Never rejects.
 */
export async function storesReady(snapshot: Snapshot, logger: Logger, maxWaitMs = STORE_WAIT_MS): Promise<void> {
  const stores = snapshot.stores;
  if (stores.length === 0) return;
  const started = performance.now();
  const abort = new AbortController();
  const outstanding = new Set(stores);
  const all = Promise.all(stores.map((s) => s.wait(abort.signal).then(() => void outstanding.delete(s), () => undefined)));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
  clearTimeout(timer);
  abort.abort();
  if (outstanding.size === 0) return;
  const names = [...new Set([...outstanding].map((s) => s.store))];
  logger.warn(
    { type: 'readiness', stores: names, waited_ms: Math.round(performance.now() - started) },
    `ready without ${names.join(', ')}: no answer within ${maxWaitMs / 1000} s; the plugins using it apply on_store_error until it answers`,
  );
}
