// OpenTelemetry traces: a server span per gateway request and a client span per upstream
// attempt, W3C trace context extracted from the client and injected upstream, exported in
// batches over OTLP/HTTP (JSON) with parent-based ratio sampling. Off unless `tracing` is
// configured: then nothing subscribes to the core's events and it costs nothing.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { RequestContext } from '../proxy/context.js';
import { requestEndChannel, requestStartChannel, upstreamEndChannel, upstreamStartChannel } from '../proxy/reply.js';

export interface TracingConfig {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly ratio: number;
  readonly headers: Record<string, string>;
  readonly flushIntervalMs: number;
}

const kServer = Symbol('northgate.trace.server');
const kClient = Symbol('northgate.trace.client');

const fromRequest: TextMapGetter<RequestContext> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (ctx, key) => ctx.header(key),
};
const toUpstream: TextMapSetter<RequestContext> = {
  set: (ctx, key, value) => ctx.upstreamHeaders.set(key, value),
};

export class Tracing {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();
  readonly #handlers: Array<[string | symbol, (m: unknown) => void]>;

  constructor(config: TracingConfig) {
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.ratio) }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint, headers: config.headers, timeoutMillis: 10_000 }), {
          scheduledDelayMillis: config.flushIntervalMs,
          maxQueueSize: 4096,
          maxExportBatchSize: 512,
        }),
      ],
    });
    this.#tracer = this.#provider.getTracer('northgate');
    this.#handlers = [
      [requestStartChannel.name, (m) => this.#requestStart(m as RequestContext)],
      [upstreamStartChannel.name, (m) => this.#upstreamStart(m as RequestContext)],
      [upstreamEndChannel.name, (m) => this.#upstreamEnd(m as { ctx: RequestContext; error: unknown })],
      [requestEndChannel.name, (m) => this.#requestEnd(m as RequestContext)],
    ];
    for (const [name, fn] of this.#handlers) subscribe(name, fn);
  }

  /** Stops listening and exports what is queued. */
  async shutdown(): Promise<void> {
    for (const [name, fn] of this.#handlers) unsubscribe(name, fn);
    await this.#provider.shutdown();
  }

  #requestStart(ctx: RequestContext): void {
    const parent = this.#propagator.extract(ROOT_CONTEXT, ctx, fromRequest);
    const span = this.#tracer.startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': ctx.method,
          'url.path': ctx.path,
          'url.scheme': ctx.listener.protocol,
          'server.address': ctx.host,
          'client.address': ctx.clientIp,
          'network.peer.address': ctx.peerAddress,
        },
      },
      parent,
    );
    ctx.locals.set(kServer, span);
    ctx.traceId = span.spanContext().traceId;
  }

  #upstreamStart(ctx: RequestContext): void {
    const server = ctx.locals.get(kServer) as Span | undefined;
    if (server === undefined) return;
    const target = ctx.target!;
    const client = this.#tracer.startSpan(
      ctx.method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': ctx.method,
          'server.address': target.hostname,
          'server.port': target.port,
          'url.full': target.origin + ctx.upstreamPath,
          'northgate.upstream': ctx.route!.service.upstream.name,
        },
      },
      trace.setSpan(ROOT_CONTEXT, server),
    );
    // Semantic conventions: resends (retries) are numbered from 1.
    if (ctx.attempt > 1) client.setAttribute('http.request.resend_count', ctx.attempt - 1);
    ctx.locals.set(kClient, client);
    // The upstream sees this attempt's span as its parent (replacing the client's traceparent).
    this.#propagator.inject(trace.setSpan(ROOT_CONTEXT, client), ctx, toUpstream);
  }

  #upstreamEnd({ ctx, error }: { ctx: RequestContext; error: unknown }): void {
    const client = ctx.locals.get(kClient) as Span | undefined;
    if (client === undefined) return;
    ctx.locals.delete(kClient);
    if (ctx.responseStatus !== 0 && ctx.upstreamRespondedAt !== 0 && error === null) client.setAttribute('http.response.status_code', ctx.responseStatus);
    if (error !== null) {
      const code = (error as { code?: unknown }).code;
      client.setAttribute('error.type', typeof code === 'string' ? code : 'error');
      client.setStatus({ code: SpanStatusCode.ERROR });
    } else if (ctx.responseStatus >= 500) {
      client.setStatus({ code: SpanStatusCode.ERROR });
    }
    client.end();
  }

  #requestEnd(ctx: RequestContext): void {
    const server = ctx.locals.get(kServer) as Span | undefined;
    if (server === undefined) return;
    const status = ctx.res.headersSent ? ctx.responseStatus : 0;
    if (ctx.route !== null) {
      server.updateName(`${ctx.method} ${ctx.entry!.pattern.text}`);
      server.setAttribute('http.route', ctx.entry!.pattern.text);
      server.setAttribute('northgate.route', ctx.route.name);
      server.setAttribute('northgate.service', ctx.route.service.name);
    }
    const consumer = (ctx as { consumer?: { username?: string } | null }).consumer;
    if (consumer?.username !== undefined) server.setAttribute('northgate.consumer', consumer.username);
    if (status !== 0) server.setAttribute('http.response.status_code', status);
    if (status >= 500 || status === 0) server.setStatus({ code: SpanStatusCode.ERROR });
    if (ctx.errorCode !== null) server.setAttribute('error.type', ctx.errorCode);
    server.end();
  }
}
