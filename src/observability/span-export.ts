// OTLP/HTTP (JSON encoding) export of finished spans in batches, following the OTLP spec:
// POST {resourceSpans:[{resource, scopeSpans:[{scope, spans}]}]} to the configured endpoint.
// Spans arrive already serialized (one JSON object each), so a batch is one join. The
// queue is bounded: when the collector is slow or down, spans beyond it are dropped and
// counted rather than growing memory; at most two exports are in flight.
import { hostname } from 'node:os';
import { Pool } from 'undici';
import type { Logger } from '../runtime/logger.js';

const MAX_QUEUE = 4096;
const BATCH = 512;
const MAX_IN_FLIGHT = 2;
const EXPORT_TIMEOUT_MS = 10_000;
/** Export failures are logged at most this often. */
const WARN_EVERY_MS = 30_000;

export interface ExporterConfig {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly headers: Record<string, string>;
  readonly flushIntervalMs: number;
}

export class SpanExporter {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #prefix: string;
  readonly #timer: NodeJS.Timeout;
  readonly #logger: Logger | null;
  #queue: string[] = [];
  #inFlight = new Set<Promise<void>>();
  #scheduled = false;
  #lastWarn = 0;
  /** Spans dropped (queue full or export failed) and exported, since start. */
  dropped = 0;
  exported = 0;

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
    this.#prefix = `{"resourceSpans":[{"resource":{"attributes":[${resource}]},"scopeSpans":[{"scope":{"name":"northgate"},"spans":[`;
    this.#timer = setInterval(() => this.flush(), config.flushIntervalMs);
    this.#timer.unref();
  }

  /** Queues one span (a serialized OTLP JSON span object). */
  add(span: string): void {
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
      const batch = this.#queue.length <= BATCH ? this.#queue : this.#queue.slice(0, BATCH);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(BATCH);
      const p = this.#send(batch).finally(() => {
        this.#inFlight.delete(p);
        if (this.#queue.length >= BATCH) this.flush();
      });
      this.#inFlight.add(p);
    }
  }

  /** Exports everything queued and waits for it (each export bounded by its timeout). */
  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    this.flush(true);
    await Promise.all(this.#inFlight);
    await this.#pool.close();
  }

  async #send(batch: string[]): Promise<void> {
    try {
      const res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: this.#headers,
        body: `${this.#prefix}${batch.join(',')}]}]}]}`,
        headersTimeout: EXPORT_TIMEOUT_MS,
        bodyTimeout: EXPORT_TIMEOUT_MS,
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`the collector answered ${res.statusCode}`);
      this.exported += batch.length;
    } catch (err) {
      this.dropped += batch.length;
      const now = Date.now();
      if (now - this.#lastWarn >= WARN_EVERY_MS) {
        this.#lastWarn = now;
        this.#logger?.warn({ type: 'tracing', err, dropped: this.dropped }, 'span export failed; spans dropped');
      }
    }
  }
}

function attr(key: string, value: string): string {
  return `{"key":"${key}","value":{"stringValue":${JSON.stringify(value)}}}`;
}
