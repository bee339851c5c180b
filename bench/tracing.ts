// `npm run bench -- --scenario tracing`: what OpenTelemetry tracing costs. Three northgate
// processes with the bench config (access log on), measured in interleaved rounds:
// without a `tracing` section (nothing subscribes: the off path), with tracing configured
// but every trace sampled out (ratio 0), and at ratio 1.0 exporting every span over OTLP/HTTP
// (PROTOCOL: protobuf, the default) to a local sink that reads and discards (counting spans, so
// drops would show). Besides
// req/s, the CPU time the gateway process used per request (from /proc) — steadier than
// req/s on a shared machine.
import { treeCpuSeconds } from './proc.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Loader, LoadResult } from './load.js';
import { fmtInt, median } from './table.js';

/** The q-quantile of xs (linear between the two nearest ranks); NaN when empty. */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (at - lo);
}
import { baselineRoot, benchNorthgateConfig, northgateMissing, startNorthgate, type Ctx, type NorthgateProc, type Upstream } from './targets.js';

export interface TracingOptions {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  say: (line: string) => void;
}

/** The OTLP/HTTP encoding the traced configs export with (tracing.protocol). */
const PROTOCOL = 'http/protobuf';
const TITLE = `### Tracing cost (northgate, 1 process, access log on, OTLP ${PROTOCOL})`;

/** An OTLP/HTTP receiver that reads each export, counts its spans and answers 200. */
async function startSink(): Promise<{ server: Server; url: string; spans: () => number; exports: () => number }> {
  let spans = 0;
  let exports = 0;
  // The sink shares the load generator's core, so it counts cheaply to keep its own cost out of
  // the gateway's figures: protobuf by a walk over the few tags above the spans, JSON by
  // `"spanId"` keys in the raw bytes (native memmem, no string per chunk).
  const key = Buffer.from('"spanId"');
  const server = createServer((req, res) => {
    if (req.headers['content-type'] === 'application/x-protobuf') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        spans += countProtobufSpans(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        exports++;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
      return;
    }
    let tail: Buffer | null = null;
    req.on('data', (chunk: Buffer) => {
      // Across a chunk border: the last 7 bytes of the previous chunk and the first 7 of this one.
      if (tail !== null) {
        const border = Buffer.concat([tail, chunk.subarray(0, key.length - 1)]);
        if (border.indexOf(key) !== -1) spans++;
      }
      for (let i = chunk.indexOf(key); i !== -1; i = chunk.indexOf(key, i + key.length)) spans++;
      tail = chunk.subarray(Math.max(0, chunk.length - (key.length - 1)));
    });
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}/v1/traces`, spans: () => spans, exports: () => exports };
}

/**
 * Spans in an ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2),
 * counted without decoding them (a wire walk that skips every other field).
 */
function countProtobufSpans(body: Buffer): number {
  let count = 0;
  /** Calls `fn(start, end)` for each length-delimited field `field` in [from, to). */
  const each = (from: number, to: number, field: number, fn: (start: number, end: number) => void): void => {
    let p = from;
    const varint = (): number => {
      let v = 0;
      let shift = 1;
      for (;;) {
        const b = body[p++]!;
        v += (b & 127) * shift;
        if (b < 128) return v;
        shift *= 128;
      }
    };
    while (p < to) {
      const tag = varint();
      const type = tag & 7;
      if (type === 0) varint();
      else if (type === 1) p += 8;
      else if (type === 5) p += 4;
      else if (type === 2) {
        const len = varint();
        if (tag >>> 3 === field) fn(p, p + len);
        p += len;
      } else throw new Error(`unexpected wire type ${type}`);
    }
  };
  each(0, body.length, 1, (rs, rsEnd) => each(rs, rsEnd, 2, (ss, ssEnd) => each(ss, ssEnd, 2, () => count++)));
  return count;
}

/** Seconds each process runs under load before round 1: five warm-ups, at least 10 s (none when warm-ups are off). */
function settleSeconds(warmupS: number): number {
  return warmupS > 0 ? Math.max(10, 5 * warmupS) : 0;
}

interface Case {
  name: string;
  tracing: string;
  /** The checkout the process runs from (BENCH_BASELINE for the baseline rows), else the repo. */
  root?: string;
  ng: NorthgateProc | null;
  runs: LoadResult[];
  cpuUsPerRequest: number[];
}

export async function runTracing(ctx: Ctx, loader: Loader, up: Upstream, o: TracingOptions): Promise<string[]> {
  const missing = northgateMissing(ctx.repoRoot);
  if (missing) return [TITLE, '', `Skipped: ${missing}.`];
  const sink = await startSink();
  const cases: Case[] = [
    { name: 'no tracing section (off)', tracing: '', ng: null, runs: [], cpuUsPerRequest: [] },
    { name: 'tracing, ratio 0 (sampled out)', tracing: `tracing: { endpoint: "${sink.url}", protocol: ${PROTOCOL}, sampling: { ratio: 0 } }\n`, ng: null, runs: [], cpuUsPerRequest: [] },
    { name: 'tracing, ratio 1.0 → OTLP sink', tracing: `tracing: { endpoint: "${sink.url}", protocol: ${PROTOCOL}, sampling: { ratio: 1 } }\n`, ng: null, runs: [], cpuUsPerRequest: [] },
  ];
  // With BENCH_BASELINE, the baseline checkout runs the off and ratio 1.0 configs beside them,
  // so a change's cost on both paths is read from one run.
  const base = baselineRoot();
  if (base !== null && northgateMissing(base) === null) {
    cases.push({ ...cases[0]!, name: 'baseline: off', root: base, runs: [], cpuUsPerRequest: [] });
    cases.push({ ...cases[2]!, name: 'baseline: ratio 1.0 → OTLP sink', root: base, runs: [], cpuUsPerRequest: [] });
  }
  let requestsTraced = 0;
  try {
    for (const [i, c] of cases.entries()) {
      const ng = await startNorthgate(ctx, `northgate-tracing-${i}`, (p, s) => benchNorthgateConfig(p, s, up.port) + c.tracing, 'ignore', 15_000, c.root ?? ctx.repoRoot);
      if (typeof ng === 'string') return [TITLE, '', `Skipped: northgate (${c.name}) ${ng}.`];
      c.ng = ng;
    }
    o.say('\ntracing scenario: the same northgate config without tracing, sampled out, and exporting every span');
    // Each process first runs under load until V8 has optimized its hot code: at full load a
    // fresh gateway takes about 5 s to settle, longer with tracing's code to optimize as well
    // (measured: a traced process's first 10 s run after a 2 s warm-up used ~20% more CPU per
    // request than its later rounds), and a round-1 figure from a half-compiled process is not
    // the steady cost the scenario compares.
    const settleS = settleSeconds(o.warmupS);
    if (settleS > 0) {
      o.say(`  settling each process for ${settleS} s under load (not counted)`);
      for (const c of cases) {
        const w = await loader.run({ url: `http://127.0.0.1:${c.ng!.port}/`, connections: o.connections, durationS: settleS });
        if (c.tracing.includes('ratio: 1')) requestsTraced += w.requests;
      }
    }
    for (let round = 1; round <= o.rounds; round++) {
      // Each round starts with another config (off, r0, r1; r0, r1, off; …): none always runs
      // right after the idle gap or right before another's.
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(round - 1 + k) % cases.length]!;
        const url = `http://127.0.0.1:${c.ng!.port}/`;
        if (o.warmupS > 0) {
          const w = await loader.run({ url, connections: o.connections, durationS: o.warmupS });
          if (c.tracing.includes('ratio: 1')) requestsTraced += w.requests;
        }
        const pid = c.ng!.child.cp.pid;
        const cpu0 = treeCpuSeconds(pid);
        const r = await loader.run({ url, connections: o.connections, durationS: o.durationS });
        const cpu1 = treeCpuSeconds(pid);
        c.runs.push(r);
        if (c.tracing.includes('ratio: 1')) requestsTraced += r.requests;
        const cpuUs = cpu0 !== null && cpu1 !== null && r.requests > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests : NaN;
        c.cpuUsPerRequest.push(cpuUs);
        o.say(`  round ${round}/${o.rounds} ${c.name.padEnd(32)} ${r.failure ? `FAILED: ${r.failure}` : `${fmtInt(r.rps)} req/s  CPU ${cpuUs.toFixed(1)} µs/req  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.non2xx}/${r.socketErrors}`}`);
      }
    }
  } finally {
    for (const c of cases) await c.ng?.child.stop();
    sink.server.close();
  }
  const out = [
    TITLE,
    '',
    '| config | req/s | × off (paired) | middle half of the rounds | CPU µs/request | CPU × off (paired) | p50 ms | p99 ms | errors: non-2xx / socket |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const good = (c: Case) => c.runs.filter((r) => !r.failure && r.requests > 0);
  const off = cases[0]!;
  // The host's speed drifts by more than the difference measured here (the same config's CPU
  // per request moved by ±15% within a run): each config is compared with `off` of the same
  // round, a few seconds apart, and the median of those per-round ratios is reported, with
  // the quartiles of the rps ratio to show how far the rounds spread.
  const paired = (c: Case, of: (c: Case, i: number) => number) => {
    const xs: number[] = [];
    for (let i = 0; i < o.rounds; i++) {
      const r = of(c, i) / of(off, i);
      if (Number.isFinite(r)) xs.push(r);
    }
    return xs;
  };
  const rpsAt = (c: Case, i: number) => (c.runs[i] && !c.runs[i]!.failure && c.runs[i]!.requests > 0 ? c.runs[i]!.rps : NaN);
  const cpuAt = (c: Case, i: number) => c.cpuUsPerRequest[i] ?? NaN;
  for (const c of cases) {
    const errors = `${c.runs.reduce((a, r) => a + r.non2xx, 0)} / ${c.runs.reduce((a, r) => a + r.socketErrors, 0)}`;
    const rpsRatios = paired(c, rpsAt);
    out.push(
      `| ${c.name} | ${fmtInt(median(good(c).map((r) => r.rps)))} | ${median(rpsRatios).toFixed(3)} | ${quantile(rpsRatios, 0.25).toFixed(3)}–${quantile(rpsRatios, 0.75).toFixed(3)} | ${median(c.cpuUsPerRequest.filter(Number.isFinite)).toFixed(1)} | ${median(paired(c, cpuAt)).toFixed(3)} | ${median(good(c).map((r) => r.p50ms)).toFixed(2)} | ${median(good(c).map((r) => r.p99ms)).toFixed(2)} | ${errors} |`,
    );
  }
  out.push(
    '',
    `${loader.describe(o.connections)}, ${o.rounds} interleaved round(s) × ${o.durationS} s per config, each after a ${o.warmupS} s warm-up, the order rotated each round; before round 1 every process ran ${settleSeconds(o.warmupS)} s under load (JIT settling, not counted). req/s, CPU µs/request, p50 and p99: medians over rounds; × off (paired): the median over rounds of the config's figure divided by off's in the same round, and the middle half: the 25th–75th percentile of those req/s ratios. CPU µs/request: user+system time of the gateway process over the measured run divided by its requests (warm-ups excluded). Spans are exported as OTLP ${PROTOCOL}. The sink received ${fmtInt(sink.spans())} spans in ${fmtInt(sink.exports())} exports for the ${fmtInt(requestsTraced)} requests (warm-ups included) sent at ratio 1.0 (2 spans per request: server + client)${base !== null ? `; baseline rows: the checkout at ${base}` : ''}.`,
  );
  return out;
}
