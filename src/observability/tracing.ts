// OpenTelemetry traces: a server span per gateway request and a client span per upstream
// attempt, W3C trace context read from the client and written upstream, parent-based ratio
// sampling, exported in batches over OTLP/HTTP. Off unless `tracing` is configured: then
// nothing subscribes to the core's events and it costs nothing.
//
// Spans are recorded here rather than through the OpenTelemetry SDK: at ratio 1.0 the SDK's
// per-span work (context objects, attribute sanitizing, span metrics, the OTLP transformer
// and JSON.stringify of its object tree) cost about 13% of the proxy's CPU in a profile. A
// span is written straight to its OTLP JSON text when it ends, from timestamps the core
// already takes (request start/end, attempt start).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';
import { requestEndChannel, requestStartChannel, upstreamEndChannel, upstreamStartChannel } from '../proxy/reply.js';
import type { Logger } from '../runtime/logger.js';
import { jsonText, wireText } from './access-log-format.js';
import { SpanExporter } from './span-export.js';
import { formatTraceparent, parseTraceparent, randomId, ratioSampler } from './trace-context.js';

export interface TracingConfig {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly ratio: number;
  readonly headers: Record<string, string>;
  readonly flushIntervalMs: number;
}

const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = ',"status":{"code":2}';

/** Tracing's state for one request (ctx.trace). */
class RequestTrace {
  readonly traceId: string;
  /** The client's span (from its traceparent), or "". */
  readonly parentId: string;
  readonly sampled: boolean;
  readonly traceState: string | undefined;
  /** The server span's id ("" when not sampled: nothing will refer to it). */
  readonly spanId: string;
  /** The current upstream attempt's span id. */
  clientSpanId = '';

  constructor(traceId: string, parentId: string, sampled: boolean, traceState: string | undefined) {
    this.traceId = traceId;
    this.parentId = parentId;
    this.sampled = sampled;
    this.traceState = traceState;
    this.spanId = sampled ? randomId(8) : '';
  }
}

export class Tracing {
  readonly #exporter: SpanExporter;
  readonly #sample: (traceId: string) => boolean;
  readonly #handlers: Array<[string | symbol, (m: unknown) => void]>;

  constructor(config: TracingConfig, logger: Logger | null = null) {
    this.#exporter = new SpanExporter(config, logger);
    this.#sample = ratioSampler(config.ratio);
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

  /** Attribute text that depends only on the config, built once per route and per target. */
  readonly #routeCache = new WeakMap<object, { pattern: string; json: string }>();
  readonly #targetCache = new WeakMap<object, string>();

  /** Per route entry (a route with several paths has one entry per path pattern). */
  #routeAttrs(entry: NonNullable<RequestContext['entry']>): { pattern: string; json: string } {
    let r = this.#routeCache.get(entry);
    if (r === undefined) {
      const pattern = entry.pattern.text;
      r = { pattern, json: str('http.route', pattern) + str('northgate.route', entry.route.name) + str('northgate.service', entry.route.service.name) };
      this.#routeCache.set(entry, r);
    }
    return r;
  }

  #targetAttrs(target: NonNullable<RequestContext['target']>, route: NonNullable<RequestContext['route']>): string {
    let t = this.#targetCache.get(target);
    if (t === undefined) {
      t = str('server.address', target.hostname) + int('server.port', target.port) + str('northgate.upstream', route.service.upstream.name);
      this.#targetCache.set(target, t);
    }
    return t;
  }

  #requestStart(ctx: RequestContext): void {
    const parent = parseTraceparent(ctx.header('traceparent'));
    let trace: RequestTrace;
    if (parent !== null) {
      trace = new RequestTrace(parent.traceId, parent.spanId, parent.sampled, ctx.header('tracestate'));
    } else {
      const traceId = randomId(16);
      trace = new RequestTrace(traceId, '', this.#sample(traceId), undefined);
    }
    ctx.trace = trace;
    ctx.traceId = trace.traceId;
  }

  #upstreamStart(ctx: RequestContext): void {
    const trace = ctx.trace as RequestTrace | null;
    if (trace === null) return;
    // The upstream sees this attempt's span as its parent (replacing the client's traceparent;
    // the client's tracestate passes through with the other headers).
    trace.clientSpanId = randomId(8);
    ctx.upstreamHeaders.set('traceparent', formatTraceparent(trace.traceId, trace.clientSpanId, trace.sampled));
  }

  #upstreamEnd({ ctx, error }: { ctx: RequestContext; error: unknown }): void {
    const trace = ctx.trace as RequestTrace | null;
    if (trace === null || !trace.sampled) return;
    const target = ctx.target!;
    let attrs = raw('http.request.method', ctx.method) + this.#targetAttrs(target, ctx.route!) + `,{"key":"url.full","value":{"stringValue":${wireText(target.origin + ctx.upstreamPath)}}}`;
    if (ctx.attempt > 1) attrs += int('http.request.resend_count', ctx.attempt - 1);
    let status = '';
    if (error !== null) {
      const code = (error as { code?: unknown }).code;
      attrs += str('error.type', typeof code === 'string' ? code : 'error');
      status = STATUS_ERROR;
    } else if (ctx.upstreamRespondedAt !== 0) {
      attrs += int('http.response.status_code', ctx.responseStatus);
      if (ctx.responseStatus >= 500) {
        attrs += str('error.type', String(ctx.responseStatus));
        status = STATUS_ERROR;
      }
    }
    this.#exporter.add(span(trace, trace.clientSpanId, trace.spanId, ctx.method, CLIENT, ctx.upstreamStartedAt, performance.now(), attrs, status));
  }

  #requestEnd(ctx: RequestContext): void {
    const trace = ctx.trace as RequestTrace | null;
    if (trace === null || !trace.sampled) return;
    const status = ctx.res.headersSent ? ctx.responseStatus : 0;
    // Method, scheme, addresses and HTTP version are tokens and IPs the core checked: no escaping needed.
    let attrs =
      raw('http.request.method', ctx.method) +
      `,{"key":"url.path","value":{"stringValue":${wireText(ctx.path)}}}` +
      raw('url.scheme', ctx.listener.protocol) +
      `,{"key":"server.address","value":{"stringValue":${wireText(ctx.host)}}}` +
      raw('client.address', ctx.clientIp) +
      raw('network.peer.address', ctx.peerAddress) +
      raw('network.protocol.version', ctx.req.httpVersion);
    const userAgent = ctx.header('user-agent');
    if (userAgent !== undefined) attrs += `,{"key":"user_agent.original","value":{"stringValue":${wireText(userAgent)}}}`;
    let name = ctx.method;
    if (ctx.route !== null) {
      const route = this.#routeAttrs(ctx.entry!);
      name = `${ctx.method} ${route.pattern}`;
      attrs += route.json;
    }
    if (ctx.consumer !== null) attrs += str('northgate.consumer', ctx.consumer.username);
    if (status !== 0) attrs += int('http.response.status_code', status);
    if (ctx.errorCode !== null) attrs += str('error.type', ctx.errorCode);
    else if (status >= 500) attrs += str('error.type', String(status));
    const failed = status >= 500 || status === 0;
    this.#exporter.add(span(trace, trace.spanId, trace.parentId, name, SERVER, ctx.startedAt, ctx.finishedAt, attrs, failed ? STATUS_ERROR : ''));
  }
}

/** One span as OTLP JSON; `attrs` starts with a comma. Times are performance.now() values. */
function span(trace: RequestTrace, spanId: string, parentId: string, name: string, kind: number, start: number, end: number, attrs: string, status: string): string {
  return (
    `{"traceId":"${trace.traceId}","spanId":"${spanId}"` +
    (parentId === '' ? '' : `,"parentSpanId":"${parentId}"`) +
    (trace.traceState === undefined ? '' : `,"traceState":${wireText(trace.traceState)}`) +
    `,"name":${jsonText(name)},"kind":${kind},"startTimeUnixNano":"${unixNano(start)}","endTimeUnixNano":"${unixNano(end)}"` +
    `,"attributes":[${attrs.slice(1)}]${status}}`
  );
}

const str = (key: string, value: string): string => `,{"key":"${key}","value":{"stringValue":${jsonText(value)}}}`;
/** For values that need no JSON escaping. */
const raw = (key: string, value: string): string => `,{"key":"${key}","value":{"stringValue":"${value}"}}`;
const int = (key: string, value: number): string => `,{"key":"${key}","value":{"intValue":${value}}}`;

const ORIGIN = performance.timeOrigin;

/** A performance.now() value as Unix time in nanoseconds, to the microsecond (µs since 1970 stay below 2^53; nanoseconds do not). */
function unixNano(t: number): string {
  return `${Math.round((ORIGIN + t) * 1000)}000`;
}
