// Prometheus metrics, fed by the core's request-end event. Label sets are bounded: route
// and service names come from the config ("" for requests that matched no route), methods
// outside the standard set are "OTHER", codes are the status numbers. Bound children are
// cached per route so that a request costs a few Map lookups, not label hashing.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, collectDefaultMetrics, register, type Registry } from 'prom-client';
import { FastCounter, FastHistogram, type FastCounterChild, type FastHistogramChild } from './fast-metrics.js';
import type { RequestContext } from '../proxy/context.js';
import type { CompiledRoute } from '../proxy/route.js';
import type { Backend } from '../upstream/backends.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import { requestEndChannel } from '../base/events.js';
import { reloadChannel } from '../base/events.js';
import { rateLimitedChannel } from '../base/events.js';
import { quotaExceededChannel, contractViolationChannel, faultInjectedChannel, mirrorDroppedChannel } from '../base/events.js';
import { openWebSockets } from '../proxy/websocket.js';
import type { SinkStats } from './log-shipping.js';

/** What the metrics read of a snapshot (the compiler's Snapshot extends it). */
export interface MetricsSnapshot extends ProxySnapshot {
  /** Label request counts with the consumer's username (opt-in: one series per consumer). */
  readonly metricsPerConsumer: boolean;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'];
const METHOD_INDEX = new Map(METHODS.map((m, i) => [m, i]));
const OTHER = METHODS.length;
/** From 0.5 ms to 60 s: gateway overhead is sub-millisecond, upstream calls can be long. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SIZE_BUCKETS = [0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

export interface GatewayGauges {
  openConnections(): number;
  targets(): Array<{ upstream: string; target: string; healthy: boolean }>;
  /** Services with a circuit breaker: 0 closed, 1 open, 2 half-open. */
  circuits?(): Array<{ service: string; state: number }>;
  /** Span export counts since start (null: tracing off). */
  tracingSpans?(): { exported: number; dropped: number; queued: number } | null;
  /** Delivery counts of each log sink since start. */
  logSinks?(): SinkStats[];
}

interface RouteSeries {
  duration: FastHistogramChild;
  upstream: FastHistogramChild;
  requestSize: FastHistogramChild;
  responseSize: FastHistogramChild;
  /** status * 16 + method index -> counter child */
  requests: Map<number, FastCounterChild>;
}

export class GatewayMetrics {
  readonly registry: Registry;
  readonly #requests: FastCounter;
  readonly #duration: FastHistogram;
  readonly #upstream: FastHistogram;
  readonly #requestSize: FastHistogram;
  readonly #responseSize: FastHistogram;
  readonly #reloads: Counter<string>;
  readonly #rateLimited: Counter<string>;
  readonly #quotaExceeded: Counter<string>;
  readonly #faults: Counter<string>;
  readonly #mirrorDropped: Counter<string>;
  readonly #violations: Counter<string>;
  readonly #lastReload: Gauge<string>;
  readonly #byRoute = new WeakMap<CompiledRoute, RouteSeries>();
  readonly #backendRequests: FastCounter;
  /** Per weighted backend of a snapshot: status -> counter child. */
  readonly #byBackend = new WeakMap<Backend, Map<number, FastCounterChild>>();
  #unmatched: RouteSeries | null = null;
  readonly #onEnd: (message: unknown) => void;
  readonly #onReload: (message: unknown) => void;
  readonly #onRateLimited: (message: unknown) => void;
  readonly #onQuotaExceeded: (message: unknown) => void;
  readonly #onFault: (message: unknown) => void;
  readonly #onMirrorDropped: (message: unknown) => void;
  readonly #onViolation: (message: unknown) => void;

  constructor(gauges: GatewayGauges, registry: Registry = register) {
    this.registry = registry;
    const r = [registry];
    this.#requests = new FastCounter({
      name: 'northgate_http_requests_total',
      help: 'Requests answered, by service, route, method and status code (and consumer with metrics.per_consumer).',
      labelNames: ['service', 'route', 'method', 'code', 'consumer'],
      registers: r,
    });
    this.#backendRequests = new FastCounter({
      name: 'northgate_backend_requests_total',
      help: 'Requests of routes with weighted backends, by the backend chosen (its upstream name or URL) and status code.',
      labelNames: ['service', 'route', 'backend', 'code'],
      registers: r,
    });
    this.#quotaExceeded = new Counter({ name: 'northgate_quota_exceeded_total', help: 'Requests refused because a quota was used up (429 quota-exceeded).', labelNames: ['service', 'route'], registers: r });
    this.#faults = new Counter({ name: 'northgate_faults_injected_total', help: 'Requests the fault-injection plugin delayed or aborted.', labelNames: ['service', 'route', 'kind'], registers: r });
    this.#mirrorDropped = new Counter({ name: 'northgate_mirror_dropped_total', help: 'Request copies the request-mirror plugin did not deliver, by mirror and reason.', labelNames: ['service', 'route', 'mirror', 'reason'], registers: r });
    this.#violations = new Counter({ name: 'northgate_openapi_violations_total', help: 'Requests and responses that break the service\'s OpenAPI document, by operation.', labelNames: ['service', 'operation', 'kind', 'status'], registers: r });
    this.#rateLimited = new Counter({ name: 'northgate_rate_limited_total', help: 'Requests refused by a rate limit (429).', labelNames: ['service', 'route'], registers: r });
    this.#duration = new FastHistogram({ name: 'northgate_http_request_duration_seconds', help: 'Time from the request head to the end of the response.', labelNames: ['service', 'route'], buckets: LATENCY_BUCKETS, registers: r });
    this.#upstream = new FastHistogram({ name: 'northgate_upstream_duration_seconds', help: 'Time from sending the request upstream to its response head, for the attempt that answered.', labelNames: ['service', 'route'], buckets: LATENCY_BUCKETS, registers: r });
    this.#requestSize = new FastHistogram({ name: 'northgate_http_request_size_bytes', help: 'Request body bytes received from clients.', labelNames: ['service', 'route'], buckets: SIZE_BUCKETS, registers: r });
    this.#responseSize = new FastHistogram({ name: 'northgate_http_response_size_bytes', help: 'Response body bytes sent to clients.', labelNames: ['service', 'route'], buckets: SIZE_BUCKETS, registers: r });
    this.#reloads = new Counter({ name: 'northgate_config_reloads_total', help: 'Config reloads, by result.', labelNames: ['result'], registers: r, aggregator: 'max' });
    this.#lastReload = new Gauge({ name: 'northgate_config_last_reload_success_timestamp_seconds', help: 'When the config was last loaded successfully (Unix time).', registers: r, aggregator: 'max' });
    this.#reloads.inc({ result: 'success' }, 0);
    this.#reloads.inc({ result: 'failure' }, 0);
    this.#lastReload.set(Date.now() / 1000);
    new Gauge({
      name: 'northgate_open_connections',
      help: 'Client connections currently open.',
      registers: r,
      collect() {
        this.set(gauges.openConnections());
      },
    });
    new Gauge({
      name: 'northgate_websocket_connections',
      help: 'WebSocket tunnels currently open (long-lived connections, not counted as requests in flight).',
      registers: r,
      collect() {
        this.set(openWebSockets());
      },
    });
    new Gauge({
      name: 'northgate_upstream_target_health',
      help: '1 when the target may receive traffic, 0 when it is ejected or failing its health check.',
      labelNames: ['upstream', 'target'],
      registers: r,
      aggregator: 'min',
      collect() {
        this.reset();
        for (const t of gauges.targets()) this.set({ upstream: t.upstream, target: t.target }, t.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'northgate_circuit_state',
      help: 'Circuit breaker state per service: 0 closed, 1 open, 2 half-open (per worker; the highest across workers).',
      labelNames: ['service'],
      registers: r,
      aggregator: 'max',
      collect() {
        this.reset();
        for (const c of gauges.circuits?.() ?? []) this.set({ service: c.service }, c.state);
      },
    });
    if (gauges.tracingSpans !== undefined) {
      const spans = gauges.tracingSpans.bind(gauges);
      // Counts kept by the exporter, read at scrape time (summed across workers).
      new Counter({
        name: 'northgate_tracing_spans_exported_total',
        help: 'Spans the collector accepted (0 with tracing off).',
        registers: r,
        collect() {
          this.reset();
          this.inc(spans()?.exported ?? 0);
        },
      });
      new Counter({
        name: 'northgate_tracing_spans_dropped_total',
        help: 'Spans dropped: the export queue was full, or an export failed after its retries (0 with tracing off).',
        registers: r,
        collect() {
          this.reset();
          this.inc(spans()?.dropped ?? 0);
        },
      });
      new Gauge({
        name: 'northgate_tracing_spans_queued',
        help: 'Spans waiting to be exported.',
        registers: r,
        collect() {
          this.set(spans()?.queued ?? 0);
        },
      });
    }
    if (gauges.logSinks !== undefined) logSinkMetrics(gauges.logSinks.bind(gauges), r);
    if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined) collectDefaultMetrics({ register: registry });
    this.#onEnd = (message) => this.#record(message as RequestContext<MetricsSnapshot>);
    this.#onReload = (message) => this.reloaded((message as { ok: boolean }).ok);
    this.#onRateLimited = (message) => {
      const ctx = message as RequestContext;
      this.#rateLimited.inc({ service: ctx.route?.service.name ?? '', route: ctx.route?.name ?? '' });
    };
    this.#onQuotaExceeded = (message) => {
      const ctx = message as RequestContext;
      this.#quotaExceeded.inc({ service: ctx.route?.service.name ?? '', route: ctx.route?.name ?? '' });
    };
    this.#onFault = (message) => {
      const { ctx, kind } = message as { ctx: RequestContext; kind: string };
      this.#faults.inc({ service: ctx.route?.service.name ?? '', route: ctx.route?.name ?? '', kind });
    };
    this.#onMirrorDropped = (message) => {
      const { ctx, reason, mirror } = message as { ctx: RequestContext; reason: string; mirror?: string };
      this.#mirrorDropped.inc({ service: ctx.route?.service.name ?? '', route: ctx.route?.name ?? '', mirror: mirror ?? '', reason });
    };
    subscribe(faultInjectedChannel.name, this.#onFault);
    subscribe(mirrorDroppedChannel.name, this.#onMirrorDropped);
    this.#onViolation = (message) => {
      const m = message as { service: string; operation: string | null; kind: string; status: number };
      this.#violations.inc({ service: m.service, operation: m.operation ?? '', kind: m.kind, status: String(m.status) });
    };
    subscribe(contractViolationChannel.name, this.#onViolation);
    subscribe(rateLimitedChannel.name, this.#onRateLimited);
    subscribe(quotaExceededChannel.name, this.#onQuotaExceeded);
    subscribe(requestEndChannel.name, this.#onEnd);
    subscribe(reloadChannel.name, this.#onReload);
  }

  reloaded(ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'success' : 'failure' });
    if (ok) this.#lastReload.set(Date.now() / 1000);
  }

  close(): void {
    unsubscribe(requestEndChannel.name, this.#onEnd);
    unsubscribe(reloadChannel.name, this.#onReload);
    unsubscribe(rateLimitedChannel.name, this.#onRateLimited);
    unsubscribe(contractViolationChannel.name, this.#onViolation);
    unsubscribe(quotaExceededChannel.name, this.#onQuotaExceeded);
    unsubscribe(faultInjectedChannel.name, this.#onFault);
    unsubscribe(mirrorDroppedChannel.name, this.#onMirrorDropped);
  }

  #record(ctx: RequestContext<MetricsSnapshot>): void {
    const series = this.#seriesFor(ctx.route);
    const status = ctx.res.headersSent ? ctx.responseStatus : 0;
    const m = METHOD_INDEX.get(ctx.method) ?? OTHER;
    if (ctx.snapshot.metricsPerConsumer) {
      // Opt-in: one series per consumer; labels are hashed per request (no child cache).
      const method = METHODS[m] ?? 'OTHER';
      this.#requests.inc({ service: ctx.route?.service.name ?? '', route: ctx.route?.name ?? '', method, code: String(status), consumer: ctx.consumer?.username ?? '' });
    } else {
      const key = status * 16 + m;
      let counter = series.requests.get(key);
      if (counter === undefined) {
        counter = this.#requests.labels(ctx.route?.service.name ?? '', ctx.route?.name ?? '', METHODS[m] ?? 'OTHER', String(status), '');
        series.requests.set(key, counter);
      }
      counter.inc();
    }
    if (ctx.backend !== null) this.#countBackend(ctx, status);
    series.duration.observe((ctx.finishedAt - ctx.startedAt) / 1000);
    if (ctx.upstreamStartedAt !== 0 && ctx.upstreamRespondedAt !== 0) series.upstream.observe((ctx.upstreamRespondedAt - ctx.upstreamStartedAt) / 1000);
    series.requestSize.observe(ctx.bytesIn);
    series.responseSize.observe(ctx.bytesOut);
  }

  #countBackend(ctx: RequestContext<MetricsSnapshot>, status: number): void {
    const backend = ctx.backend!;
    let byStatus = this.#byBackend.get(backend);
    if (byStatus === undefined) this.#byBackend.set(backend, (byStatus = new Map()));
    let counter = byStatus.get(status);
    if (counter === undefined) {
      counter = this.#backendRequests.labels(ctx.route!.service.name, ctx.route!.name, backend.name, String(status));
      byStatus.set(status, counter);
    }
    counter.inc();
  }

  #seriesFor(route: CompiledRoute | null): RouteSeries {
    if (route === null) return (this.#unmatched ??= this.#newSeries('', ''));
    let s = this.#byRoute.get(route);
    if (s === undefined) {
      s = this.#newSeries(route.service.name, route.name);
      this.#byRoute.set(route, s);
    }
    return s;
  }

  #newSeries(service: string, route: string): RouteSeries {
    return {
      duration: this.#duration.labels(service, route),
      upstream: this.#upstream.labels(service, route),
      requestSize: this.#requestSize.labels(service, route),
      responseSize: this.#responseSize.labels(service, route),
      requests: new Map(),
    };
  }
}

/** The log sinks' delivery counts, kept by their queues and read at scrape time (summed across workers). */
function logSinkMetrics(sinks: () => SinkStats[], registers: Registry[]): void {
  const counter = (name: string, help: string, value: (s: SinkStats) => number): void =>
    void new Counter({
      name,
      help,
      labelNames: ['sink'],
      registers,
      collect() {
        this.reset();
        for (const s of sinks()) this.inc({ sink: s.sink }, value(s));
      },
    });
  counter('northgate_log_sink_events_sent_total', 'Records a log sink delivered.', (s) => s.counts.sent);
  counter('northgate_log_sink_batches_failed_total', 'Batches a log sink failed to send (each failed attempt).', (s) => s.counts.failed);
  counter('northgate_log_sink_batches_retried_total', 'Batches a log sink sent again after a failure.', (s) => s.counts.retried);
  new Counter({
    name: 'northgate_log_sink_events_dropped_total',
    help: 'Records a log sink dropped: queue_full (its queue was full), rejected (the receiver refused the batch for good, or a datagram failed), shutdown (still queued when the drain time ran out).',
    labelNames: ['sink', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const s of sinks()) {
        this.inc({ sink: s.sink, reason: 'queue_full' }, s.counts.dropped);
        this.inc({ sink: s.sink, reason: 'rejected' }, s.counts.rejected);
        this.inc({ sink: s.sink, reason: 'shutdown' }, s.counts.abandoned);
      }
    },
  });
  new Gauge({
    name: 'northgate_log_sink_events_queued',
    help: 'Records waiting in a log sink\'s queue (the batch being sent included).',
    labelNames: ['sink'],
    registers,
    collect() {
      this.reset();
      for (const s of sinks()) this.set({ sink: s.sink }, s.queued);
    },
  });
}
