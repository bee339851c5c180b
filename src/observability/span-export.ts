// OTLP/HTTP export of finished spans in batches, following the OTLP spec: POST an
// ExportTraceServiceRequest {resource_spans: [{resource, scope_spans: [{scope, spans}]}]} to
// the configured endpoint, as protobuf (application/x-protobuf, the default) or JSON
// (application/json). The spans that end in one turn of the event loop are written into the
// current batch's buffer together at the end of that turn (span-record.ts): records live
// only until then (nearly never long enough for a young-generation GC to copy them), the
// encoder runs hot in the CPU's caches, and full batches wait as bytes outside the JS heap.
// The queue is bounded: when the collector is slow or down, spans beyond it are dropped and
// counted (northgate_tracing_spans_dropped_total) rather than growing memory; at most two
// exports are in flight. A failed export is retried twice with backoff when the OTLP spec
// calls the failure retryable (no answer, 429, 502, 503, 504), then its spans are dropped and
// counted.
import { hostname } from 'node:os';
import { createPool, type Pool } from '../upstream/undici-pool.js';
import type { Logger } from '../base/logger.js';
import { frag, JsonBytes } from './otlp-json.js';
import { kvInt, kvString, lenField, lenTag, ProtoBytes, stringField, varintSize } from './otlp-proto.js';
import type { SpanRecord } from './span-record.js';
import { post, retryAfterMs } from './http-post.js';

const MAX_QUEUE = 4096;
const BATCH = 512;
const MAX_IN_FLIGHT = 2;
const EXPORT_TIMEOUT_MS = 10_000;
/** Retries of a failed export, and the delay before the first (doubled for the second, ±25% jitter). */
const RETRIES = 2;
const RETRY_DELAY_MS = 250;
/** A collector's Retry-After is followed up to this long. */
const MAX_RETRY_AFTER_MS = 5_000;
/** Export failures are logged at most this often. */
const WARN_EVERY_MS = 30_000;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** OTLP/HTTP's encodings (OTEL_EXPORTER_OTLP_PROTOCOL's names). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface ExporterConfig {
  readonly endpoint: string;
  readonly protocol: OtlpProtocol;
  readonly serviceName: string;
  readonly headers: Record<string, string>;
  readonly flushIntervalMs: number;
}

class ExportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs = 0,
  ) {
    super(message);
  }
}

/** The body of one export, written span by span. */
interface Batch {
  /** Spans written. */
  readonly count: number;
  /** Bytes allocated (a batch grown large is not kept for reuse). */
  readonly capacity: number;
  add(span: SpanRecord): void;
  /** Ends the body; returns its bytes (a view, valid until reset). */
  seal(): Buffer;
  reset(): void;
}

/** A batch written and waiting to be sent (or being sent). */
interface Sealed {
  readonly batch: Batch;
  readonly body: Buffer;
  readonly count: number;
}

/** OTLP/JSON: the prefix up to the spans array, spans separated by commas, the closing brackets. */
class JsonBatch implements Batch {
  readonly #w = new JsonBytes();
  readonly #prefix: Buffer;
  count = 0;

  constructor(prefix: Buffer) {
    this.#prefix = prefix;
  }

  get capacity(): number {
    return this.#w.buf.length;
  }

  add(span: SpanRecord): void {
    const w = this.#w;
    if (this.count === 0) {
      w.fragment(this.#prefix);
    } else {
      w.room(1);
      w.buf[w.pos++] = 44; // ,
    }
    span.write(w);
    this.count++;
  }

  seal(): Buffer {
    this.#w.fragment(SUFFIX);
    return this.#w.bytes;
  }

  reset(): void {
    this.#w.reset();
    this.count = 0;
  }
}

/**
 * OTLP protobuf: the spans (ScopeSpans.spans, each tag + length + Span) are written after
 * room left for the prefix; at seal, their length is known and the prefix (the ResourceSpans
 * and ScopeSpans heads, the resource and the scope) is written right before them, so the
 * body is one contiguous view with no copy.
 */
class ProtoBatch implements Batch {
  readonly #w = new ProtoBytes();
  /** Resource (ResourceSpans field 1) and scope (ScopeSpans field 1), encoded. */
  readonly #resource: Buffer;
  readonly #scope: Buffer;
  /** Where the spans start: room for the prefix (two tags, two varints of at most 5 bytes). */
  readonly #head: number;
  count = 0;

  constructor(resource: Buffer, scope: Buffer) {
    this.#resource = resource;
    this.#scope = scope;
    this.#head = resource.length + scope.length + 12;
    this.#w.pos = this.#head;
  }

  get capacity(): number {
    return this.#w.buf.length;
  }

  add(span: SpanRecord): void {
    const w = this.#w;
    const at = w.open(SCOPE_SPANS_SPANS);
    span.encode(w);
    w.close(at);
    this.count++;
  }

  seal(): Buffer {
    const w = this.#w;
    const end = w.pos;
    const scopeSpans = this.#scope.length + (end - this.#head);
    const resourceSpans = this.#resource.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const start = this.#head - (1 + varintSize(resourceSpans) + this.#resource.length + 1 + varintSize(scopeSpans) + this.#scope.length);
    w.pos = start;
    w.buf[w.pos++] = REQUEST_RESOURCE_SPANS;
    w.varint(resourceSpans);
    w.fragment(this.#resource);
    w.buf[w.pos++] = RESOURCE_SPANS_SCOPE_SPANS;
    w.varint(scopeSpans);
    w.fragment(this.#scope);
    w.pos = end;
    return w.buf.subarray(start, end);
  }

  reset(): void {
    this.#w.pos = this.#head;
    this.count = 0;
  }
}

// ExportTraceServiceRequest.resource_spans (1), ResourceSpans.scope_spans (2), ScopeSpans.spans (2).
const REQUEST_RESOURCE_SPANS = lenTag(1);
const RESOURCE_SPANS_SCOPE_SPANS = lenTag(2);
const SCOPE_SPANS_SPANS = lenTag(2);

export class SpanExporter {
  readonly #pool: Pool;
  readonly #path: string;
  /** Flat [name, value, …], the shape the proxy's own upstream requests have. */
  readonly #headers: string[];
  readonly #newBatch: () => Batch;
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger | null;
  /** Spans ended in this turn of the event loop, not yet written. */
  readonly #ended: SpanRecord[] = [];
  /** The batch being written. */
  #current: Batch | null = null;
  /** Written batches waiting for an export slot. */
  readonly #sealed: Sealed[] = [];
  /** Spans in the current batch or in sealed ones (not yet handed to an export). */
  #queued = 0;
  #inFlight = new Set<Promise<void>>();
  /** Batches not in use. */
  readonly #free: Batch[] = [];
  /** Backoff timers of exports waiting to retry (cut short by shutdown). */
  readonly #waits = new Set<() => void>();
  #closing = false;
  #lastWarn = 0;
  /** Spans dropped (queue full or export failed for good), exported, and export retries, since start. */
  dropped = 0;
  exported = 0;
  retries = 0;

  constructor(config: ExporterConfig, logger: Logger | null) {
    const url = new URL(config.endpoint);
    this.#pool = createPool(url.origin, { connections: MAX_IN_FLIGHT, keepAliveTimeout: 30_000 });
    this.#path = url.pathname + url.search;
    const protobuf = config.protocol === 'http/protobuf';
    this.#headers = Object.entries({ ...config.headers, 'content-type': protobuf ? 'application/x-protobuf' : 'application/json' }).flat();
    this.#logger = logger;
    const host = hostname();
    if (protobuf) {
      // Resource.attributes (1), InstrumentationScope.name (1).
      const resource = lenField(1, Buffer.concat([
        kvString(1, 'service.name', config.serviceName),
        kvString(1, 'host.name', host),
        kvInt(1, 'process.pid', process.pid),
        kvString(1, 'telemetry.sdk.name', 'northgate'),
        kvString(1, 'telemetry.sdk.language', 'nodejs'),
      ]));
      const scope = lenField(1, stringField(1, 'northgate'));
      this.#newBatch = () => new ProtoBatch(resource, scope);
    } else {
      const resource = [
        attr('service.name', config.serviceName),
        attr('host.name', host),
        `{"key":"process.pid","value":{"intValue":${process.pid}}}`,
        attr('telemetry.sdk.name', 'northgate'),
        attr('telemetry.sdk.language', 'nodejs'),
      ].join(',');
      const prefix = frag(`{"resourceSpans":[{"resource":{"attributes":[${resource}]},"scopeSpans":[{"scope":{"name":"northgate"},"spans":[`);
      this.#newBatch = () => new JsonBatch(prefix);
    }
    this.#timer = setInterval(() => this.flush(), config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Spans waiting to be exported (not counting exports in flight). */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queues one finished span. It is written into the batch with the others that end in the
   * same turn of the event loop, in one pass after them (setImmediate): the encoder then runs
   * hot in the CPU's caches rather than once between two requests' worth of other code.
   */
  add(span: SpanRecord): void {
    if (this.#queued >= MAX_QUEUE) {
      this.dropped++;
      return;
    }
    this.#queued++;
    const ended = this.#ended;
    ended.push(span);
    if (ended.length === 1) setImmediate(this.#writeEnded);
  }

  /** Writes the spans ended since the last call into batches; full batches start exports. */
  readonly #writeEnded = (): void => {
    const ended = this.#ended;
    if (ended.length === 0) return;
    let sealed = false;
    try {
      for (let i = 0; i < ended.length; i++) {
        const batch = (this.#current ??= this.#free.pop() ?? this.#newBatch());
        batch.add(ended[i]!);
        if (batch.count >= BATCH) {
          this.#seal();
          sealed = true;
        }
      }
    } finally {
      // Emptied even if a span could not be written, so that the next one schedules a write.
      ended.length = 0;
    }
    if (sealed) this.#pump();
  };

  /** Seals the current batch and starts exports, as far as the in-flight limit allows (all of them with `force`). */
  flush(force = false): void {
    this.#writeEnded();
    if (this.#current !== null && this.#current.count > 0) this.#seal();
    this.#pump(force);
  }

  /** Exports everything queued and waits for it (each export bounded by its timeout; no more retries). */
  async shutdown(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    for (const wake of this.#waits) wake();
    this.flush(true);
    await Promise.all(this.#inFlight);
    await this.#pool.close();
  }

  #seal(): void {
    const batch = this.#current!;
    this.#sealed.push({ batch, body: batch.seal(), count: batch.count });
    this.#current = null;
  }

  #pump(force = false): void {
    while (this.#sealed.length > 0 && (force || this.#inFlight.size < MAX_IN_FLIGHT)) {
      const batch = this.#sealed.shift()!;
      this.#queued -= batch.count;
      const p = this.#export(batch).finally(() => {
        this.#inFlight.delete(p);
        this.#pump();
      });
      this.#inFlight.add(p);
    }
  }

  /** One batch: sent, retried while retryable. */
  async #export({ batch, body, count }: Sealed): Promise<void> {
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#send(body);
          this.exported += count;
          // Reused for a later batch only after an answered export (a failed one may still
          // have its bytes in a socket write).
          batch.reset();
          if (batch.capacity <= 4 * 1024 * 1024 && this.#free.length < 4) this.#free.push(batch);
          return;
        } catch (err) {
          const retryable = !(err instanceof ExportError) || err.retryable;
          if (!retryable || attempt >= RETRIES || this.#closing) throw err;
          this.retries++;
          const delay = err instanceof ExportError && err.retryAfterMs > 0 ? err.retryAfterMs : RETRY_DELAY_MS * 2 ** attempt * (0.75 + Math.random() * 0.5);
          await this.#wait(delay);
        }
      }
    } catch (err) {
      this.dropped += count;
      const now = Date.now();
      if (now - this.#lastWarn >= WARN_EVERY_MS) {
        this.#lastWarn = now;
        this.#logger?.warn({ type: 'tracing', err, dropped: this.dropped }, 'span export failed; spans dropped');
      }
    }
  }

  /** One POST of an export body (http-post.ts). */
  async #send(body: Buffer): Promise<void> {
    const answer = await post(this.#pool, this.#path, this.#headers, body, EXPORT_TIMEOUT_MS).catch((err: unknown) => {
      throw new ExportError(`the collector did not answer: ${(err as Error).message}`, true);
    });
    if (answer.status < 300) return;
    throw new ExportError(`the collector answered ${answer.status}`, RETRYABLE_STATUS.has(answer.status), retryAfterMs(answer, MAX_RETRY_AFTER_MS));
  }

  /** Waits `ms` (unref'd), or less when shutdown wakes it. */
  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#waits.add(wake);
    });
  }
}

const SUFFIX = frag(']}]}]}');

function attr(key: string, value: string): string {
  return `{"key":"${key}","value":{"stringValue":${JSON.stringify(value)}}}`;
}
