// Usage metering: a subscriber of `northgate:request:end` that adds each request to an
// in-memory aggregate (minute × consumer × credential × service × route × status class:
// count, bytes in/out, latency sum and latency histogram) and flushes the aggregates in one
// batch every flush_interval and on drain. The hot path costs one string key, one Map lookup
// and a binary search over the histogram's bounds; a row (and its histogram) is allocated once
// per key and interval, nothing is written per request. When the store fails, the aggregates are kept and retried, bounded by max_rows;
// what does not fit is dropped, counted and logged. Proxying never waits on the store.
// OpenAPI contract violations (`northgate:openapi:violation`) are counted the same way, per
// hour × service × operation × kind × status, into the drift table (`northgate usage --drift`).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { RequestContext } from '../proxy/context.js';
import { contractViolationChannel, requestEndChannel } from '../base/events.js';
import type { Logger } from '../base/logger.js';
import { clock } from '../base/clock.js';
import type { MeteringSettings } from './config.js';
import { bucketOf, emptyHistogram } from './histogram.js';
import { openUsageStore, type DriftRow, type UsageRow, type UsageStore } from './store.js';

const CLASSES = ['000', '1xx', '2xx', '3xx', '4xx', '5xx'];
const HOUR = 3_600_000;

/** What the meter reads of a `northgate:openapi:violation` message (plugins/openapi/violations.ts). */
interface Violation {
  readonly ctx: unknown;
  readonly service: string;
  readonly operation: string | null;
  readonly kind: string;
  readonly status: number;
}

export class Meter {
  readonly #settings: MeteringSettings;
  readonly #logger: Logger;
  readonly #owns: (ctx: RequestContext) => boolean;
  #rows = new Map<string, UsageRow>();
  #drift = new Map<string, DriftRow>();
  #store: UsageStore | null = null;
  #flushing: Promise<void> | null = null;
  readonly #timer: NodeJS.Timeout;
  readonly #onEnd: (message: unknown) => void;
  readonly #onViolation: (message: unknown) => void;
  /** Requests not metered because the buffer was full (the store was away for too long). */
  dropped = 0;
  /** Contract violations not counted because the drift buffer was full. */
  droppedViolations = 0;
  /** Requests counted since start (for tests and logs). */
  counted = 0;
  #failing = false;

  constructor(settings: MeteringSettings, logger: Logger, owns: (ctx: RequestContext) => boolean = () => true) {
    this.#settings = settings;
    this.#logger = logger;
    this.#owns = owns;
    this.#onEnd = (message) => this.#add(message as RequestContext);
    subscribe(requestEndChannel.name, this.#onEnd);
    this.#onViolation = (message) => this.#addViolation(message as Violation);
    subscribe(contractViolationChannel.name, this.#onViolation);
    this.#timer = setInterval(() => void this.flush(), settings.flushIntervalMs);
    this.#timer.unref();
  }

  #add(ctx: RequestContext): void {
    if (!this.#owns(ctx)) return;
    const minute = clock.now();
    const m = minute - (minute % 60_000);
    const route = ctx.route;
    const consumer = ctx.consumer?.username ?? '';
    // The credential's id (config `id`, or a portal key's id): never the key or its digest.
    const credential = ctx.credential?.id ?? '';
    const status = ctx.responseStatus;
    const cls = CLASSES[status >= 100 && status < 600 ? Math.floor(status / 100) : 0]!;
    const routeName = route?.name ?? '';
    // Usernames and credential ids hold no control characters: "\n" keeps the parts apart.
    const key = `${m}\n${cls}\n${routeName}\n${consumer}\n${credential}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      if (this.#rows.size >= this.#settings.maxRows) {
        this.dropped++;
        return;
      }
      row = { minute: m, consumer, credential, service: route?.service.name ?? '', route: routeName, statusClass: cls, requests: 0, bytesIn: 0, bytesOut: 0, latencyMsSum: 0, latency: emptyHistogram() };
      this.#rows.set(key, row);
    }
    this.counted++;
    row.requests++;
    row.bytesIn += ctx.bytesIn;
    row.bytesOut += ctx.bytesOut;
    const latency = ctx.finishedAt - ctx.startedAt;
    row.latencyMsSum += latency;
    row.latency[bucketOf(latency)]!++;
  }

  #addViolation(v: Violation): void {
    if (!this.#owns(v.ctx as RequestContext)) return;
    const now = clock.now();
    const hour = now - (now % HOUR);
    const operation = v.operation ?? '';
    // Service and operation names hold no "\n" (config names; labels from the document are not
    // split back), and the key is only a map key: a collision would merge two counts at worst.
    const key = `${hour}\n${v.service}\n${operation}\n${v.kind}\n${v.status}`;
    let row = this.#drift.get(key);
    if (row === undefined) {
      if (this.#drift.size >= this.#settings.maxRows) {
        this.droppedViolations++;
        return;
      }
      row = { hour, service: v.service, operation, kind: v.kind, status: v.status, violations: 0 };
      this.#drift.set(key, row);
    }
    row.violations++;
  }

  /** Writes the aggregates so far; on failure they are merged back for the next try. */
  flush(): Promise<void> {
    if (this.#flushing !== null) return this.#flushing;
    if (this.#rows.size === 0 && this.#drift.size === 0) return Promise.resolve();
    const batch = this.#rows;
    const drift = this.#drift;
    this.#rows = new Map();
    this.#drift = new Map();
    const p = this.#write([...batch.values()], [...drift.values()]).then(
      () => {
        if (this.#failing) this.#logger.info({ type: 'metering', dropped_requests: this.dropped }, 'metering store is back; usage flushed');
        this.#failing = false;
      },
      (err: unknown) => {
        this.#mergeBack(batch);
        this.#mergeBackDrift(drift);
        if (!this.#failing) this.#logger.warn({ type: 'metering', err: (err as Error).message, buffered_rows: this.#rows.size, dropped_requests: this.dropped }, 'metering store failed; keeping usage in memory and retrying');
        this.#failing = true;
      },
    );
    this.#flushing = p.finally(() => (this.#flushing = null));
    return this.#flushing;
  }

  async #write(rows: UsageRow[], drift: DriftRow[]): Promise<void> {
    this.#store ??= openUsageStore(this.#settings.store);
    await this.#store.write(rows, drift);
  }

  #mergeBackDrift(batch: Map<string, DriftRow>): void {
    for (const [key, row] of batch) {
      const now = this.#drift.get(key);
      if (now !== undefined) now.violations += row.violations;
      else if (this.#drift.size < this.#settings.maxRows) this.#drift.set(key, row);
      else this.droppedViolations += row.violations;
    }
  }

  #mergeBack(batch: Map<string, UsageRow>): void {
    for (const [key, row] of batch) {
      const now = this.#rows.get(key);
      if (now !== undefined) {
        now.requests += row.requests;
        now.bytesIn += row.bytesIn;
        now.bytesOut += row.bytesOut;
        now.latencyMsSum += row.latencyMsSum;
        for (let i = 0; i < now.latency.length; i++) now.latency[i]! += row.latency[i]!;
      } else if (this.#rows.size < this.#settings.maxRows) {
        this.#rows.set(key, row);
      } else {
        this.dropped += row.requests;
      }
    }
  }

  /** Stops counting, writes what is left (bounded by `deadlineMs`), closes the store. */
  async close(deadlineMs = 5000): Promise<void> {
    unsubscribe(requestEndChannel.name, this.#onEnd);
    unsubscribe(contractViolationChannel.name, this.#onViolation);
    clearInterval(this.#timer);
    const timer = new Promise<void>((r) => setTimeout(r, deadlineMs).unref());
    await Promise.race([this.flush().then(() => this.flush()), timer]);
    if (this.#rows.size > 0 || this.#drift.size > 0) this.#logger.warn({ type: 'metering', lost_rows: this.#rows.size + this.#drift.size }, 'metering store unreachable at shutdown; usage of the last interval is lost');
    await this.#store?.close().catch(() => undefined);
  }
}
