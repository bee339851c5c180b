// OTLP/HTTP (JSON encoding) export of finished spans in batches, following the OTLP spec:
// POST {resourceSpans:[{resource, scopeSpans:[{scope, spans}]}]} to the configured endpoint.
// Spans arrive as compact records (span-record.ts) and are written as OTLP/JSON bytes here,
// off the request path: 64 at a time in a setImmediate into the current batch's buffer, so a
// record is garbage before the next young-generation GC instead of surviving (and being
// copied) until its batch is sent; written batches wait as bytes outside the JS heap. The queue is bounded: when the collector is
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
/** Finished spans are written into the current batch this many at a time (one setImmediate), so their records do not outlive a young-generation GC. */
const ENCODE_CHUNK = 64;
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

/** A batch written and waiting to be sent (or being sent). */
interface Sealed {
  readonly body: JsonBytes;
  readonly count: number;
}

export class SpanExporter {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #prefix: Buffer;
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger | null;
  /** Finished spans not written yet: written in chunks of ENCODE_CHUNK, so records die young. */
  #pending: SpanRecord[] = [];
  /** The batch being written, and its span count. */
  #current: JsonBytes | null = null;
  #currentCount = 0;
  /** Written batches waiting for an export slot. */
  readonly #sealed: Sealed[] = [];
  /** Spans pending, being written or sealed (not yet handed to an export). */
  #queued = 0;
  #inFlight = new Set<Promise<void>>();
  /** Body writers not in use. */
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

  /** Spans waiting to be exported (not counting exports in flight). */
  get queued(): number {
    return this.#queued;
  }

  /** Queues one finished span. */
  add(span: SpanRecord): void {
    if (this.#queued >= MAX_QUEUE) {
      this.dropped++;
      return;
    }
    this.#queued++;
    this.#pending.push(span);
    if (this.#pending.length >= ENCODE_CHUNK && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#writePending();
        this.#pump();
      });
    }
  }

  /** Writes what is queued into batches and starts exports, as far as the in-flight limit allows (all of it with `force`). */
  flush(force = false): void {
    this.#writePending();
    if (this.#currentCount > 0) this.#seal();
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

  /** Writes the pending records into the current batch (sealing each full one). */
  #writePending(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    for (let i = 0; i < pending.length; i++) {
      let w = this.#current;
      if (w === null) {
        w = this.#current = this.#free.pop() ?? new JsonBytes();
        w.fragment(this.#prefix);
      } else {
        w.room(1);
        w.buf[w.pos++] = 44; // ,
      }
      pending[i]!.write(w);
      if (++this.#currentCount >= BATCH) this.#seal();
    }
  }

  #seal(): void {
    const body = this.#current!;
    body.fragment(SUFFIX);
    this.#sealed.push({ body, count: this.#currentCount });
    this.#current = null;
    this.#currentCount = 0;
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
  async #export({ body, count }: Sealed): Promise<void> {
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#send(body.bytes);
          this.exported += count;
          // Reused for a later batch only after an answered export (a failed one may still
          // have its bytes in a socket write).
          body.reset();
          if (body.buf.length <= 4 * 1024 * 1024 && this.#free.length < 4) this.#free.push(body);
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
