// Load shedding per service: at most `limit` requests in flight (a fixed `max_concurrent`,
// an adaptive limit, or the lower of both), then a bounded FIFO queue whose entries wait at
// most `queue.timeout`; past that, the caller answers 503 at once. Every entry waits the
// same time, so the queue is ordered by deadline too: one timer, armed for the head's
// deadline, expires entries (no timer per queued request). Entries are an intrusive
// doubly-linked list so a client that leaves is unlinked in O(1).
import type { AdaptiveLimit } from './adaptive.js';

export interface Waiter {
  /** Set by the limiter. */
  deadline: number;
  prev: Waiter | null;
  next: Waiter | null;
  queued: boolean;
  /** A slot was handed over: the request may go upstream. */
  admit(): void;
  /** The wait passed queue.timeout. */
  expire(): void;
}

export interface QueuePolicy {
  readonly size: number;
  readonly timeoutMs: number;
}

export class ConcurrencyLimiter {
  /** Requests holding a slot. */
  inflight = 0;
  /** Requests waiting in the queue. */
  queued = 0;
  readonly maxConcurrent: number;
  readonly queue: QueuePolicy;
  readonly adaptive: AdaptiveLimit | null;
  #head: Waiter | null = null;
  #tail: Waiter | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(maxConcurrent: number, queue: QueuePolicy, adaptive: AdaptiveLimit | null) {
    this.maxConcurrent = maxConcurrent;
    this.queue = queue;
    this.adaptive = adaptive;
  }

  get limit(): number {
    const a = this.adaptive;
    return a === null ? this.maxConcurrent : Math.min(this.maxConcurrent, a.limit);
  }

  /** Takes a slot when one is free and nobody waits before us. */
  tryAcquire(): boolean {
    if (this.inflight >= this.limit || this.#head !== null) return false;
    this.inflight++;
    return true;
  }

  /** Queues the waiter; false when the queue is full (or has no room at all). */
  enqueue(w: Waiter, now: number): boolean {
    if (this.queued >= this.queue.size) return false;
    w.deadline = now + this.queue.timeoutMs;
    w.queued = true;
    w.prev = this.#tail;
    w.next = null;
    if (this.#tail === null) this.#head = w;
    else this.#tail.next = w;
    this.#tail = w;
    this.queued++;
    if (this.#timer === null) this.#arm(w.deadline, now);
    // A slot may have freed without a release (the adaptive limit rose): never wait next to one.
    if (this.inflight < this.limit) this.drain();
    return true;
  }

  /** Unlinks a waiter that gave up (its client left). */
  remove(w: Waiter): void {
    if (!w.queued) return;
    w.queued = false;
    if (w.prev === null) this.#head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.#tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = w.next = null;
    this.queued--;
  }

  /** A request gave its slot back; the longest waiter gets one if the limit allows. */
  release(): void {
    this.inflight--;
    this.drain();
  }

  /** Hands free slots to waiters, oldest first (also after the adaptive limit rose). */
  drain(): void {
    while (this.#head !== null && this.inflight < this.limit) {
      const w = this.#head;
      this.remove(w);
      this.inflight++;
      w.admit();
    }
  }

  #arm(at: number, now: number): void {
    this.#timer = setTimeout(() => this.#sweep(), Math.max(1, at - now));
    this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = null;
    const now = performance.now();
    while (this.#head !== null && this.#head.deadline <= now) {
      const w = this.#head;
      this.remove(w);
      w.expire();
    }
    if (this.#head !== null) this.#arm(this.#head.deadline, now);
  }
}
