// Log shipping: the request records a config's log sinks receive (docs/log-shipping.md):
// http, syslog, statsd and otlp-logs.
// As a request ends (its response sent), the request-end subscriber finds the route's sinks
// (each snapshot's sink names resolved to their queues once) and, when there are any, makes
// the request's entries and pushes them into each sink's bounded queue (delivery-queue.ts),
// which sends them in batches. A route that ships to no sink costs one array lookup; a config
// without sinks subscribes to nothing. A record copies the fields it shares with the
// request's access line (the access log, an earlier subscriber, has just written it) and says
// the line's time; sinks with the same fields share one record, and a full queue (a receiver
// that is down) makes none. Sinks run in every process that serves requests (each worker of
// --workers has its own queues and connections; the master sums their counts on /metrics).
// The sinks' transports are read at start; which routes ship where, the fields and the
// redaction follow each reload.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { requestEndChannel } from '../base/events.js';
import { isoNow, type Logger } from '../base/logger.js';
import type { RequestContext } from '../proxy/context.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import { accessLineOf, accessLineTime } from './access-log.js';
import { DeliveryQueue, type DeliveryCounts, type SinkTransport } from './delivery-queue.js';
import type { AccessLineFn } from './access-log-format.js';
import type { LogShippingSpec, SinkSpec } from './log-sink-config.js';
import { httpSinkTransport } from './sink-http.js';
import { otlpLogJson, otlpLogProto, otlpLogsTransport } from './sink-otlp-logs.js';
import { statsdLines, StatsdTransport } from './sink-statsd.js';
import { syslogMessage, syslogTransport } from './sink-syslog.js';

/** What log shipping reads of a snapshot (the compiler's Snapshot extends it). */
export interface LogShippingSnapshot extends ProxySnapshot {
  /** The compiled `log_sinks` section, or null without sinks. */
  readonly logShipping: LogShippingSpec | null;
}

/** A sink's delivery counts and queue length, for /metrics. */
export interface SinkStats {
  readonly sink: string;
  readonly counts: DeliveryCounts;
  readonly queued: number;
}

type Ctx = RequestContext<LogShippingSnapshot>;
/** The sinks that ship the JSON record. */
type TextSinkSpec = Exclude<SinkSpec, { type: 'statsd' }>;

/**
 * What a sink queues for one request; `record`: the request's record with the sink's fields
 * (made once for every sink of the request with the same field list).
 */
function entryOf(spec: TextSinkSpec, ctx: Ctx, time: string, pid: number, record: string): string | Buffer {
  switch (spec.type) {
    case 'otlp-logs':
      return spec.protocol === 'http/json' ? otlpLogJson(ctx, record) : otlpLogProto(ctx, record);
    case 'http':
      return record;
    case 'syslog':
      return syslogMessage(spec, ctx, time, pid, record);
  }
}

/** A sink's transport; each type is given the entries entryOf makes for it (its batch type is its own). */
type AnyTransport = SinkTransport<string | Buffer, unknown>;

function transportFor(spec: SinkSpec): AnyTransport {
  switch (spec.type) {
    case 'otlp-logs':
      return otlpLogsTransport(spec) as AnyTransport;
    case 'http':
      return httpSinkTransport(spec) as AnyTransport;
    case 'statsd':
      return new StatsdTransport(spec) as AnyTransport;
    case 'syslog':
      return syslogTransport(spec) as AnyTransport;
  }
}

/** A sink a request's record goes to: its queue, and its settings in the snapshot the request ran under. */
interface Target {
  readonly queue: DeliveryQueue<string | Buffer, unknown>;
  readonly sink: SinkSpec;
}

/** A snapshot's sinks resolved to their queues: per route (by index), and for requests that matched none. */
interface Plan {
  readonly byRoute: ReadonlyArray<readonly Target[]>;
  readonly unmatched: readonly Target[];
}

export class LogShipping {
  readonly #queues = new Map<string, DeliveryQueue<string | Buffer, unknown>>();
  readonly #owns: (ctx: RequestContext) => boolean;
  readonly #pid = process.pid;
  readonly #onEnd: (message: unknown) => void;
  /** Plans by snapshot section; the last one used is kept at hand (requests of one snapshot follow each other). */
  readonly #plans = new WeakMap<LogShippingSpec, Plan>();
  #lastSpec: LogShippingSpec | null = null;
  #lastPlan: Plan | null = null;

  /** `owns`: whether a request came through this gateway's listeners (tests run several gateways in one process). */
  constructor(spec: LogShippingSpec, logger: Logger, owns: (ctx: RequestContext) => boolean) {
    for (const s of spec.sinks) this.#queues.set(s.name, new DeliveryQueue(s.name, transportFor(s), s.delivery, logger));
    this.#owns = owns;
    this.#onEnd = (message) => {
      const ctx = message as Ctx;
      const spec = ctx.snapshot.logShipping;
      if (spec === null) return;
      const plan = spec === this.#lastSpec ? this.#lastPlan! : this.#planOf(spec);
      const targets = ctx.route === null ? plan.unmatched : plan.byRoute[ctx.route.index];
      if (targets === undefined || targets.length === 0 || !this.#owns(ctx)) return;
      this.#ship(ctx, targets, accessLineOf(ctx));
    };
    subscribe(requestEndChannel.name, this.#onEnd);
  }

  /**
   * A snapshot's sink names resolved to queues once. A sink added by a reload has no queue
   * until a restart (the reload log says so): its records are not made.
   */
  #planOf(spec: LogShippingSpec): Plan {
    let plan = this.#plans.get(spec);
    if (plan === undefined) {
      const resolve = (names: readonly string[]): Target[] =>
        names.flatMap((name) => {
          const queue = this.#queues.get(name);
          return queue === undefined ? [] : [{ queue, sink: spec.byName.get(name)! }];
        });
      plan = { byRoute: spec.byRoute.map(resolve), unmatched: resolve(spec.unmatched) };
      this.#plans.set(spec, plan);
    }
    this.#lastSpec = spec;
    this.#lastPlan = plan;
    return plan;
  }

  /**
   * Queues the request's entries as it ends. Made there, not later in the turn: a request
   * held past its end (with its request, response and headers) survives the young
   * generation's collections that happen meanwhile, which cost more than the record.
   */
  #ship(ctx: Ctx, targets: readonly Target[], line: string | null): void {
    const pid = this.#pid;
    // A record made from the access line says the line's time.
    const time = line !== null ? accessLineTime() : isoNow();
    let made: AccessLineFn | null = null;
    let record = '';
    for (const { queue, sink } of targets) {
      // A full queue (a receiver that is down) counts the drop and costs no record.
      if (!queue.admit()) continue;
      if (sink.type === 'statsd') {
        queue.enqueue(statsdLines(sink, ctx));
        continue;
      }
      if (sink.record !== made) {
        made = sink.record;
        record = line !== null && sink.fromLine !== null ? sink.fromLine(ctx, time, pid, line) : made(ctx, time, pid);
      }
      queue.enqueue(entryOf(sink, ctx, time, pid, record));
    }
  }

  stats(): SinkStats[] {
    return [...this.#queues.values()].map((q) => ({ sink: q.name, counts: q.counts, queued: q.queued }));
  }

  /** Stops taking requests, then sends what is queued within `deadlineMs` (every sink at once). Never rejects. */
  async close(deadlineMs: number): Promise<void> {
    unsubscribe(requestEndChannel.name, this.#onEnd);
    await Promise.all([...this.#queues.values()].map((q) => q.close(deadlineMs)));
  }
}
