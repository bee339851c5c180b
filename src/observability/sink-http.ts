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
import { DeliveryError, type Batching, type SinkTransport } from './delivery-queue.js';
import { post, retryAfterMs } from './http-post.js';
import type { HttpSinkSpec } from './log-sink-config.js';

const gzipAsync = promisify(gzip);

export interface PostOptions<R, B = readonly R[]> {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: ConnectionOptions | null;
  readonly timeoutMs: number;
  /** A Retry-After is followed up to this long. */
  readonly maxRetryAfterMs: number;
  readonly contentType: string;
  /** How records are gathered (default: an array of them). */
  readonly batching?: Batching<R, B>;
  /** The body of a batch (called for each attempt). */
  readonly encode: (batch: B) => Buffer;
  readonly gzip: boolean;
  /** Whether a batch refused with this status may succeed later. */
  readonly retryable: (status: number) => boolean;
}

export class PostTransport<R, B = readonly R[]> implements SinkTransport<R, B> {
  readonly batching: Batching<R, B> | undefined;
  readonly #pool: NativePool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #opts: PostOptions<R, B>;

  constructor(opts: PostOptions<R, B>) {
    this.batching = opts.batching;
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

  async send(batch: B): Promise<void> {
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

export function httpSinkTransport(spec: HttpSinkSpec): SinkTransport<string, BatchBody> {
  const array = spec.format === 'json_array';
  return new PostTransport<string, BatchBody>({
    url: spec.url,
    headers: spec.headers,
    tls: spec.tls,
    timeoutMs: spec.timeoutMs,
    maxRetryAfterMs: spec.delivery.maxDelayMs,
    contentType: array ? 'application/json' : 'application/x-ndjson',
    batching: array ? new BodyBatching('[', ',', ']') : new BodyBatching('', '\n', '\n'),
    encode: (batch) => batch.body(),
    gzip: spec.gzip,
    retryable: (status) => status === 408 || status === 429 || status >= 500,
  });
}

/**
 * A batch's body as it fills: `open`, then each record encoded (UTF-8) straight into one
 * growing buffer as it is queued, after a `separator` from the previous one; `close` ends the
 * body when it is sent. A record is written once, where it will be sent from: no string is
 * held per record, no array of them, no second pass to join and encode them. Delimiters are
 * one ASCII character.
 */
export class BatchBody {
  buf: Buffer;
  at: number;
  readonly #close: number;

  constructor(buf: Buffer, open: string, close: string) {
    this.buf = buf;
    this.at = buf.write(open, 0, 'latin1');
    this.#close = close.charCodeAt(0);
  }

  /** The body with its closing delimiter (the same bytes each time: a retry sends it again). */
  body(): Buffer {
    this.buf[this.at] = this.#close;
    return this.buf.subarray(0, this.at + 1);
  }
}

/** Buffers of finished batches kept for new ones (a batch is up to ~512 KB with the default batch limits). */
const SPARE_BUFFERS = 2;

/**
 * Opens and fills BatchBody buffers. A new body starts as large as the previous one ended
 * (and an eighth more), so that it rarely grows and batches held while a receiver is down
 * take about the room of their records. The buffer of a finished batch serves a later one
 * (a steady sink allocates no buffer per batch), but only once the batch after it has
 * finished too: a batch's answer can come before the socket has written all of its body
 * (a receiver that answers early), while the next batch's answer comes after the receiver
 * read that batch's head, which the socket sends after every byte of the previous body (or
 * the connection was closed, and a closed socket writes nothing more).
 */
export class BodyBatching implements Batching<string, BatchBody> {
  readonly #open: string;
  readonly #separator: number;
  readonly #close: string;
  #lastUsed = 0;
  /** The batch finished last: its buffer may still be being written. */
  #finished: Buffer | null = null;
  /** Buffers free for new batches. */
  readonly #spare: Buffer[] = [];

  constructor(open: string, separator: string, close: string) {
    this.#open = open;
    this.#separator = separator.charCodeAt(0);
    this.#close = close;
  }

  open(): BatchBody {
    const used = this.#lastUsed;
    const size = Math.max(16 * 1024, used + (used >> 3));
    let buf = this.#spare.pop();
    // A spare too small for the batches of late is let go.
    while (buf !== undefined && buf.length < size) buf = this.#spare.pop();
    return new BatchBody(buf ?? Buffer.allocUnsafeSlow(size), this.#open, this.#close);
  }

  add(batch: BatchBody, record: string): number {
    let { buf, at } = batch;
    const start = at;
    // Room for the separator, the record (at most 3 bytes per UTF-16 unit) and the closing
    // delimiter; only a record that might not fit is measured.
    if (buf.length - at - 2 < record.length * 3) {
      const need = at + Buffer.byteLength(record) + 2;
      if (need > buf.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(need, buf.length * 2));
        buf.copy(grown, 0, 0, at);
        batch.buf = buf = grown;
      }
    }
    // The first record follows the opening delimiter; the others a separator.
    if (at > this.#open.length) buf[at++] = this.#separator;
    batch.at = at + buf.write(record, at);
    this.#lastUsed = batch.at;
    return batch.at - start;
  }

  release(batch: BatchBody): void {
    const previous = this.#finished;
    this.#finished = batch.buf;
    if (previous !== null && this.#spare.length < SPARE_BUFFERS) this.#spare.push(previous);
  }
}
