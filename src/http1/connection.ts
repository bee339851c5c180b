// One socket to the origin and the exchange running on it: one request at a time, its
// response parsed by llhttp and handed to undici's legacy handler callbacks, with one timer
// per connection for each phase (connect, response head, body gaps, idle). Requests marked
// `pipelined` (idempotent, no body) that the pool hands over together go out behind the
// current one in the same socket write and are answered in order (RFC 9112 §9.3.2); the
// unanswered ones of a connection that closes are sent again on fresh connections. The
// pool owns the connections; this file owns one exchange.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { bodyTimeout, connectTimeout, headersTimeout, parserError, responseLengthMismatch, socketError } from './errors.js';
import { ResponseParser, type ParseFailure, type ResponseSink } from './response-parser.js';
import type { H1Request } from './request.js';
import { RequestWriter, type WriterOwner } from './request-writer.js';

/** What every connection of one pool shares (one object per pool). */
export interface ConnectionConfig {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly tls: ConnectionOptions | null;
  readonly servername: string | undefined;
  readonly connectTimeoutMs: number;
  readonly keepAliveMs: number;
  /** Taken off an upstream's Keep-Alive timeout, so the gateway stops reusing first. */
  readonly keepAliveThresholdMs: number;
  readonly maxHeaderSize: number;
}

export interface ConnectionOwner {
  /** The exchange ended and the connection can serve another request. */
  released(conn: H1Connection): void;
  /** The socket closed. */
  closed(conn: H1Connection): void;
  /** `req` failed on a stale reused connection before any answer: it goes to a fresh one. */
  retry(req: H1Request): void;
}

const TIMER_NONE = 0;
const TIMER_CONNECT = 1;
const TIMER_HEADERS = 2;
const TIMER_BODY = 3;
const TIMER_IDLE = 4;

const KEEP_ALIVE_TIMEOUT = /timeout=(\d+)/i;
/** Requests on one connection at a time at most when pipelined (the current one included). */
const MAX_PIPELINE = 16;
const EMPTY: Buffer[] = Object.freeze([]) as unknown as Buffer[];
/** Failures of a reused connection that mean the upstream had closed it (undici's stale socket case). */
const STALE_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Common header names as Buffers, filled as they are seen (bounded), so a response head allocates only its values. */
const NAME_BUFFERS = new Map<string, Buffer>();
function nameBuffer(name: string): Buffer {
  let b = NAME_BUFFERS.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'latin1');
    if (NAME_BUFFERS.size < 512) NAME_BUFFERS.set(name, b);
  }
  return b;
}

/** undici hands header pairs over as Buffers. */
function rawPairs(pairs: string[]): Buffer[] {
  const out = new Array<Buffer>(pairs.length);
  for (let i = 0; i < pairs.length; i += 2) {
    out[i] = nameBuffer(pairs[i]!);
    out[i + 1] = Buffer.from(pairs[i + 1]!, 'latin1');
  }
  return out;
}

export class H1Connection implements ResponseSink, WriterOwner {
  readonly socket: Socket;
  readonly #pool: ConnectionOwner;
  readonly #config: ConnectionConfig;
  readonly #parser: ResponseParser;
  readonly #writer: RequestWriter;
  /** The request served (or waiting for the connect). */
  #req: H1Request | null;
  /** Pipelined requests written behind #req, in the order their answers come. */
  #pipeline: H1Request[] | null = null;
  /** pipeline() takes requests: from openPipeline() until the microtasks after it have run (the socket is corked meanwhile). */
  #pipelineOpen = false;
  readonly #closePipeline = (): void => {
    this.#pipelineOpen = false;
    this.socket.uncork();
  };
  /** It served a request before: a failure without any answer may be a stale socket. */
  reused = false;
  /** The pool's tick when it was released (reuse waits one turn of the event loop). */
  releasedAt = 0;
  #error: Error | null = null;
  #idleMs: number;
  // The current response.
  #status = 0;
  #answered = false;
  #responseKeepAlive = true;
  #contentLength = -1;
  #bytesRead = 0;
  #paused = false;
  /** The upstream took some of the request body (a 'drain') since the head timer last ran. */
  #bodyProgress = false;
  #held: Buffer[] | null = null;
  #heldEnd = false;
  #heldTrailers: string[] | null = null;
  /** A response ended inside the chunk being parsed (bytes after it are the next message's). */
  #endedInChunk = false;
  /** The one timer: it fires at `#due` at the latest, and then looks at the phase's `#deadline` (see #arm). */
  #timer: NodeJS.Timeout | null = null;
  #timerKind = TIMER_NONE;
  #timerMs = 0;
  /** performance.now() when the current phase times out, and when the timer is set to fire. */
  #deadline = 0;
  #due = 0;
  /** Given to onHeaders: the handler calls it to get the body flowing again. */
  readonly resume = (): void => this.#resume();
  readonly #onTimer = (): void => this.#timeout();

  constructor(pool: ConnectionOwner, config: ConnectionConfig, first: H1Request) {
    this.#pool = pool;
    this.#config = config;
    this.#req = first;
    this.#idleMs = config.keepAliveMs;
    const socket = config.secure
      ? tlsConnect({ ...config.tls, host: config.host, port: config.port, ALPNProtocols: ['http/1.1'], ...(config.servername !== undefined ? { servername: config.servername } : {}) })
      : netConnect({ host: config.host, port: config.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once(config.secure ? 'secureConnect' : 'connect', () => this.#connected());
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('end', () => this.#ended());
    socket.on('error', (err: Error) => this.#socketError(err));
    socket.on('close', () => this.#closed());
    socket.on('drain', () => {
      this.#bodyProgress = true;
      this.#writer.drained();
    });
    this.#parser = new ResponseParser(this, config.maxHeaderSize);
    this.#writer = new RequestWriter(this, socket);
    this.#arm(TIMER_CONNECT, config.connectTimeoutMs);
  }

  #connected(): void {
    this.#arm(TIMER_NONE, 0);
    // The parser reads the socket's handle itself when it can (then no 'data' events come).
    this.#parser.consume(this.socket as unknown as { _handle?: unknown });
    const req = this.#req;
    this.#req = null;
    if (req === null || req.done) this.#pool.released(this);
    else this.start(req);
  }

  /** Serves `req` (the connection is connected and free). */
  start(req: H1Request): void {
    this.#begin(req);
    this.socket.ref();
    if (!req.retried) {
      try {
        req.handler.onConnect?.(req.abort);
      } catch (err) {
        return this.abortRequest(req, err as Error);
      }
      // Aborted in onConnect: the connection went back to the pool untouched.
      if (this.#req !== req) return;
    }
    this.#bodyProgress = false;
    this.#arm(TIMER_HEADERS, req.headersTimeout);
    this.#writer.write(req);
  }

  /** `req` becomes the exchange whose response is read next. */
  #begin(req: H1Request): void {
    this.#req = req;
    req.conn = this;
    this.#status = 0;
    this.#answered = false;
    this.#responseKeepAlive = true;
    this.#contentLength = -1;
    this.#bytesRead = 0;
    this.#paused = false;
    this.#held = null;
    this.#heldEnd = false;
    this.#idleMs = this.#config.keepAliveMs;
  }

  /**
   * Corks the socket and takes pipelined requests (pipeline()) until the current microtasks
   * have run: the requests a caller dispatches together leave in one write.
   */
  openPipeline(): void {
    if (this.#pipelineOpen) return;
    this.#pipelineOpen = true;
    this.socket.cork();
    queueMicrotask(this.#closePipeline);
  }

  /**
   * Writes `req` behind the current request, when both are pipelined and the pipeline is
   * open and not full; false leaves `req` to the pool. True when `req` is taken (or ended
   * by its handler's onConnect).
   */
  pipeline(req: H1Request): boolean {
    const current = this.#req;
    if (!this.#pipelineOpen || current === null || !current.pipelined || current.reset || !req.pipelined || this.socket.destroyed) return false;
    const queue = (this.#pipeline ??= []);
    if (queue.length + 1 >= MAX_PIPELINE) return false;
    try {
      req.handler.onConnect?.(req.abort);
    } catch (err) {
      req.fail(err as Error);
      return true;
    }
    // Aborted in onConnect: nothing was written.
    if (req.done) return true;
    req.conn = this;
    queue.push(req);
    this.#writer.write(req);
    return true;
  }

  /** Back in the pool: idle until reused or timed out; idle sockets never keep the process alive. */
  idle(): void {
    this.#arm(TIMER_IDLE, this.#idleMs);
    this.socket.unref();
  }

  /**
   * The handler's abort(). A pipelined request waiting for its turn ends at once; its answer
   * would still come, so the connection closes when that turn comes (see #next).
   */
  abortRequest(req: H1Request, err: Error): void {
    if (this.#req !== req) return req.fail(err);
    this.#req = null;
    this.#arm(TIMER_NONE, 0);
    this.#writer.stop();
    const clean = !req.written;
    req.fail(err);
    // Nothing was written: the connection is as good as before.
    if (clean && !this.socket.destroyed) this.#pool.released(this);
    else this.socket.destroy();
  }

  destroy(err: Error): void {
    this.#error ??= err;
    this.socket.destroy();
  }

  // WriterOwner

  requestSent(req: H1Request): void {
    // The head timeout counts from the end of the request (as undici's does).
    if (this.#req === req && this.#status === 0 && this.#timerKind === TIMER_HEADERS) this.#extend();
  }

  requestFailed(req: H1Request, err: Error): void {
    if (this.#req === req) this.#fail(err);
  }

  // ResponseSink (called from inside the parser)

  parsedBegin(): void {
    // A response after the one that was asked for: the connection cannot be trusted any more.
    if (this.#req === null) this.#unsolicited();
  }

  parsedHead(status: number, statusText: string, headers: string[], upgrade: boolean, keepAlive: boolean): number {
    const req = this.#req;
    if (req === null) {
      this.#unsolicited();
      return 1;
    }
    this.#answered = true;
    // llhttp takes any three digits; below 100 is no HTTP status (undici fails an assertion there).
    if (status < 100) {
      this.#fail(parserError({ code: 'HPE_INVALID_STATUS', reason: 'Invalid status code' }));
      return 1;
    }
    if (status < 200) {
      // An unasked 100 Continue is skipped (RFC 9110 §15.2); the head timeout keeps running across 1xx.
      if (status === 100) return 0;
      try {
        req.handler.onHeaders?.(status, rawPairs(headers), this.resume, statusText);
      } catch (err) {
        this.#fail(err as Error);
        return 1;
      }
      // No upgrade was asked for: the connection no longer speaks HTTP/1.1.
      if ((status === 101 || upgrade) && this.#req === req) this.#fail(socketError('bad upgrade'));
      return 0;
    }
    this.#status = status;
    this.#responseKeepAlive = keepAlive;
    for (let i = 0; i < headers.length; i += 2) {
      const len = headers[i]!.length;
      if (len === 14) {
        if (headers[i]!.toLowerCase() === 'content-length') this.#contentLength = Number(headers[i + 1]);
      } else if (len === 10 && keepAlive && headers[i]!.toLowerCase() === 'keep-alive') {
        const m = KEEP_ALIVE_TIMEOUT.exec(headers[i + 1]!);
        if (m !== null) {
          const ms = Number(m[1]) * 1000 - this.#config.keepAliveThresholdMs;
          if (ms <= 0) req.reset = true;
          else if (ms < this.#idleMs) this.#idleMs = ms;
        }
      }
    }
    this.#arm(TIMER_BODY, req.bodyTimeout);
    let go: boolean;
    const handler = req.handler;
    try {
      if (handler.onHeaderStrings !== undefined) go = handler.onHeaderStrings(status, headers, this.resume, statusText) !== false;
      else go = handler.onHeaders?.(status, rawPairs(headers), this.resume, statusText) !== false;
    } catch (err) {
      this.#fail(err as Error);
      return 1;
    }
    if (!go && this.#req === req) this.#pause();
    return req.method === 'HEAD' ? 1 : 0;
  }

  parsedBody(chunk: Buffer): void {
    const req = this.#req;
    if (req === null) return this.#unsolicited();
    this.#bytesRead += chunk.length;
    if (this.#paused) {
      (this.#held ??= []).push(chunk);
      return;
    }
    if (this.#timerKind === TIMER_BODY) this.#extend();
    let go: boolean;
    try {
      go = req.handler.onData?.(chunk) !== false;
    } catch (err) {
      return this.#fail(err as Error);
    }
    if (!go && this.#req === req) this.#pause();
  }

  parsedEnd(trailers: string[] | null): void {
    const req = this.#req;
    if (req === null) return this.#unsolicited();
    // The end of a 1xx message: the final answer follows.
    if (this.#status === 0) return;
    if (this.#paused) {
      this.#heldEnd = true;
      this.#heldTrailers = trailers;
      return;
    }
    this.#complete(req, trailers);
  }

  #complete(req: H1Request, trailers: string[] | null): void {
    this.#req = null;
    this.#endedInChunk = true;
    this.#arm(TIMER_NONE, 0);
    req.done = true;
    req.conn = null;
    // Answered before the whole request went out (an early 413, say): that request is cut short.
    const writing = this.#writer.writing;
    if (writing) this.#writer.stop();
    this.reused = true;
    try {
      req.handler.onComplete?.(trailers === null ? EMPTY : rawPairs(trailers));
    } catch (err) {
      return this.destroy(err as Error);
    }
    if (writing || req.reset || !this.#responseKeepAlive || this.socket.destroyed) this.socket.destroy();
    else if (!this.#next()) this.#pool.released(this);
  }

  /** The next pipelined request's answer is read next; false when none is waiting. */
  #next(): boolean {
    const queue = this.#pipeline;
    if (queue === null || queue.length === 0) return false;
    const req = queue.shift()!;
    // Aborted while it waited: its answer is of no use and the ones after it come behind it.
    if (req.done) {
      this.socket.destroy();
      return true;
    }
    this.#begin(req);
    this.#bodyProgress = false;
    this.#arm(TIMER_HEADERS, req.headersTimeout);
    return true;
  }

  #pause(): void {
    this.#paused = true;
    this.socket.pause();
    this.#parser.reading(false);
  }

  #resume(): void {
    const req = this.#req;
    if (!this.#paused || req === null) return;
    this.#paused = false;
    if (this.#timerKind === TIMER_BODY) this.#extend();
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      for (let i = 0; i < held.length; i++) {
        let go: boolean;
        try {
          go = req.handler.onData?.(held[i]!) !== false;
        } catch (err) {
          return this.#fail(err as Error);
        }
        if (this.#req !== req) return;
        if (!go) {
          this.#paused = true;
          if (i + 1 < held.length) this.#held = held.slice(i + 1);
          return;
        }
      }
    }
    // Reading goes on before the exchange completes: a kept connection goes back to the pool
    // (or to a pipelined request's answer) reading, so that it sees its next answer and an
    // upstream that closes it while idle.
    this.socket.resume();
    this.#parser.reading(true);
    if (this.#heldEnd) {
      this.#heldEnd = false;
      const trailers = this.#heldTrailers;
      this.#heldTrailers = null;
      this.#complete(req, trailers);
      // Not inside a parse: the next chunk's bytes are judged on their own.
      this.#endedInChunk = false;
    }
  }

  // Socket events

  #data(chunk: Buffer): void {
    if (this.#req === null) return this.#unsolicited();
    const failure = this.#parser.execute(chunk);
    if (failure !== null) this.#parseFailed(failure);
  }

  parsedChunk(failure: ParseFailure | null, bytes: number): void {
    const ended = this.#endedInChunk;
    this.#endedInChunk = false;
    if (failure !== null) return this.#parseFailed(failure);
    // Bytes while no request was waiting (an idle connection): as in #data.
    if (this.#req === null && !ended && bytes > 0) this.#unsolicited();
  }

  /** Bytes no request asked for (after a complete response, or on an idle connection): the connection is unusable. */
  #unsolicited(): void {
    if (!this.socket.destroyed) this.destroy(socketError('unexpected data from the upstream'));
  }

  #parseFailed(failure: ParseFailure): void {
    if (this.#req === null) return void this.socket.destroy();
    this.#fail(this.#status !== 0 && this.#contentLength !== -1 && this.#bytesRead !== this.#contentLength ? responseLengthMismatch() : parserError(failure));
  }

  #ended(): void {
    const req = this.#req;
    if (req !== null && this.#status !== 0 && !this.#responseKeepAlive) {
      // A body read to EOF ends here (or is found short).
      const failure = this.#parser.finish();
      if (failure !== null) this.#parseFailed(failure);
    } else if (req !== null) {
      this.#fail(socketError('other side closed'));
    }
    this.socket.destroy();
  }

  #socketError(err: Error): void {
    // A reset after a close-delimited body (some systems reset instead of FIN): the body may be whole.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' && this.#req !== null && this.#status !== 0 && !this.#responseKeepAlive) {
      const failure = this.#parser.finish();
      if (failure === null) return;
      this.#error ??= this.#contentLength !== -1 && this.#bytesRead !== this.#contentLength ? responseLengthMismatch() : parserError(failure);
      return;
    }
    this.#error ??= err;
  }

  #closed(): void {
    this.#arm(TIMER_NONE, 0);
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#req !== null) this.#fail(this.#error ?? socketError('closed'));
    this.#writer.stop();
    this.#parser.close();
    this.#pool.closed(this);
    const waiting = this.#pipeline;
    this.#pipeline = null;
    if (waiting !== null) for (const req of waiting) this.#unanswered(req, this.#error ?? socketError('closed'));
  }

  /** A pipelined request the connection closed under before its answer: sent again on a fresh connection once, as a stale socket's. */
  #unanswered(req: H1Request, err: Error): void {
    if (req.done) return;
    req.conn = null;
    if (req.retriable && req.handler.onReplay?.(err) !== false) {
      req.retried = true;
      return this.#pool.retry(req);
    }
    req.fail(err);
  }

  /** Ends the current exchange with `err`: a stale reused connection retries it once on a fresh one, when the handler lets it. */
  #fail(err: Error): void {
    const req = this.#req;
    if (req === null) return;
    this.#req = null;
    this.#arm(TIMER_NONE, 0);
    this.#writer.stop();
    this.#error ??= err;
    if (!this.socket.destroyed) this.socket.destroy();
    // The handler has the last word: a replay is one more try at the upstream, which its retry policy may not allow.
    if (this.reused && !this.#answered && req.retriable && STALE_CODES.has((err as NodeJS.ErrnoException).code ?? '') && req.handler.onReplay?.(err) !== false) {
      req.retried = true;
      req.conn = null;
      return this.#pool.retry(req);
    }
    req.fail(err);
  }

  // The one timer

  // A phase change costs no timer operation when the timer already fires no later than the
  // new deadline (the common case: the idle timeout is the shortest): it stays, and when it
  // fires early it is set again for what is left. Setting, clearing and re-creating a node
  // timer for every phase was a few per cent of a proxied request's CPU.

  /** Starts phase `kind` with `ms` to run (0: no timeout). */
  #arm(kind: number, ms: number): void {
    if (ms <= 0) {
      // The timer, if any, fires for nothing (it is unref'd) or serves the next phase.
      this.#timerKind = TIMER_NONE;
      return;
    }
    const now = performance.now();
    this.#timerKind = kind;
    this.#timerMs = ms;
    this.#deadline = now + ms;
    this.#schedule(now, ms);
  }

  /** The current phase starts over (node's timer.refresh()). */
  #extend(): void {
    const now = performance.now();
    this.#deadline = now + this.#timerMs;
    this.#schedule(now, this.#timerMs);
  }

  /** Makes the timer fire within `ms` from `now`. */
  #schedule(now: number, ms: number): void {
    if (this.#timer !== null) {
      if (this.#due <= now + ms) return;
      clearTimeout(this.#timer);
    }
    this.#due = now + ms;
    this.#timer = setTimeout(this.#onTimer, ms);
    this.#timer.unref();
  }

  #timeout(): void {
    this.#timer = null;
    if (this.#timerKind === TIMER_NONE) return;
    const now = performance.now();
    if (now < this.#deadline) return this.#schedule(now, Math.max(1, Math.ceil(this.#deadline - now)));
    switch (this.#timerKind) {
      case TIMER_CONNECT:
        return this.destroy(connectTimeout());
      case TIMER_HEADERS:
        // Still sending a body the upstream reads (the socket takes more, or took some since
        // the last tick): the head cannot be late yet. An upstream that read nothing for a
        // whole timeout is.
        if (this.#writer.writing && (!this.socket.writableNeedDrain || this.#bodyProgress)) {
          this.#bodyProgress = false;
          return this.#extend();
        }
        return this.#fail(headersTimeout());
      case TIMER_BODY:
        // The handler paused the body: a slow reader is not a slow upstream.
        if (this.#paused) return this.#extend();
        return this.#fail(bodyTimeout());
      case TIMER_IDLE:
        return void this.socket.destroy();
    }
  }
}
