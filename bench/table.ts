// Medians, ratios and the markdown table.
import type { LoadResult } from './load.js';

export interface TargetRecord {
  name: string;
  /** reason when the target was skipped */
  skipped?: string;
  rounds: LoadResult[];
  /** the 1-connection runs (one per round, or one after all rounds) */
  oneConn: LoadResult[];
  /** responses, non-2xx and socket errors over every run, warm-ups included */
  requests: number;
  non2xx: number;
  socketErrors: number;
  /** socket error breakdowns seen (wrk: connect/read/write/timeout) */
  socketDetails: string[];
  /** load-generator failures / target deaths, shown under the table */
  notes: string[];
  /** CPU µs per request of the target's process tree, per measured round (NaN when unknown) */
  cpuUs: number[];
  /** highest resident set of the target's process tree sampled while load ran on it (kB; NaN when unknown) */
  rssPeakKb: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function newRecord(name: string): TargetRecord {
  return { name, rounds: [], oneConn: [], requests: 0, non2xx: 0, socketErrors: 0, socketDetails: [], notes: [], cpuUs: [], rssPeakKb: NaN };
}

export function account(rec: TargetRecord, r: LoadResult): void {
  rec.requests += r.requests;
  rec.non2xx += r.non2xx;
  rec.socketErrors += r.socketErrors;
  if (r.failure) rec.notes.push(r.failure);
  if (r.socketErrors && r.socketDetail) rec.socketDetails.push(r.socketDetail);
}

const ok = (r: LoadResult): boolean => !r.failure && r.requests > 0;

export interface Summary {
  name: string;
  skipped?: string;
  rps: number;
  p50: number;
  p99: number;
  /** p50 at 1 connection, ms (median over the 1-connection runs) */
  p50c1: number;
}

export function summarize(rec: TargetRecord): Summary {
  const good = rec.rounds.filter(ok);
  const base = { name: rec.name, rps: NaN, p50: NaN, p99: NaN, p50c1: NaN };
  if (rec.skipped) return { ...base, skipped: rec.skipped };
  return {
    ...base,
    rps: median(good.map((r) => r.rps)),
    p50: median(good.map((r) => r.p50ms)),
    p99: median(good.map((r) => r.p99ms)),
    p50c1: median(rec.oneConn.filter(ok).map((r) => r.p50ms)),
  };
}

const fin = Number.isFinite;
export const fmtInt = (n: number): string => (fin(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fmt = (n: number, d: number): string => (fin(n) ? n.toFixed(d) : '–');
const signed = (n: number): string => (fin(n) ? `${n >= 0 ? '+' : '−'}${Math.abs(Math.round(n))}` : '–');

export function markdownTable(recs: TargetRecord[]): string {
  const sums = recs.map(summarize);
  const by = (n: string): Summary | undefined => sums.find((s) => s.name === n && !s.skipped);
  const floor = by('node-floor');
  const nginx = by('nginx');
  const direct = by('direct');
  const added = (s: Summary): number => (direct ? (s.p50c1 - direct.p50c1) * 1000 : NaN);
  const floorAdded = floor ? added(floor) : NaN;
  const nginxAdded = nginx ? added(nginx) : NaN;
  const head =
    '| target | req/s (median of rounds) | CPU µs/req | p50 ms | p99 ms | × node-floor | × nginx | added latency at 1 conn (µs) | vs node-floor added (µs) | vs nginx added (µs) | peak RSS under load (MB) | errors: non-2xx / socket |';
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const rows = recs.map((rec, i) => {
    const s = sums[i] as Summary;
    if (s.skipped) return `| ${s.name} | skipped: ${s.skipped.replace(/\|/g, '/')} | | | | | | | | | | |`;
    const errs = rec.non2xx + rec.socketErrors;
    const name = errs > 0 || rec.notes.length ? `${s.name} ⚠` : s.name;
    const a = added(s);
    return [
      name,
      fmtInt(s.rps),
      s.name === 'direct' ? '–' : fmt(median(rec.cpuUs.filter(fin)), 1),
      fmt(s.p50, 2),
      fmt(s.p99, 2),
      floor ? fmt(s.rps / floor.rps, 2) : '–',
      nginx ? fmt(s.rps / nginx.rps, 2) : '–',
      s.name === 'direct' ? '0 (baseline)' : fmtInt(a),
      s.name === 'direct' ? '–' : signed(a - floorAdded),
      s.name === 'direct' ? '–' : signed(a - nginxAdded),
      s.name === 'direct' ? '–' : fmt(rec.rssPeakKb / 1024, 1),
      `${fmtInt(rec.non2xx)} / ${fmtInt(rec.socketErrors)}`,
    ].join(' | ').replace(/^/, '| ').replace(/$/, ' |');
  });
  return [head, sep, ...rows].join('\n');
}

/** Per-round req/s and problems, printed under the table. */
export function details(recs: TargetRecord[]): string[] {
  const out: string[] = [];
  const per = recs
    .filter((r) => !r.skipped && r.rounds.length)
    .map((r) => `${r.name} ${r.rounds.map((x) => (x.failure ? 'fail' : fmtInt(x.rps))).join(' / ')}`);
  if (per.length) out.push(`Per-round req/s: ${per.join('; ')}.`);
  for (const r of recs) {
    if (r.skipped) continue;
    const errs = r.non2xx + r.socketErrors;
    if (errs > 0) {
      const d = r.socketDetails.length ? ` (per run: ${r.socketDetails.slice(0, 4).join('; ')})` : '';
      out.push(`⚠ ${r.name}: ${r.non2xx} non-2xx responses and ${r.socketErrors} socket errors over all its runs${d}.`);
    }
    for (const n of [...new Set(r.notes)].slice(0, 3)) out.push(`⚠ ${r.name}: ${n}`);
  }
  return out;
}
