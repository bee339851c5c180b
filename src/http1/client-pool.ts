// Northgate's HTTP/1.1 client: a pool of kept-alive connections to one origin (http: or
// https:) with the low-level surface of undici's Pool that the proxy drives,
// `dispatch(opts, handler)` with undici's legacy handler callbacks, `close()` and
// `destroy()`, so the forward path and its handler object stay the same whichever client
// runs. One request per connection at a time, but for `pipelined` ones dispatched together
// (in one synchronous run: the copies of request-mirror), which go out on the connection
// the first of them took, in one write (see connection.ts); idle connections are reused last-in
// first-out (the warmest socket, and the others time out), but only from the next turn of
// the event loop after they were released: bytes or a FIN an upstream sent after its
// response are read first, and such a connection is dropped instead of reused. A
// connection limit bounds the sockets; beyond it requests wait in a bounded queue.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { H1Connection, type ConnectionConfig, type ConnectionOwner } from './connection.js';
import { closed, destroyed, queueFull } from './errors.js';
import { H1Request, type H1DispatchOptions, type H1Handler } from './request.js';
import { assertParserAvailable } from './response-parser.js';

export type { H1DispatchOptions, H1Handler } from './request.js';

export interface H1PoolOptions {
  /** Connections to the origin at most (default 1024, as the undici pools). */
  readonly connections?: number;
  /** Requests waiting for a connection at most; beyond, a dispatch fails at once (default 65536). */
  readonly maxQueue?: number;
  /** Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long an idle connection is kept (default 4 s); an upstream's shorter Keep-Alive timeout wins. */
  readonly keepAliveTimeoutMs?: number;
  /** Taken off an upstream's Keep-Alive timeout (default 1 s). */
  readonly keepAliveTimeoutThresholdMs?: number;
  /** TLS options for https: (src/upstream/tls.ts's `connect`): ca, cert/key, rejectUnauthorized, servername, checkServerIdentity. */
  readonly tls?: ConnectionOptions | null;
  /** SNI when the origin is an address resolved from this name (tls.servername wins). */
  readonly servername?: string | undefined;
  /** Bytes of a response head at most (0: node's --max-http-header-size, 16 KiB by default). */
  readonly maxHeaderSize?: number;
}

export class H1Pool implements ConnectionOwner {
  readonly #config: ConnectionConfig;
  readonly #hostHeader: string;
  readonly #max: number;
  readonly #maxQueue: number;
  readonly #all = new Set<H1Connection>();
  /** Idle connections, the most recently released last. */
  readonly #idle: H1Connection[] = [];
  #queue: H1Request[] = [];
  #queueHead = 0;
  /** Turns of the event loop (advanced by one Immediate at most per turn). */
  #tick = 1;
  #tickScheduled = false;
  #closed = false;
  #destroyed = false;
  #closeWaiters: Array<() => void> | null = null;
  /** The connection the last pipelined request took: the next ones go behind it while it takes them. */
  #pipeTail: H1Connection | null = null;
  readonly #onTick = (): void => this.#advance();

  constructor(origin: string, opts: H1PoolOptions = {}) {
    assertParserAvailable();
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the HTTP/1.1 client speaks http: and https:, not ${url.protocol}`);
    const secure = url.protocol === 'https:';
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const tls = opts.tls ?? null;
    const servername = (tls?.servername as string | undefined) ?? opts.servername ?? (isIP(host) === 0 ? host : undefined);
    this.#config = {
      host,
      port: url.port !== '' ? Number(url.port) : secure ? 443 : 80,
      secure,
      tls,
      servername,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepAliveMs: opts.keepAliveTimeoutMs ?? 4_000,
      keepAliveThresholdMs: opts.keepAliveTimeoutThresholdMs ?? 1_000,
      maxHeaderSize: opts.maxHeaderSize ?? 0,
    };
    this.#hostHeader = url.host;
    this.#max = Math.max(1, opts.connections ?? 1024);
    this.#maxQueue = Math.max(0, opts.maxQueue ?? 65_536);
  }

  /** Sends a request; false when it had to wait for a connection (as undici's "busy"), or failed at once. */
  dispatch(opts: H1DispatchOptions, handler: H1Handler): boolean {
    if (this.#closed) {
      handler.onError?.(this.#destroyed ? destroyed() : closed());
      return false;
    }
    let req: H1Request;
    try {
      req = new H1Request(opts, handler, this.#hostHeader);
    } catch (err) {
      handler.onError?.(err as Error);
      return false;
    }
    return this.#run(req, false);
  }

  /** Stops taking requests; resolves once those in flight and queued have finished and every socket is closed. */
  close(): Promise<void> {
    this.#closed = true;
    return new Promise((resolve) => {
      (this.#closeWaiters ??= []).push(resolve);
      this.#checkClosed();
    });
  }

  /** Fails queued and running requests (UND_ERR_DESTROYED, or `err`) and closes every socket. */
  destroy(err?: Error): Promise<void> {
    this.#closed = true;
    this.#destroyed = true;
    const queue = this.#queue;
    const head = this.#queueHead;
    this.#queue = [];
    this.#queueHead = 0;
    for (let i = head; i < queue.length; i++) queue[i]!.fail(err ?? destroyed());
    for (const conn of this.#all) conn.destroy(err ?? destroyed());
    return this.close();
  }

  /** For tests and metrics: sockets open (or opening), idle, and requests waiting. */
  get stats(): { connections: number; idle: number; queued: number } {
    return { connections: this.#all.size, idle: this.#idle.length, queued: this.#queue.length - this.#queueHead };
  }

  #run(req: H1Request, fresh: boolean): boolean {
    if (this.#destroyed) {
      req.fail(destroyed());
      return false;
    }
    if (!fresh && this.#queue.length === this.#queueHead) {
      if (req.pipelined && this.#pipeTail?.pipeline(req) === true) return true;
      const conn = this.#takeIdle();
      if (conn !== null) {
        this.#start(conn, req);
        return true;
      }
    }
    // Idle connections a turn away from usable are worth the wait rather than a new socket.
    if (this.#all.size < this.#max && (fresh || this.#idle.length === 0)) {
      this.#open(req);
      return true;
    }
    if (this.#queue.length - this.#queueHead >= this.#maxQueue) {
      req.fail(queueFull());
      return false;
    }
    this.#queue.push(req);
    this.#scheduleTick();
    return false;
  }

  /** `req` on an idle connection; a pipelined one opens the connection's pipeline for the requests dispatched with it. */
  #start(conn: H1Connection, req: H1Request): void {
    if (req.pipelined) {
      conn.openPipeline();
      this.#pipeTail = conn;
    }
    conn.start(req);
  }

  #open(req: H1Request): void {
    let conn: H1Connection;
    try {
      conn = new H1Connection(this, this.#config, req);
    } catch (err) {
      // Options tls.connect refuses (a malformed certificate, say).
      return req.fail(err as Error);
    }
    this.#all.add(conn);
  }

  /** The most recently released connection that has been idle since an earlier turn of the event loop. */
  #takeIdle(): H1Connection | null {
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const conn = idle[i]!;
      if (conn.releasedAt < this.#tick) {
        if (i === idle.length - 1) idle.pop();
        else idle.splice(i, 1);
        return conn;
      }
    }
    return null;
  }

  #scheduleTick(): void {
    if (this.#tickScheduled) return;
    this.#tickScheduled = true;
    setImmediate(this.#onTick);
  }

  #advance(): void {
    this.#tickScheduled = false;
    this.#tick++;
    this.#drainQueue();
    this.#checkClosed();
  }

  #drainQueue(): void {
    const queue = this.#queue;
    while (this.#queueHead < queue.length) {
      const req = queue[this.#queueHead]!;
      if (!req.done && !(req.pipelined && this.#pipeTail?.pipeline(req) === true)) {
        const conn = this.#takeIdle();
        if (conn !== null) this.#start(conn, req);
        else if (this.#all.size < this.#max) this.#open(req);
        else break;
      }
      queue[this.#queueHead++] = undefined as unknown as H1Request;
    }
    if (this.#queueHead === queue.length) {
      queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > queue.length) {
      this.#queue = queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #checkClosed(): void {
    if (!this.#closed || this.#queueHead < this.#queue.length) return;
    if (this.#idle.length === this.#all.size) for (const conn of this.#idle.splice(0)) conn.socket.destroy();
    if (this.#all.size === 0 && this.#closeWaiters !== null) {
      const waiters = this.#closeWaiters;
      this.#closeWaiters = null;
      for (const w of waiters) w();
    }
  }

  // ConnectionOwner

  released(conn: H1Connection): void {
    if (this.#closed && this.#queueHead === this.#queue.length) {
      conn.socket.destroy();
      return;
    }
    conn.releasedAt = this.#tick;
    this.#idle.push(conn);
    conn.idle();
    this.#scheduleTick();
  }

  closed(conn: H1Connection): void {
    this.#all.delete(conn);
    if (this.#pipeTail === conn) this.#pipeTail = null;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    if (this.#queueHead < this.#queue.length) this.#scheduleTick();
    this.#checkClosed();
  }

  retry(req: H1Request): void {
    this.#run(req, true);
  }
}

/** An HTTP/1.1 pool to `origin`; throws when this node lacks the llhttp binding it parses with. */
export function createH1Pool(origin: string, opts: H1PoolOptions = {}): H1Pool {
  return new H1Pool(origin, opts);
}
