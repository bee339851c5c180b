// OTLP/HTTP (JSON encoding) export of finished spans in batches, following the OTLP spec:
// POST {resourceSpans:[{resource, scopeSpans:[{scope, spans}]}]} to the configured endpoint.
// Spans arrive as compact records (span-record.ts) and are written as OTLP/JSON bytes here,
// one batch at a time, off the request path. The queue is bounded: when the collector is
// slow or down, spans beyond it are dropped and counted (northgate_tracing_spans_dropped_total)
// rather than growing memory; at most two exports are in flight. A failed export is retried
// twice with backoff when the OTLP spec calls the failure retryable (no answer, 429, 502,
// 503, 504), then its spans are dropped and counted.
import { hostname } from 'node:os';
import { Pool } from 'undici';
import type { Logger } from '../runtime/logger.js';
import { frag, JsonBytes } from './otlp-json.js';
import type { SpanRecord } from './span-record.js';

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

export interface ExporterConfig {
  readonly endpoint: string;
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

export class SpanExporter {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #prefix: Buffer;
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger | null;
  #queue: SpanRecord[] = [];
  #inFlight = new Set<Promise<void>>();
  /** Body writers not in use (one per export in flight is enough). */
  readonly #free: JsonBytes[] = [];
  /** Backoff timers of exports waiting to retry (cut short by shutdown). */
  readonly #waits = new Set<() => void>();
  #scheduled = false;
  #closing = false;
  #lastWarn = 0;
  /** Spans dropped (queue full or export failed for good), exported, and export retries, since start. */
  dropped = 0;
  exported = 0;
  retries = 0;

  constructor(config: ExporterConfig, logger: Logger | null) {
    const url = new URL(config.endpoint);
    this.#pool = new Pool(url.origin, { connections: MAX_IN_FLIGHT, keepAliveTimeout: 30_000 });
    this.#path = url.pathname + url.search;
    this.#headers = { ...config.headers, 'content-type': 'application/json' };
    this.#logger = logger;
    const resource = [
      attr('service.name', config.serviceName),
      attr('host.name', hostname()),
      `{"key":"process.pid","value":{"intValue":${process.pid}}}`,
      attr('telemetry.sdk.name', 'northgate'),
      attr('telemetry.sdk.language', 'nodejs'),
    ].join(',');
    this.#prefix = frag(`{"resourceSpans":[{"resource":{"attributes":[${resource}]},"scopeSpans":[{"scope":{"name":"northgate"},"spans":[`);
    this.#timer = setInterval(() => this.flush(), config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Spans waiting to be exported. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues one finished span. */
  add(span: SpanRecord): void {
    const queue = this.#queue;
    if (queue.length >= MAX_QUEUE) {
      this.dropped++;
      return;
    }
    queue.push(span);
    if (queue.length >= BATCH && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Starts exports of what is queued, as far as the in-flight limit allows (all of it with `force`). */
  flush(force = false): void {
    while (this.#queue.length > 0 && (force || this.#inFlight.size < MAX_IN_FLIGHT)) {
      const queue = this.#queue;
      const batch = queue.length <= BATCH ? queue : queue.splice(0, BATCH);
      if (batch === queue) this.#queue = [];
      const p = this.#export(batch).finally(() => {
        this.#inFlight.delete(p);
        if (this.#queue.length >= BATCH) this.flush();
      });
      this.#inFlight.add(p);
    }
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

  /** One batch: written once, sent, retried while retryable. */
  async #export(batch: SpanRecord[]): Promise<void> {
    const body = this.#free.pop() ?? new JsonBytes();
    try {
      this.#write(body, batch);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#send(body.bytes);
          this.exported += batch.length;
          // Reused for a later batch only after an answered export (a failed one may still
          // have its bytes in a socket write).
          body.reset();
          if (body.buf.length <= 4 * 1024 * 1024) this.#free.push(body);
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
      this.dropped += batch.length;
      const now = Date.now();
      if (now - this.#lastWarn >= WARN_EVERY_MS) {
        this.#lastWarn = now;
        this.#logger?.warn({ type: 'tracing', err, dropped: this.dropped }, 'span export failed; spans dropped');
      }
    }
  }

  #write(w: JsonBytes, batch: SpanRecord[]): void {
    w.fragment(this.#prefix);
    for (let i = 0; i < batch.length; i++) {
      if (i > 0) {
        w.room(1);
        w.buf[w.pos++] = 44; // ,
      }
      batch[i]!.write(w);
    }
    w.fragment(SUFFIX);
  }

  async #send(body: Buffer): Promise<void> {
    let res;
    try {
      res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: this.#headers,
        body,
        headersTimeout: EXPORT_TIMEOUT_MS,
        bodyTimeout: EXPORT_TIMEOUT_MS,
      });
    } catch (err) {
      throw new ExportError(`the collector did not answer: ${(err as Error).message}`, true);
    }
    await res.body.dump();
    if (res.statusCode < 300) return;
    const retryAfter = Number(res.headers['retry-after']);
    throw new ExportError(
      `the collector answered ${res.statusCode}`,
      RETRYABLE_STATUS.has(res.statusCode),
      Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) : 0,
    );
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
