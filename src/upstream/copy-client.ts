// The gateway's side of the SDK's CopyClient (src/sdk/copy-client.ts): copies of requests,
// fire-and-forget, through the pools of an upstream's targets. The pools are the ones the
// proxy forwards with (the native engine's HTTP/1.1 client, or undici's Pool under
// `engine: node`), driven the way forward.ts drives them: one dispatch with a handler object,
// no promise or stream per copy. What a copy costs beyond the bytes is one handler object,
// its header list and a slot in a deadline queue; one timer per client sweeps the queue.
//
// Bounds: at most `maxInFlight` copies are on their way (one more is dropped), each within
// `timeoutMs` from send to the end of its answer (then aborted), bodies of `maxBodyBytes` at
// most; an answer is read away up to MAX_ANSWER_BYTES, past which its connection is closed.
import type { Dispatcher } from 'undici';
import type { PluginContext } from '../sdk/context.js';
import type { CopyClient, CopyClientOptions, CopyDropReason } from '../sdk/copy-client.js';
import { attemptEnded, attemptStarted } from './balancer.js';
import { recordFailure, recordSuccess } from './retry.js';
import type { Target } from './target.js';
import type { Upstream } from './upstream.js';

/** Client headers that are not the copy's: it has its own Host, framing and no expectation. */
const NOT_COPIED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'te', 'upgrade', 'keep-alive', 'proxy-connection']);
/** The most of a copy's answer read to keep its connection; a longer one closes it. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** The deadline sweep runs this often at most, and at least every quarter of the timeout. */
const SWEEP_MAX_MS = 250;
const SWEEP_MIN_MS = 5;
/** What a copy's end tells of its target's health. */
type Outcome = typeof ANSWERED | typeof FAILED | typeof NEUTRAL;
const ANSWERED = 0;
const FAILED = 1;
const NEUTRAL = 2;
/** Failures of the gateway's side, not the target's. */
const NOT_THE_TARGETS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'ERR_NORTHGATE_UPSTREAM_QUEUE_FULL']);
const TIMED_OUT = new Error('the copy passed its deadline');

/**
 * `pipelined`: the native engine's client writes the copies of one batch (see leave()) that
 * it can pipeline (bodiless GETs and the like) behind each other on one connection, in one
 * socket write, instead of one connection and one write each; undici's Pool ignores it.
 */
interface CopyDispatchOptions extends Dispatcher.DispatchOptions {
  readonly pipelined: boolean;
}
const TOO_LONG = new Error('the copy\'s answer is longer than the gateway reads');

/**
 * Copies to `upstream`'s targets (picked by its balancer). It holds nothing of its own to
 * release: the pools are the snapshot's, and the sweep timer (unref'd) stops once no copy
 * is left on its way, so copies sent before a reload still end within their deadline.
 */
export class UpstreamCopyClient implements CopyClient {
  readonly #upstream: Upstream;
  readonly #maxInFlight: number;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #onDropped: NonNullable<CopyClientOptions['onDropped']> | null;
  #inFlight = 0;
  /** Copies by deadline (all share the timeout, so send order is deadline order); ended ones are skipped. */
  #queue: CopyExchange[] = [];
  #queueHead = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #sweepMs: number;
  readonly #sweep = (): void => this.#expire();

  constructor(upstream: Upstream, options: CopyClientOptions) {
    const { maxInFlight, timeoutMs, maxBodyBytes } = options;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > 10_000) throw new RangeError(`maxInFlight must be an integer from 1 to 10000, not ${maxInFlight}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs < 10 || timeoutMs > 60_000) throw new RangeError(`timeoutMs must be from 10 to 60000, not ${timeoutMs}`);
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) throw new RangeError(`maxBodyBytes must be an integer from 0, not ${maxBodyBytes}`);
    this.#upstream = upstream;
    this.#maxInFlight = options.maxInFlight;
    this.#timeoutMs = options.timeoutMs;
    this.#maxBodyBytes = options.maxBodyBytes;
    this.#onDropped = options.onDropped ?? null;
    this.#sweepMs = Math.max(SWEEP_MIN_MS, Math.min(SWEEP_MAX_MS, Math.floor(options.timeoutMs / 4)));
  }

  get full(): boolean {
    return this.#inFlight >= this.#maxInFlight;
  }

  /** Copies on their way (tests, status). */
  get inFlight(): number {
    return this.#inFlight;
  }

  send(ctx: PluginContext, body: Buffer | null): void {
    if (this.#inFlight >= this.#maxInFlight) return this.dropped('overloaded', ctx);
    if (body !== null && body.length > this.#maxBodyBytes) return this.dropped('body', ctx);
    const upstream = this.#upstream;
    const target = upstream.balancer.pick(Date.now(), null, ctx);
    if (target === null) return this.dropped('unavailable', ctx);
    const raw = ctx.upstreamHeaders.raw;
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      // Most names are not among NOT_COPIED: only the lengths that could be are lower-cased.
      const len = name.length;
      if ((len === 2 || len === 4 || len === 6 || len === 7 || len === 10 || len === 14 || len === 16 || len === 17) && NOT_COPIED.has(name.toLowerCase())) continue;
      headers.push(name, raw[i + 1]!);
    }
    if (target.hostHeader !== null) headers.push('host', target.hostHeader);
    const startedAt = performance.now();
    const opts: CopyDispatchOptions = { path: ctx.upstreamPath, method: ctx.method as Dispatcher.HttpMethod, headers, body, pipelined: true };
    const exchange = new CopyExchange(this, ctx, target, opts, startedAt, startedAt + this.#timeoutMs);
    this.#inFlight++;
    this.#queue.push(exchange);
    this.#timer ??= setInterval(this.#sweep, this.#sweepMs).unref();
    attemptStarted(target);
    leaveLater(exchange);
  }

  // For CopyExchange.

  /** A copy ended: the target's passive health hears `outcome` (a timeout or a refused argument says nothing of it). */
  ended(target: Target, outcome: Outcome): void {
    this.#inFlight--;
    if (outcome === FAILED) recordFailure(this.#upstream, target, Date.now());
    else if (outcome === ANSWERED) recordSuccess(target);
  }

  dropped(reason: CopyDropReason, ctx: PluginContext): void {
    const on = this.#onDropped;
    if (on === null) return;
    try {
      on(reason, ctx);
    } catch {
      // A listener's failure is not the copy's, and never the client's.
    }
  }

  #expire(): void {
    const now = performance.now();
    const queue = this.#queue;
    let head = this.#queueHead;
    while (head < queue.length) {
      const e = queue[head]!;
      if (!e.done && e.deadline > now) break;
      queue[head++] = undefined as unknown as CopyExchange;
      if (!e.done) e.expire();
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
      // Nothing left to watch: the next copy starts the timer again.
      if (this.#timer !== null) clearInterval(this.#timer);
      this.#timer = null;
    } else if (head > 1024 && head * 2 > queue.length) {
      this.#queue = queue.slice(head);
      head = 0;
    }
    this.#queueHead = head;
  }
}

/**
 * Copies leave after the requests of the same turn of the event loop: the ones sent during
 * a turn are dispatched together from one Immediate, so a client's request reaches its
 * upstream (often the mirror's own host) before the copy of it, and the copy's work never
 * sits between a request the gateway read and its forwarding.
 */
let leaving: CopyExchange[] = [];
let leaveScheduled = false;

function leaveLater(exchange: CopyExchange): void {
  leaving.push(exchange);
  if (leaveScheduled) return;
  leaveScheduled = true;
  setImmediate(leave);
}

function leave(): void {
  const batch = leaving;
  leaving = [];
  leaveScheduled = false;
  for (let i = 0; i < batch.length; i++) batch[i]!.dispatch();
}

/** One copy on its way: undici's legacy handler shape, which both engines' pools call. */
class CopyExchange implements Dispatcher.DispatchHandler {
  readonly #client: UpstreamCopyClient;
  readonly #target: Target;
  readonly #startedAt: number;
  /** The request, until it is dispatched. */
  #opts: CopyDispatchOptions | null;
  /** Released when the copy ends, so a finished copy waiting in the deadline queue holds no request. */
  #ctx: PluginContext | null;
  #abort: ((err?: Error) => void) | null = null;
  #respondedAt = 0;
  #answerBytes = 0;
  #status = 0;
  done = false;
  readonly deadline: number;

  constructor(client: UpstreamCopyClient, ctx: PluginContext, target: Target, opts: CopyDispatchOptions, startedAt: number, deadline: number) {
    this.#client = client;
    this.#ctx = ctx;
    this.#target = target;
    this.#opts = opts;
    this.#startedAt = startedAt;
    this.deadline = deadline;
  }

  /** Hands the copy to its target's pool (unless its deadline passed first). */
  dispatch(): void {
    const opts = this.#opts!;
    this.#opts = null;
    if (this.done) return;
    try {
      this.#target.dispatcher.dispatch(opts, this);
    } catch (err) {
      // A dispatcher reports failures to the handler; a throw is a refused argument.
      this.onError(err as Error);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.done) abort(TIMED_OUT);
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode < 200) return true;
    this.#status = statusCode;
    this.#respondedAt = performance.now();
    return true;
  }

  /** The native engine's client: the final head as strings, which a copy never reads (no Buffer per header made for it). */
  onHeaderStrings(statusCode: number): boolean {
    this.#status = statusCode;
    this.#respondedAt = performance.now();
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#answerBytes += chunk.length;
    if (this.#answerBytes > MAX_ANSWER_BYTES && !this.done) {
      // Delivered: only the rest of its answer is not worth a connection's time.
      this.#end(this.#status >= 500 ? FAILED : ANSWERED, null);
      this.#abort?.(TOO_LONG);
    }
    return true;
  }

  onComplete(): void {
    if (!this.done) this.#end(this.#status >= 500 ? FAILED : ANSWERED, null);
  }

  onError(err: Error): void {
    if (this.done) return;
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return this.#end(NEUTRAL, 'timeout');
    // A request the client refused to send (a method or header it does not take), or a pool
    // closed by a reload or full, says nothing of the target.
    this.#end(code !== undefined && NOT_THE_TARGETS.has(code) ? NEUTRAL : FAILED, 'error');
  }

  /** The deadline passed: abort and count it. */
  expire(): void {
    if (this.done) return;
    // A copy whose answer came whole in time is not here; one still arriving ran out of time.
    this.#end(NEUTRAL, 'timeout');
    this.#abort?.(TIMED_OUT);
  }

  #end(outcome: Outcome, dropped: CopyDropReason | null): void {
    this.done = true;
    this.#opts = null;
    attemptEnded(this.#target, this.#startedAt, this.#respondedAt);
    this.#client.ended(this.#target, outcome);
    const ctx = this.#ctx!;
    this.#ctx = null;
    if (dropped !== null) this.#client.dropped(dropped, ctx);
  }
}
