// The `statsd` log sink: per request, counters and timings in the StatsD line protocol over
// UDP, packed into datagrams of at most 1432 bytes (an Ethernet MTU's payload). Metric
// names carry the service and route (`<prefix>.<service>.<route>.request.count`), or with
// `tags: dogstatsd` stay fixed and carry them as DogStatsD tags (`|#service:…,route:…,status:…`).
// A datagram is fire-and-forget: a send error drops its batch, no retry.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { RequestContext } from '../proxy/context.js';
import { DeliveryError, type SinkTransport } from './delivery-queue.js';
import type { StatsdSinkSpec } from './log-sink-config.js';

const MAX_DATAGRAM = 1432;

/** The StatsD lines of one request, newline-separated. */
export function statsdLines(spec: StatsdSinkSpec, ctx: RequestContext): string {
  const service = metricPart(ctx.route?.service.name);
  const route = metricPart(ctx.route?.name);
  const status = ctx.res.headersSent ? ctx.responseStatus : 0;
  const duration = round(ctx.finishedAt - ctx.startedAt);
  const upstream = ctx.attempt === 0 ? -1 : round(ctx.upstreamMs);
  const p = spec.prefix;
  if (spec.dogstatsd) {
    const tags = `|#service:${service},route:${route},status:${status}`;
    let text = `${p}.request.count:1|c${tags}\n${p}.request.latency:${duration}|ms${tags}\n${p}.request.size:${ctx.bytesIn}|h${tags}\n${p}.response.size:${ctx.bytesOut}|h${tags}`;
    if (upstream >= 0) text += `\n${p}.upstream.latency:${upstream}|ms${tags}`;
    return text;
  }
  const at = `${p}.${service}.${route}`;
  let text = `${at}.request.count:1|c\n${at}.status.${status}:1|c\n${at}.request.latency:${duration}|ms\n${at}.request.size:${ctx.bytesIn}|ms\n${at}.response.size:${ctx.bytesOut}|ms`;
  if (upstream >= 0) text += `\n${at}.upstream.latency:${upstream}|ms`;
  return text;
}

/** A name as one segment of a metric name and as a tag value: dots (segment separators) and colons become "_"; none: "unmatched". */
function metricPart(name: string | undefined): string {
  return name === undefined ? 'unmatched' : name.replace(/[.:|#,@\s]/g, '_');
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export class StatsdTransport implements SinkTransport<string> {
  readonly #socket: Socket;
  readonly #host: string;
  readonly #port: number;

  constructor(spec: StatsdSinkSpec) {
    this.#host = spec.host;
    this.#port = spec.port;
    this.#socket = createSocket(isIP(spec.host) === 6 ? 'udp6' : 'udp4');
    // Errors reach the send callbacks; an error event would otherwise throw.
    this.#socket.on('error', () => undefined);
    this.#socket.unref();
  }

  async send(batch: readonly string[]): Promise<void> {
    for (const packet of packets(batch)) {
      await new Promise<void>((resolve, reject) => {
        this.#socket.send(packet, this.#port, this.#host, (err) => (err ? reject(new DeliveryError(`cannot send to ${this.#host}:${this.#port}: ${err.message}`, false)) : resolve()));
      });
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }
}

/** Records packed into datagrams of at most MAX_DATAGRAM bytes, whole lines only (a longer record gets a datagram of its own). */
function packets(batch: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  let current = '';
  for (const record of batch) {
    if (current !== '' && Buffer.byteLength(current) + 1 + Buffer.byteLength(record) > MAX_DATAGRAM) {
      out.push(Buffer.from(current));
      current = '';
    }
    current = current === '' ? record : `${current}\n${record}`;
  }
  if (current !== '') out.push(Buffer.from(current));
  return out;
}
