// The one delivery mechanism of the log sinks: a bounded queue of records per sink, sent in
// batches (when `batchSize` records or `maxBytes` bytes are waiting, or every `intervalMs`),
// one batch in flight at a time so that a receiver sees records in order. A batch that fails
// is retried with exponential back-off and jitter for as long as it takes (a receiver's
// Retry-After is followed up to the cap); new records keep queueing meanwhile, and only when
// the queue is full are they dropped. A batch the receiver refuses for good (a 4xx other than
// 408/429, or a sink that does not retry, such as StatsD over UDP) is dropped at once. Every
// drop, failed attempt and retry is counted, and logged at most every 30 s per sink. Records
// are pushed by the log shipper outside the request path; nothing here runs for a request.
// A batch is whatever the sink's transport gathers records into: an array of them by
// default, or (the http sink) the request body itself, each record encoded into it as it
// comes, so that nothing is held as a string or encoded again when the batch leaves.
import type { Logger } from '../base/logger.js';

/**
 * How a transport gathers records into a batch: `open` makes an empty one, `add` puts a
 * record in it and says how many bytes that added; `release`, when given, is told of a batch
 * the queue is done with (delivered, refused or failed for good), after its last attempt
 * settled, so that its room may serve again. A batch dropped while an attempt may still be in
 * flight (the drain time ran out) is never released.
 */
export interface Batching<R, B> {
  open(): B;
  add(batch: B, record: R): number;
  release?(batch: B): void;
}

/** Sends one batch; rejects with a DeliveryError (any other error counts as retryable). */
export interface SinkTransport<R, B = readonly R[]> {
  /** How records are gathered; without it, a batch is the array of its records. */
  readonly batching?: Batching<R, B>;
  /** Sends `batch` (again, after a failure: a batch is sent as often as it takes). */
  send(batch: B): Promise<void>;
  /** Ends connections (an attempt in flight fails). */
  close(): Promise<void>;
}

/** A batch as an array of its records; a record's size is its length (a string's UTF-16 units: its bytes when ASCII). */
const ARRAYS: Batching<{ length: number }, unknown[]> = {
  open: () => [],
  add: (batch, record) => {
    batch.push(record);
    return record.length;
  },
};

/** A batch, and how many records and bytes it holds. */
interface Held<B> {
  readonly batch: B;
  count: number;
  bytes: number;
}

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The receiver's Retry-After, in ms (0: none). */
    readonly retryAfterMs = 0,
  ) {
    super(message);
  }
}

export interface DeliveryOptions {
  /** Records held at most (waiting and in flight); more are dropped. */
  readonly maxQueue: number;
  readonly batchSize: number;
  /** A batch holding this many bytes takes no more records (it may end one record past them). */
  readonly maxBytes: number;
  readonly intervalMs: number;
  /** Back-off before the first retry, doubled per retry up to `maxDelayMs` (each with ±50% jitter below it). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** false: a failed batch is dropped at once (datagram sinks, where a resend has no better chance). */
  readonly retry: boolean;
}

/** Counts since start. */
export interface DeliveryCounts {
  /** Records the receiver accepted. */
  sent: number;
  /** Records dropped because the queue was full. */
  dropped: number;
  /** Records of batches refused for good (or failed, for a sink that does not retry). */
  rejected: number;
  /** Records still held when the drain time ran out. */
  abandoned: number;
  /** Failed send attempts, and retries. */
  failed: number;
  retried: number;
}

/** Failures are logged at most this often per sink. */
const WARN_EVERY_MS = 30_000;

export class DeliveryQueue<R, B = readonly R[]> {
  readonly name: string;
  readonly #transport: SinkTransport<R, B>;
  readonly #batching: Batching<R, B>;
  readonly #opts: DeliveryOptions;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  /** Batches waiting, oldest first: all full but perhaps the last, which fills. */
  #waiting: Array<Held<B>> = [];
  /** Records in #waiting. */
  #pending = 0;
  /** The batch being sent or waiting to be retried. */
  #batch: Held<B> | null = null;
  #inFlight: Promise<void> | null = null;
  readonly #waits = new Set<() => void>();
  #closing = false;
  /** The drain time ran out: what is held was counted as abandoned. */
  #stopped = false;
  #lastWarn = 0;
  /** Counts at the last warning (the next one says what happened since). */
  #warned = { dropped: 0, failed: 0 };
  readonly counts: DeliveryCounts = { sent: 0, dropped: 0, rejected: 0, abandoned: 0, failed: 0, retried: 0 };

  constructor(name: string, transport: SinkTransport<R, B>, opts: DeliveryOptions, logger: Logger) {
    this.name = name;
    this.#transport = transport;
    // Without a batching of its own, a transport's batches are arrays (B defaults to readonly R[]).
    this.#batching = transport.batching ?? (ARRAYS as unknown as Batching<R, B>);
    this.#opts = opts;
    this.#logger = logger;
    this.#timer = setInterval(() => this.#pump(), opts.intervalMs);
    this.#timer.unref();
  }

  /** Records held: waiting, and in the batch being sent. */
  get queued(): number {
    return this.#pending + (this.#batch?.count ?? 0);
  }

  /**
   * Whether a record pushed now would be kept. When it would not (the queue is full, or
   * closing), the drop is counted here, so that a sink whose receiver is down costs no
   * record per request: the caller makes the record only when this says yes.
   */
  admit(): boolean {
    if (!this.#closing && this.queued < this.#opts.maxQueue) return true;
    this.counts.dropped++;
    this.#warn(null, 'log sink queue full; records dropped');
    return false;
  }

  push(record: R): void {
    if (this.admit()) this.enqueue(record);
  }

  /** Queues a record admit() said yes to (nothing happened to the queue in between). */
  enqueue(record: R): void {
    const waiting = this.#waiting;
    let last = waiting.length === 0 ? undefined : waiting[waiting.length - 1]!;
    if (last === undefined || this.#full(last)) waiting.push((last = { batch: this.#batching.open(), count: 0, bytes: 0 }));
    last.bytes += this.#batching.add(last.batch, record);
    last.count++;
    this.#pending++;
    if (this.#full(last)) this.#pump();
  }

  /** Whether a batch takes no more records: it holds batchSize of them, or maxBytes. */
  #full(held: Held<B>): boolean {
    return held.count >= this.#opts.batchSize || held.bytes >= this.#opts.maxBytes;
  }

  /**
   * Sends what is held within `deadlineMs` (retrying as usual), then ends the transport;
   * records still held then are counted as abandoned. Never rejects.
   */
  async close(deadlineMs: number): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#drain().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#stopped = true;
      this.counts.abandoned += this.queued;
      this.#waiting = [];
      this.#pending = 0;
      this.#batch = null;
      for (const wake of this.#waits) wake();
      if (this.counts.abandoned > 0) this.#logger.warn({ type: 'log_sink', sink: this.name, abandoned: this.counts.abandoned }, 'log sink not drained in time; records dropped');
    }
    // An attempt still in flight (only after the deadline) fails as the transport ends; its
    // records were counted as abandoned, and close() does not wait for it.
    await this.#transport.close().catch(() => undefined);
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && (this.#inFlight !== null || this.#pending > 0)) {
      this.#pump();
      await this.#inFlight;
    }
  }

  /** Starts sending the next batch unless one is in flight. */
  #pump(): void {
    if (this.#inFlight !== null || this.#pending === 0 || this.#stopped) return;
    const held = this.#waiting.shift()!;
    this.#pending -= held.count;
    this.#batch = held;
    this.#inFlight = this.#deliver(held).finally(() => {
      this.#batch = null;
      this.#inFlight = null;
      if (!this.#stopped) this.#batching.release?.(held.batch);
      const next = this.#waiting[0];
      if ((next !== undefined && this.#full(next)) || (this.#closing && !this.#stopped)) this.#pump();
    });
  }

  async #deliver(held: Held<B>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#transport.send(held.batch);
        if (this.#stopped) return;
        this.counts.sent += held.count;
        return;
      } catch (err) {
        if (this.#stopped) return;
        this.counts.failed++;
        const retryable = !(err instanceof DeliveryError) || err.retryable;
        if (!retryable || !this.#opts.retry) {
          this.counts.rejected += held.count;
          this.#warn(err, 'log sink batch failed; records dropped');
          return;
        }
        this.#warn(err, 'log sink batch failed; retrying');
        this.counts.retried++;
        await this.#wait(this.#delay(attempt, err instanceof DeliveryError ? err.retryAfterMs : 0));
        if (this.#stopped) return;
      }
    }
  }

  /** Exponential back-off with jitter ("equal jitter": half fixed, half random), at least a Retry-After, at most the cap. */
  #delay(attempt: number, retryAfterMs: number): number {
    const { baseDelayMs, maxDelayMs } = this.#opts;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 30));
    return Math.min(maxDelayMs, Math.max(retryAfterMs, ceiling / 2 + Math.random() * (ceiling / 2)));
  }

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

  /** Logs a failure or a drop, at most every 30 s per sink, with the counts since the last warning. */
  #warn(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.#lastWarn < WARN_EVERY_MS) return;
    this.#lastWarn = now;
    const c = this.counts;
    const reason = err === null ? undefined : err instanceof Error ? err.message : String(err);
    this.#logger.warn(
      { type: 'log_sink', sink: this.name, reason, queued: this.queued, dropped_since: c.dropped - this.#warned.dropped, failed_since: c.failed - this.#warned.failed, dropped: c.dropped, failed: c.failed },
      message,
    );
    this.#warned = { dropped: c.dropped, failed: c.failed };
  }
}
