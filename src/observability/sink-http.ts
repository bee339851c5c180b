// The `http` log sink: a batch of records POSTed to a URL as JSON lines
// (application/x-ndjson) or one JSON array (application/json, the body of Kong's http-log
// with batching), gzip-compressed on request, with the configured headers (credentials
// included: they are sent, never logged) and TLS options. 2xx is delivered; no answer, 408,
// 429 and 5xx are retried (after the receiver's Retry-After when it sends one); any other
// answer refuses the batch for good.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Pool } from '../upstream/undici-pool.js';
import { DeliveryError, type SinkTransport } from './delivery-queue.js';
import { post, retryAfterMs } from './http-post.js';
import type { HttpSinkSpec } from './log-sink-config.js';

const gzipAsync = promisify(gzip);

export class HttpSinkTransport implements SinkTransport<string> {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #array: boolean;
  readonly #gzip: boolean;
  readonly #timeoutMs: number;
  readonly #maxRetryAfterMs: number;

  constructor(spec: HttpSinkSpec) {
    const url = new URL(spec.url);
    // One connection: one batch is in flight at a time.
    this.#pool = new Pool(url.origin, { connections: 1, keepAliveTimeout: 30_000, ...(spec.tls !== null ? { connect: spec.tls } : {}) });
    this.#path = url.pathname + url.search;
    this.#array = spec.format === 'json_array';
    this.#gzip = spec.gzip;
    this.#timeoutMs = spec.timeoutMs;
    this.#maxRetryAfterMs = spec.delivery.maxDelayMs;
    const headers: Record<string, string> = { ...spec.headers, 'content-type': this.#array ? 'application/json' : 'application/x-ndjson' };
    if (spec.gzip) headers['content-encoding'] = 'gzip';
    this.#headers = Object.entries(headers).flat();
  }

  async send(batch: readonly string[]): Promise<void> {
    const text = this.#array ? `[${batch.join(',')}]` : `${batch.join('\n')}\n`;
    const body = this.#gzip ? await gzipAsync(text) : Buffer.from(text);
    const answer = await post(this.#pool, this.#path, this.#headers, body, this.#timeoutMs).catch((err: unknown) => {
      throw new DeliveryError(`the receiver did not answer: ${(err as Error).message}`, true);
    });
    if (answer.status < 300) return;
    const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500;
    throw new DeliveryError(`the receiver answered ${answer.status}`, retryable, retryAfterMs(answer, this.#maxRetryAfterMs));
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}
