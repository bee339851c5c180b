// Receivers of shipped logs for the log-shipping tests: a real HTTP server that records every
// POST (body gunzipped when sent with Content-Encoding: gzip, split into records by its
// Content-Type) and answers as the test decides (a status, or no answer at all); and a
// Prometheus scrape of the sinks' counters.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import parsePrometheus from 'parse-prometheus-text-format';
import { stablePort } from './ports.js';
import { http } from './servers.js';

export interface ReceivedPost {
  headers: IncomingMessage['headers'];
  /** The records of the body: one per JSON line, or the JSON array's items. */
  records: Array<Record<string, unknown>>;
  /** The body as received, before gunzip. */
  bytes: number;
}

/** What the receiver answers to the n-th POST (0-based): a status, "hang" (never answers), or a status after a delay. */
export type Answer = (n: number) => number | 'hang' | { status: number; delayMs: number };

export interface LogReceiver {
  readonly port: number;
  readonly url: string;
  /** Every POST answered with 2xx, in order. */
  readonly accepted: ReceivedPost[];
  /** POSTs seen, answered or not. */
  posts: number;
  answer: Answer;
  /** Resolves once `n` records were accepted (rejects after `timeoutMs`). */
  records(n: number, timeoutMs?: number): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
  /** Listens again on the same port (after close). */
  reopen(): Promise<void>;
}

export async function startLogReceiver(answer: Answer = () => 200, port = 0): Promise<LogReceiver> {
  const hanging = new Set<ServerResponse>();
  let server: Server;
  const receiver: LogReceiver = {
    port: 0,
    url: '',
    accepted: [],
    posts: 0,
    answer,
    async records(n, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const all = receiver.accepted.flatMap((p) => p.records);
        if (all.length >= n) return all;
        if (Date.now() > until) throw new Error(`timed out waiting for ${n} records; got ${all.length} in ${receiver.accepted.length} accepted of ${receiver.posts} POSTs`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    reopen: () => listen(receiver.port),
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = receiver.posts++;
      const a = receiver.answer(n);
      if (a === 'hang') {
        hanging.add(res);
        return;
      }
      const status = typeof a === 'number' ? a : a.status;
      if (status < 300) {
        const raw = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        const records = req.headers['content-type'] === 'application/json' ? (JSON.parse(text) as Array<Record<string, unknown>>) : text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
        receiver.accepted.push({ headers: req.headers, records, bytes: raw.length });
      }
      if (typeof a === 'number') res.writeHead(status, { 'content-length': 0 }).end();
      else setTimeout(() => res.writeHead(status, { 'content-length': 0 }).end(), a.delayMs);
    });
  };
  const listen = async (p: number): Promise<void> => {
    server = createServer(handle);
    server.listen(p, '127.0.0.1');
    await once(server, 'listening');
    const bound = (server.address() as AddressInfo).port;
    Object.assign(receiver, { port: bound, url: `http://127.0.0.1:${bound}` });
  };
  // A port below the ephemeral range: reopen() finds it free again (ports.ts).
  await listen(port === 0 ? await stablePort() : port);
  return receiver;
}

interface Family {
  name: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}

/** A sink's counters on /metrics: sent, dropped by reason, failed, retried, queued. */
export async function sinkCounts(statusPort: number, sink: string): Promise<{ sent: number; queueFull: number; rejected: number; shutdown: number; failed: number; retried: number; queued: number }> {
  const res = await http(`http://127.0.0.1:${statusPort}/metrics`);
  assert.equal(res.status, 200);
  const families = new Map((parsePrometheus(res.body) as Family[]).map((f) => [f.name, f]));
  const value = (name: string, labels: Record<string, string> = {}): number => {
    const m = families.get(name)?.metrics.find((x) => x.labels?.['sink'] === sink && Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m?.value === undefined ? 0 : Number(m.value);
  };
  return {
    sent: value('northgate_log_sink_events_sent_total'),
    queueFull: value('northgate_log_sink_events_dropped_total', { reason: 'queue_full' }),
    rejected: value('northgate_log_sink_events_dropped_total', { reason: 'rejected' }),
    shutdown: value('northgate_log_sink_events_dropped_total', { reason: 'shutdown' }),
    failed: value('northgate_log_sink_batches_failed_total'),
    retried: value('northgate_log_sink_batches_retried_total'),
    queued: value('northgate_log_sink_events_queued'),
  };
}

/** Polls `read` until `done` holds of its value (bounded), and returns that value. */
export async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, Math.min(200, 20 * (i + 1))));
  }
}
