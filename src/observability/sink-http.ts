// The sinks that POST their batches: `http` — a batch as JSON lines
// (application/x-ndjson) or one JSON array (application/json, the body of Kong's http-log
// with batching), gzip-compressed on request — and `otlp-logs` (sink-otlp-logs.ts encodes
// its body). Headers (credentials included: they are sent, never logged) and TLS options
// come from the config. 2xx is delivered; no answer and the retryable statuses are retried
// (after the receiver's Retry-After when it sends one); any other answer refuses the batch
// for good.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ConnectionOptions } from 'node:tls';
import { NativePool } from '../upstream/native-pool.js';
import { DeliveryError, type SinkTransport } from './delivery-queue.js';
import { post, retryAfterMs } from './http-post.js';
import type { HttpSinkSpec } from './log-sink-config.js';

const gzipAsync = promisify(gzip);

export interface PostOptions<R> {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: ConnectionOptions | null;
  readonly timeoutMs: number;
  /** A Retry-After is followed up to this long. */
  readonly maxRetryAfterMs: number;
  readonly contentType: string;
  readonly encode: (batch: readonly R[]) => Buffer;
  readonly gzip: boolean;
  /** Whether a batch refused with this status may succeed later. */
  readonly retryable: (status: number) => boolean;
}

export class PostTransport<R> implements SinkTransport<R> {
  readonly #pool: NativePool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #opts: PostOptions<R>;

  constructor(opts: PostOptions<R>) {
    const url = new URL(opts.url);
    // One connection: one batch is in flight at a time. Through Northgate's own HTTP/1.1
    // client (the proxy's under `engine: native`): a 45 KB batch to a local receiver took
    // about 1.5 times the CPU through undici's Pool (user time nearly twice).
    this.#pool = new NativePool(url.origin, { connections: 1, keepAliveTimeoutMs: 30_000, tls: opts.tls });
    this.#path = url.pathname + url.search;
    this.#opts = opts;
    const headers: Record<string, string> = { ...opts.headers, 'content-type': opts.contentType };
    if (opts.gzip) headers['content-encoding'] = 'gzip';
    this.#headers = Object.entries(headers).flat();
  }

  async send(batch: readonly R[]): Promise<void> {
    const o = this.#opts;
    const text = o.encode(batch);
    const body = o.gzip ? await gzipAsync(text) : text;
    const answer = await post(this.#pool, this.#path, this.#headers, body, o.timeoutMs).catch((err: unknown) => {
      throw new DeliveryError(`the receiver did not answer: ${(err as Error).message}`, true);
    });
    if (answer.status < 300) return;
    throw new DeliveryError(`the receiver answered ${answer.status}`, o.retryable(answer.status), retryAfterMs(answer, o.maxRetryAfterMs));
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

export function httpSinkTransport(spec: HttpSinkSpec): SinkTransport<string> {
  const array = spec.format === 'json_array';
  return new PostTransport<string>({
    url: spec.url,
    headers: spec.headers,
    tls: spec.tls,
    timeoutMs: spec.timeoutMs,
    maxRetryAfterMs: spec.delivery.maxDelayMs,
    contentType: array ? 'application/json' : 'application/x-ndjson',
    encode: array ? (batch) => joinedBytes(batch, '[', ',', ']') : (batch) => joinedBytes(batch, '', '\n', '\n'),
    gzip: spec.gzip,
    retryable: (status) => status === 408 || status === 429 || status >= 500,
  });
}

/**
 * `open` + the records separated by `separator` + `close`, as UTF-8 (one-character ASCII
 * delimiters). Each record is written straight into the body: joining the strings first and
 * encoding the result copied every record twice, and the join walked each record's pieces
 * (a record is a concatenation of its fields, not yet one flat string).
 */
export function joinedBytes(batch: readonly string[], open: string, separator: string, close: string): Buffer {
  // Room for ASCII records (the usual case); a record that may not fit grows the body.
  let size = open.length + close.length + batch.length;
  for (const r of batch) size += r.length;
  let body = Buffer.allocUnsafe(size);
  let at = body.write(open, 0, 'latin1');
  const sep = separator.charCodeAt(0);
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i]!;
    if (i > 0) body[at++] = sep;
    // Room is kept for what follows: the next separator or the closing delimiter.
    if (body.length - at - 1 - close.length < r.length * 3) {
      const need = at + Buffer.byteLength(r) + (batch.length - i) + close.length;
      if (need > body.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, body.length * 2));
        body.copy(grown, 0, 0, at);
        body = grown;
      }
    }
    at += body.write(r, at);
  }
  at += body.write(close, at, 'latin1');
  return body.subarray(0, at);
}
