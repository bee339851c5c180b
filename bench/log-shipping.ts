// `npm run bench -- --scenario log-shipping`: the chain route (bench/chain.ts) three ways —
// without a log sink, with an `http` sink to a live local receiver (in this process: it reads
// each batch and answers 200), and with that sink's receiver stopped (nothing listens on its
// port: every batch fails, is retried with back-off, and the full queue drops records) — so
// that what a sink costs the proxy, alive or dead, reads off one table (docs/log-shipping.md),
// then each sink row against the row without a sink in paired runs (bench/paired.ts), in
// sessions of fresh processes.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Loader } from './load.js';
import { runChain, type ChainOptions } from './chain.js';
import type { Ctx, Upstream } from './targets.js';

const sink = (port: number): string => `log_sinks: [{ name: bench, type: http, url: "http://127.0.0.1:${port}/ingest" }]`;

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

export async function runLogShipping(ctx: Ctx, loader: Loader, up: Upstream, o: ChainOptions): Promise<string[]> {
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end());
  });
  const live = await listen(receiver);
  // A port that was free a moment ago and that nothing listens on: connections are refused.
  const gone = http.createServer();
  const dead = await listen(gone);
  await new Promise((r) => gone.close(r));
  const variants = [
    { label: 'no sink', extra: '' },
    { label: 'http sink, live receiver', extra: sink(live) },
    { label: 'http sink, receiver stopped', extra: sink(dead) },
  ];
  try {
    // The rounds' ratios move by ±20% on a shared machine; paired runs of each sink against no
    // sink, both loaded at once on the same core, measure a few per cent: three sessions of
    // fresh processes, three runs each (a process's own luck moves a ratio more than the runs do).
    return await runChain({ ...ctx, northgateVariants: variants }, loader, up, { ...o, only: ['direct', 'northgate-chain'], paired: { base: 'northgate-chain (no sink)', runs: 3, sessions: 3 } });
  } finally {
    receiver.closeAllConnections();
    receiver.close();
  }
}
