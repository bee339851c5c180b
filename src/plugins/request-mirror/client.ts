// The mirror's connections: one undici Pool per (origin, limits), shared by every handler
// that names the same mirror and closed when the last one is released, so a reload keeps
// the warm connections (as forward-auth's). The pool has as many connections as copies may
// be in flight, so a copy never queues behind another: it is sent or dropped.
import { Pool } from 'undici';

interface Shared {
  readonly pool: Pool;
  refs: number;
}

const pools = new Map<string, Shared>();

export interface MirrorPool {
  readonly pool: Pool;
  release(): void;
}

export function acquirePool(origin: string, connections: number, timeoutMs: number): MirrorPool {
  const id = `${origin}|${connections}|${timeoutMs}`;
  let shared = pools.get(id);
  if (shared === undefined) {
    // undici's own timers back up the per-copy deadline.
    const pool = new Pool(origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs } });
    shared = { pool, refs: 0 };
    pools.set(id, shared);
  }
  shared.refs++;
  const mine = shared;
  let released = false;
  return {
    pool: mine.pool,
    release() {
      if (released) return;
      released = true;
      if (--mine.refs > 0) return;
      pools.delete(id);
      // In-flight copies finish first; nothing waits for them.
      void mine.pool.close().catch(() => undefined);
    },
  };
}
