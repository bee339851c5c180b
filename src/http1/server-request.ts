// A request read by the HTTP/1.1 engine: the head as llhttp read it, and the body as events
// ('data', 'end', 'aborted', 'error', 'close') with pause/resume, without a Readable per
// request, or in one piece (takeBody) when the parser has read all of it already. `headers` and `trailers` are built on first access with node's own joining rule
// (IncomingMessage.prototype._addHeaderLine: set-cookie as an array, singletons keep the first).
import { EventEmitter } from 'node:events';
import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { DownstreamRequest } from './types.js';

/** What a request needs from its connection: reading on and off the socket. */
export interface BodySource {
  readingChanged(): void;
}

type AddHeaderLine = (this: object, name: string, value: string, dest: Record<string, unknown>) => void;
const addHeaderLine = (IncomingMessage.prototype as unknown as { _addHeaderLine: AddHeaderLine })._addHeaderLine;
/** node's limit on header lines given to `headers` (its parser's maxHeaderPairs, names and values). */
const MAX_HEADER_ITEMS = 2000;
const NO_TRAILERS: string[] = [];
const EMPTY = Buffer.alloc(0);

function build(raw: string[]): Record<string, unknown> {
  const dest: Record<string, unknown> = {};
  const n = Math.min(raw.length, MAX_HEADER_ITEMS);
  for (let i = 0; i < n; i += 2) addHeaderLine.call(NO_JOIN, raw[i]!, raw[i + 1]!, dest);
  return dest;
}
const NO_JOIN = { joinDuplicateHeaders: false };

export class Http1Request extends EventEmitter implements DownstreamRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  rawTrailers: string[] = NO_TRAILERS;
  readonly socket: Socket;
  /** llhttp saw Connection: upgrade with Upgrade (or CONNECT). */
  readonly upgrade: boolean;
  complete = false;
  aborted = false;
  destroyed = false;
  readonly #source: BodySource;
  #headers: IncomingHttpHeaders | null = null;
  #trailers: NodeJS.Dict<string> | null = null;
  /** Body chunks read but not yet delivered (null: none). */
  #buffer: Buffer[] | null = null;
  #buffered = 0;
  /** Readable's readableFlowing: null until a consumer attaches, false once paused. */
  #flowing: boolean | null = null;
  #ended = false;
  #closed = false;
  #dumped = false;
  #didRead = false;
  #scheduled = false;

  constructor(source: BodySource, socket: Socket, method: string, url: string, major: number, minor: number, rawHeaders: string[], upgrade: boolean) {
    super();
    this.#source = source;
    this.socket = socket;
    this.method = method;
    this.url = url;
    this.httpVersionMajor = major;
    this.httpVersionMinor = minor;
    this.httpVersion = major === 1 ? (minor === 1 ? '1.1' : minor === 0 ? '1.0' : `1.${minor}`) : `${major}.${minor}`;
    this.rawHeaders = rawHeaders;
    this.upgrade = upgrade;
  }

  get headers(): IncomingHttpHeaders {
    return (this.#headers ??= build(this.rawHeaders) as IncomingHttpHeaders);
  }
  set headers(value: IncomingHttpHeaders) {
    this.#headers = value;
  }
  get trailers(): NodeJS.Dict<string> {
    return (this.#trailers ??= build(this.rawTrailers) as NodeJS.Dict<string>);
  }
  get readableEnded(): boolean {
    return this.#ended;
  }
  get readableFlowing(): boolean | null {
    return this.#flowing;
  }
  get readableDidRead(): boolean {
    return this.#didRead;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get errored(): Error | null {
    return null;
  }
  /** Bytes read from the socket and not yet delivered to a consumer. */
  get bufferedBytes(): number {
    return this.#buffered;
  }
  /** The consumer asked for a pause: the connection stops reading the socket. */
  get wantsPause(): boolean {
    return this.#flowing === false && !this.complete && !this.#dumped;
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    // As a Readable: a 'data' listener starts the flow unless the consumer paused it.
    if (event === 'data' && this.#flowing !== false) this.resume();
    return this;
  }
  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }

  pause(): this {
    if (this.#flowing !== false) {
      this.#flowing = false;
      this.#source.readingChanged();
    }
    return this;
  }

  resume(): this {
    if (this.#flowing !== true) {
      const wasPaused = this.#flowing === false;
      this.#flowing = true;
      this.#schedule();
      if (wasPaused) this.#source.readingChanged();
    }
    return this;
  }

  isPaused(): boolean {
    return this.#flowing === false;
  }

  unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    (this.#buffer ??= []).unshift(chunk);
    this.#buffered += chunk.length;
  }

  /** A body chunk from the parser. */
  push(chunk: Buffer): void {
    if (this.#dumped) return;
    if (this.#flowing === true && this.#buffer === null && !this.#scheduled) {
      this.#didRead = true;
      this.emit('data', chunk);
      return;
    }
    (this.#buffer ??= []).push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The whole body at once, when the parser has read all of it and none of it went to a
   * consumer yet (a small body that came with the head): the request then counts as read to
   * its end, without events or a tick. Null when it has more than `limit` bytes (nothing
   * taken); undefined when it is not all here, or reading it has begun.
   */
  takeBody(limit: number): Buffer | null | undefined {
    if (!this.complete || this.#ended || this.#didRead || this.#dumped || this.aborted || this.listenerCount('data') > 0) return undefined;
    const had = this.#buffered;
    if (had > limit) return null;
    const chunks = this.#buffer;
    const body = chunks === null ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, had);
    this.#buffer = null;
    this.#buffered = 0;
    this.#didRead = true;
    this.#ended = true;
    if (this.listenerCount('end') > 0) this.emit('end');
    if (had > 0) this.#source.readingChanged();
    return body;
  }

  /** The parser read the whole message (and its trailers). */
  finish(rawTrailers: string[] | null): void {
    this.complete = true;
    if (rawTrailers !== null) this.rawTrailers = rawTrailers;
    if (this.#flowing === true) this.#schedule();
  }

  /** The response ended before the body was read: the rest is read and dropped (node's _dump). */
  dump(): void {
    if (this.#dumped) return;
    this.#dumped = true;
    this.#buffer = null;
    this.#buffered = 0;
    this.removeAllListeners('data');
    this.#flowing = true;
    this.#schedule();
  }

  /** The exchange is over; `abort`: the connection ended before its response did (node's abortIncoming). */
  close(abort: boolean): void {
    if (this.#closed) return;
    if (abort && (!this.complete || !this.#ended)) this.#abort(null);
    this.#closed = true;
    this.destroyed = true;
    this.emit('close');
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    // As node: destroying an unfinished request destroys its connection.
    if (!this.complete) {
      this.#abort(error ?? null);
      this.socket.destroy();
    }
    return this;
  }

  #abort(error: Error | null): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#buffer = null;
    this.#buffered = 0;
    this.emit('aborted');
    if (this.listenerCount('error') > 0) this.emit('error', error ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(flow, this);
  }

  /** Delivers what was buffered while the consumer flows; 'end' once all of it went out. */
  flow(): void {
    this.#scheduled = false;
    const had = this.#buffered;
    while (this.#flowing === true && this.#buffer !== null) {
      const chunk = this.#buffer.shift()!;
      if (this.#buffer.length === 0) this.#buffer = null;
      this.#buffered -= chunk.length;
      this.#didRead = true;
      this.emit('data', chunk);
    }
    if (this.#flowing === true && this.#buffer === null && this.complete && !this.#ended && !this.aborted) {
      this.#ended = true;
      this.emit('end');
    }
    if (had > 0) this.#source.readingChanged();
  }

  /** Readable.iterator(): one chunk per step, the flow paused between steps. */
  async *iterator(options?: { destroyOnReturn?: boolean }): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let done = false;
    let failure: Error | null = null;
    let wake: (() => void) | null = null;
    const signal = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const onData = (c: Buffer) => {
      queue.push(c);
      this.pause();
      signal();
    };
    const onEnd = () => {
      done = true;
      signal();
    };
    const onError = (e: Error) => {
      failure = e;
      signal();
    };
    const onAborted = () => onError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    this.on('data', onData);
    this.on('end', onEnd);
    this.on('aborted', onAborted);
    this.on('close', onEnd);
    let finished = false;
    try {
      for (;;) {
        if (queue.length > 0) {
          yield queue.shift()!;
          continue;
        }
        if (failure !== null) throw failure;
        if (done) break;
        this.resume();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      finished = true;
    } finally {
      this.off('data', onData);
      this.off('end', onEnd);
      this.off('aborted', onAborted);
      this.off('close', onEnd);
      if (!finished && options?.destroyOnReturn !== false) this.destroy();
    }
  }

  /** Enough of Readable.pipe for a body stream (undici takes anything with pipe and on). */
  pipe<T extends NodeJS.WritableStream>(dest: T): T {
    this.on('data', (c: Buffer) => {
      if (!dest.write(c)) {
        this.pause();
        dest.once('drain', () => this.resume());
      }
    });
    this.once('end', () => dest.end());
    return dest;
  }
}

function flow(req: Http1Request): void {
  req.flow();
}
