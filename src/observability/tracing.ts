// OpenTelemetry traces: a server span per gateway request and a client span per upstream
// attempt, W3C trace context read from the client and written upstream, parent-based ratio
// sampling, exported in batches over OTLP/HTTP. Off unless `tracing` is configured: then
// nothing subscribes to the core's events and it costs nothing.
//
// Spans are recorded here rather than through the OpenTelemetry SDK: at ratio 1.0 the SDK's
// per-span work (context objects, attribute sanitizing, span metrics, the OTLP transformer
// and JSON.stringify of its object tree) cost about 13% of the proxy's CPU in a profile.
// Per request this file only decides and propagates: a new root's ids, sampling decision
// and traceparent were drawn ahead 64 at a time (RootContexts), so a sampled-out request
// costs a slice of a string and the header, and nothing at its end; a
// sampled one keeps its ids as 32-bit words in a ServerSpan and each span is written as OTLP
// protobuf or JSON bytes into the export batch at the end of the event-loop turn in which it
// ends (span-record.ts, span-export.ts).
// The client's traceparent, tracestate and User-Agent come from ctx, read with the request
// head (node's req.headers object is never built for tracing).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import { requestEndChannel, requestStartChannel, upstreamEndChannel, upstreamStartChannel } from '../base/events.js';
import type { Logger } from '../base/logger.js';
import { SpanExporter, type OtlpProtocol } from './span-export.js';
import { ClientSpan, ServerSpan } from './span-record.js';
import { hexTraceparent, hexWord, parseTraceparent, ratioThreshold, RootContexts, takeSpanId, words, wordsTraceparent } from './trace-context.js';

/** What tracing reads of a snapshot (the compiler's Snapshot extends it). */
export interface TracingSnapshot extends ProxySnapshot {
  /** Query text with the values of credential parameters (key-auth key names, access_token) [redacted]. */
  readonly redactQuery?: (text: string | undefined) => string | undefined;
}

type TracedRequest = RequestContext<TracingSnapshot>;

export interface TracingConfig {
  readonly endpoint: string;
  readonly protocol: OtlpProtocol;
  readonly serviceName: string;
  readonly ratio: number;
  readonly headers: Record<string, string>;
  readonly flushIntervalMs: number;
}

/**
 * ctx.trace is null (tracing off), a ServerSpan (sampled), or for a sampled-out request the
 * `traceparent` its upstream attempts send (flag 00: the upstream's parent-based samplers
 * follow the decision; the id is a fresh span id per W3C, though no span is recorded).
 */
type TraceState = ServerSpan | string | null;

export class Tracing {
  readonly #exporter: SpanExporter;
  /** New root trace contexts (ids, sampling decision and traceparent), drawn ahead. */
  readonly #roots: RootContexts;
  readonly #handlers: Array<[string | symbol, (m: unknown) => void]>;

  constructor(config: TracingConfig, logger: Logger | null = null) {
    this.#exporter = new SpanExporter(config, logger);
    this.#roots = new RootContexts(ratioThreshold(config.ratio));
    this.#handlers = [
      [requestStartChannel.name, (m) => this.#requestStart(m as TracedRequest)],
      [upstreamStartChannel.name, (m) => this.#upstreamStart(m as TracedRequest)],
      [upstreamEndChannel.name, (m) => this.#upstreamEnd(m as { ctx: TracedRequest; error: unknown })],
      [requestEndChannel.name, (m) => this.#requestEnd(m as TracedRequest)],
    ];
    for (const [name, fn] of this.#handlers) subscribe(name, fn);
  }

  get exporter(): SpanExporter {
    return this.#exporter;
  }

  /** Stops listening and exports what is queued. */
  async shutdown(): Promise<void> {
    for (const [name, fn] of this.#handlers) unsubscribe(name, fn);
    await this.#exporter.shutdown();
  }

  #requestStart(ctx: TracedRequest): void {
    const w = words;
    const parent = parseTraceparent(ctx.traceparent);
    if (parent !== null) {
      ctx.traceId = parent.traceId;
      // The first upstream attempt's span id (its words read before the next take, which may
      // refill the pool), and for a sampled request the server span's.
      const c = takeSpanId();
      const c0 = w[c]!;
      const c1 = w[c + 1]!;
      if (parent.sampled) {
        const traceId = parent.traceId;
        const s = takeSpanId();
        const t0 = hexWord(traceId, 0);
        const t1 = hexWord(traceId, 8);
        const t2 = hexWord(traceId, 16);
        const t3 = hexWord(traceId, 24);
        ctx.trace = new ServerSpan(
          traceId, ctx.tracestate, t0, t1, t2, t3, w[s]!, w[s + 1]!,
          true, hexWord(parent.spanId, 0), hexWord(parent.spanId, 8),
          c0, c1, wordsTraceparent(t0, t1, t2, t3, c0, c1, true),
        );
      } else {
        ctx.trace = hexTraceparent(parent.traceId, c0, c1, false);
      }
      return;
    }
    // A root: its ids, sampling decision and first traceparent were drawn ahead (RootContexts).
    const roots = this.#roots;
    const i = roots.take();
    const r = roots.words;
    const at = 8 * i;
    const traceparent = roots.traceparent(i);
    const traceId = traceparent.slice(3, 35);
    ctx.traceId = traceId;
    ctx.trace = roots.sampled(i) ? new ServerSpan(traceId, undefined, r[at]!, r[at + 1]!, r[at + 2]!, r[at + 3]!, r[at + 4]!, r[at + 5]!, false, 0, 0, r[at + 6]!, r[at + 7]!, traceparent) : traceparent;
  }

  #upstreamStart(ctx: TracedRequest): void {
    const trace = ctx.trace as TraceState;
    if (trace === null) return;
    // The upstream sees this attempt's span as its parent (replacing the client's traceparent;
    // the client's tracestate passes through with the other headers).
    if (typeof trace === 'string') {
      // A retry gets a span id of its own.
      let header = trace;
      if (ctx.attempt > 1) {
        const c = takeSpanId();
        header = hexTraceparent(ctx.traceId, words[c]!, words[c + 1]!, false);
      }
      ctx.upstreamHeaders.setLowerCase('traceparent', header);
      return;
    }
    let header = trace.firstTraceparent;
    if (header !== '') {
      trace.firstTraceparent = '';
    } else {
      const c = takeSpanId();
      trace.c0 = words[c]!;
      trace.c1 = words[c + 1]!;
      header = wordsTraceparent(trace.t0, trace.t1, trace.t2, trace.t3, trace.c0, trace.c1, true);
    }
    ctx.upstreamHeaders.setLowerCase('traceparent', header);
  }

  #upstreamEnd({ ctx, error }: { ctx: TracedRequest; error: unknown }): void {
    const trace = ctx.trace as TraceState;
    if (trace === null || typeof trace === 'string') return;
    let status = 0;
    let errorType: string | null = null;
    if (error !== null) {
      const code = (error as { code?: unknown }).code;
      errorType = typeof code === 'string' ? code : 'error';
    } else if (ctx.upstreamRespondedAt !== 0) {
      status = ctx.responseStatus;
      if (status >= 500) errorType = String(status);
    }
    this.#exporter.add(
      new ClientSpan(trace, ctx.method, ctx.target!, ctx.route!.service.upstream.name, redactedPath(ctx), ctx.attempt - 1, status, errorType, ctx.upstreamStartedAt, performance.now()),
    );
  }

  #requestEnd(ctx: TracedRequest): void {
    const span = ctx.trace as TraceState;
    if (span === null || typeof span === 'string') return;
    const status = ctx.res.headersSent ? ctx.responseStatus : 0;
    span.method = ctx.method;
    span.path = ctx.path;
    span.scheme = ctx.listener.protocol;
    span.host = ctx.host;
    span.clientIp = ctx.clientIp;
    span.peer = ctx.peerAddress;
    span.httpVersion = ctx.req.httpVersion;
    span.userAgent = ctx.userAgent;
    // HTTP/1 only: an HTTP/2 request's socket is a proxy object of its own stream, never reused.
    span.connection = ctx.req.httpVersionMajor === 1 ? ctx.req.socket : null;
    span.entry = ctx.route === null ? null : ctx.entry;
    span.consumer = ctx.consumer === null ? null : ctx.consumer.username;
    span.status = status;
    span.errorType = ctx.errorCode !== null ? ctx.errorCode : status >= 500 ? String(status) : null;
    span.start = ctx.startedAt;
    span.end = ctx.finishedAt;
    this.#exporter.add(span);
  }
}

/** The upstream path for url.full, the values of credential query parameters [redacted] (a key kept by hide_credentials: false, an access_token). */
function redactedPath(ctx: TracedRequest): string {
  const path = ctx.upstreamPath;
  const q = path.indexOf('?');
  const redact = ctx.snapshot.redactQuery;
  if (q === -1 || redact === undefined) return path;
  return path.slice(0, q + 1) + redact(path.slice(q + 1))!;
}
