// Interleaved measurement of several targets side by side (the main and chain tables): each
// round runs every target once, so a slow minute of the shared host lands on all of them.
import type { Loader, LoadResult } from './load.js';
import { sampleTreeRss, treeCpuSeconds } from './proc.js';
import { account, fmtInt, type TargetRecord } from './table.js';
import type { Running } from './targets.js';

export interface Entry {
  rec: TargetRecord;
  t: Running;
}

export interface RoundsOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  oneConnS: number;
  /** sent with every request to every target (the same request for all of them) */
  headers?: Record<string, string>;
  /**
   * `end`: one 1-connection run per target after all rounds, after a 1 s warm-up at 1 connection;
   * `each-round`: one per round right after the target's main run, the p50 then a median.
   */
  oneConn: 'end' | 'each-round';
  /** Start each round with the next target, so none always follows the idle gap or the same neighbour. */
  rotate: boolean;
  say: (line: string) => void;
}

async function measure(loader: Loader, e: Entry, connections: number, durationS: number, headers: Record<string, string> | undefined): Promise<LoadResult | null> {
  if (!e.t.alive()) {
    const n = 'process is no longer running';
    if (!e.rec.notes.includes(n)) e.rec.notes.push(n);
    return null;
  }
  const r = await loader.run({ url: e.t.url, connections, durationS, ...(headers ? { headers } : {}) });
  account(e.rec, r);
  return r;
}

/** Runs `fn` while sampling the target's resident set; keeps the highest seen in the record. */
async function sampled<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
  const stop = sampleTreeRss(e.t.pid);
  try {
    return await fn();
  } finally {
    const kb = stop();
    if (!(kb <= e.rec.rssPeakKb)) e.rec.rssPeakKb = kb;
  }
}

export async function measureRounds(loader: Loader, entries: Entry[], o: RoundsOptions): Promise<void> {
  const w = Math.max(18, ...entries.map((e) => e.rec.name.length));
  const oneConn = async (e: Entry): Promise<void> => {
    const r = await measure(loader, e, 1, o.oneConnS, o.headers);
    if (!r) return;
    e.rec.oneConn.push(r);
    o.say(`  1 conn  ${e.rec.name.padEnd(w)} p50 ${(r.p50ms * 1000).toFixed(0)} µs  (${fmtInt(r.rps)} req/s)`);
  };
  for (let round = 1; round <= o.rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[o.rotate ? (round - 1 + k) % entries.length : k] as Entry;
      await sampled(e, async () => {
        if (o.warmupS > 0) await measure(loader, e, o.connections, o.warmupS, o.headers);
        const cpu0 = treeCpuSeconds(e.t.pid);
        const r = await measure(loader, e, o.connections, o.durationS, o.headers);
        if (!r) return;
        const cpu1 = treeCpuSeconds(e.t.pid);
        const cpuUs = cpu0 !== null && cpu1 !== null && r.requests > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests : NaN;
        e.rec.cpuUs.push(cpuUs);
        e.rec.rounds.push(r);
        const errs = r.non2xx + r.socketErrors;
        o.say(`  round ${round}/${o.rounds} ${e.rec.name.padEnd(w)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps).padStart(7)} req/s  CPU ${cpuUs.toFixed(1)} µs/req  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms${errs ? `  ⚠ ${r.non2xx} non-2xx, ${r.socketErrors} socket errors` : ''}`}`);
        if (o.oneConn === 'each-round') await oneConn(e);
      });
    }
  }
  if (o.oneConn === 'end') {
    for (const e of entries) {
      await sampled(e, async () => {
        await measure(loader, e, 1, 1, o.headers);
        await oneConn(e);
      });
    }
  }
}
