// OpenTelemetry traces: a server span per gateway request and a client span per upstream
// attempt, W3C trace context read from the client and written upstream, parent-based ratio
// sampling, exported in batches over OTLP/HTTP. Off unless `tracing` is configured: then
// nothing subscribes to the core's events and it costs nothing.
//
// Spans are recorded here rather than through the OpenTelemetry SDK: at ratio 1.0 the SDK's
// per-span work (context objects, attribute sanitizing, span metrics, the OTLP transformer
// and JSON.stringify of its object tree) cost about 13% of the proxy's CPU in a profile.
// Per request this file only decides and propagates: a sampled-out request costs one
// traceparent string (its ids drawn from a pooled random buffer) and nothing at its end; a
// sampled one keeps its ids as 32-bit words in a ServerSpan and each span is written as OTLP
// protobuf or JSON bytes into the export batch at the end of the event-loop turn in which it
// ends (span-record.ts, span-export.ts).
// The client's traceparent, tracestate and User-Agent come from ctx, read with the request
// head (node's req.headers object is never built for tracing).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';
import { requestEndChannel, requestStartChannel, upstreamEndChannel, upstreamStartChannel } from '../proxy/reply.js';
import type { Logger } from '../runtime/logger.js';
import { SpanExporter, type OtlpProtocol } from './span-export.js';
import { ClientSpan, ServerSpan } from './span-record.js';
import { hexWord, idHex, idInt32, idIsZero, idUint32, parseTraceparent, poolTraceparent, ratioThreshold, takeRandom } from './trace-context.js';

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
  /** Root requests whose trace id's last 32 bits are below this are sampled (2^32: all). */
  readonly #threshold: number;
  readonly #handlers: Array<[string | symbol, (m: unknown) => void]>;

  constructor(config: TracingConfig, logger: Logger | null = null) {
    this.#exporter = new SpanExporter(config, logger);
    this.#threshold = ratioThreshold(config.ratio);
    this.#handlers = [
      [requestStartChannel.name, (m) => this.#requestStart(m as RequestContext)],
      [upstreamStartChannel.name, (m) => this.#upstreamStart(m as RequestContext)],
      [upstreamEndChannel.name, (m) => this.#upstreamEnd(m as { ctx: RequestContext; error: unknown })],
      [requestEndChannel.name, (m) => this.#requestEnd(m as RequestContext)],
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

  #requestStart(ctx: RequestContext): void {
    const parent = parseTraceparent(ctx.traceparent);
    if (parent !== null) {
      ctx.traceId = parent.traceId;
      if (parent.sampled) {
        // Ids for the server span and the first attempt's client span.
        let at = takeRandom(16);
        while (idIsZero(at, 8) || idIsZero(at + 8, 8)) at = takeRandom(16);
        const traceId = parent.traceId;
        const w = hexWord;
        ctx.trace = new ServerSpan(
          traceId, ctx.tracestate,
          w(traceId, 0), w(traceId, 8), w(traceId, 16), w(traceId, 24),
          idInt32(at), idInt32(at + 4),
          true, w(parent.spanId, 0), w(parent.spanId, 8),
          idInt32(at + 8), idInt32(at + 12), `00-${traceId}-${idHex(at + 8, 8)}-01`,
        );
      } else {
        ctx.trace = `00-${parent.traceId}-${idHex(takeNonZero(8), 8)}-00`;
      }
      return;
    }
    // A root: trace id (16 bytes), the first client span's id and the server span's (8 each).
    let at = takeRandom(32);
    while (idIsZero(at, 16) || idIsZero(at + 16, 8) || idIsZero(at + 24, 8)) at = takeRandom(32);
    const sampled = idUint32(at + 12) < this.#threshold;
    // The first attempt's traceparent: the trace id and the first client span's id.
    const traceparent = poolTraceparent(at, at + 16, sampled);
    const traceId = traceparent.slice(3, 35);
    ctx.traceId = traceId;
    if (sampled) {
      ctx.trace = new ServerSpan(
        traceId, undefined,
        idInt32(at), idInt32(at + 4), idInt32(at + 8), idInt32(at + 12),
        idInt32(at + 24), idInt32(at + 28),
        false, 0, 0,
        idInt32(at + 16), idInt32(at + 20), traceparent,
      );
    } else {
      ctx.trace = traceparent;
    }
  }

  #upstreamStart(ctx: RequestContext): void {
    const trace = ctx.trace as TraceState;
    if (trace === null) return;
    // The upstream sees this attempt's span as its parent (replacing the client's traceparent;
    // the client's tracestate passes through with the other headers).
    if (typeof trace === 'string') {
      // A retry gets a span id of its own.
      const header = ctx.attempt <= 1 ? trace : `00-${ctx.traceId}-${idHex(takeNonZero(8), 8)}-00`;
      ctx.upstreamHeaders.set('traceparent', header);
      return;
    }
    let header = trace.firstTraceparent;
    if (header !== '') {
      trace.firstTraceparent = '';
    } else {
      const at = takeNonZero(8);
      trace.c0 = idInt32(at);
      trace.c1 = idInt32(at + 4);
      header = `00-${trace.traceId}-${idHex(at, 8)}-01`;
    }
    ctx.upstreamHeaders.set('traceparent', header);
  }

  #upstreamEnd({ ctx, error }: { ctx: RequestContext; error: unknown }): void {
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
      new ClientSpan(trace, ctx.method, ctx.target!, ctx.route!.service.upstream.name, ctx.upstreamPath, ctx.attempt - 1, status, errorType, ctx.upstreamStartedAt, performance.now()),
    );
  }

  #requestEnd(ctx: RequestContext): void {
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

/** Offset of `bytes` random non-zero bytes in the id pool. */
function takeNonZero(bytes: number): number {
  let at = takeRandom(bytes);
  while (idIsZero(at, bytes)) at = takeRandom(bytes);
  return at;
}
