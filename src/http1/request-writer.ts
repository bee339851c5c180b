// Writes a request onto its connection's socket: the head together with a small body in
// one write (PERF-NOTES: writes dominate a proxy's CPU), a stream's head together with its
// first chunk (corked), Content-Length when known and chunked otherwise, with the
// request's trailers in the last chunk. Backpressure: a full socket pauses the body
// source until 'drain'. One writer per connection; its listeners are bound once.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { aborted, requestLengthMismatch } from './errors.js';
import { BODY_BUFFER, BODY_ITERABLE, BODY_NONE, BODY_STREAM, isToken, isValidHeaderValue, type H1Request } from './request.js';

/** Below this a Buffer body is copied behind its head: one write, one syscall. */
const COALESCE_MAX = 32 * 1024;

/**
 * Fields a trailer must never carry (RFC 9110 §6.5.1): framing, routing, connection
 * control, authentication and content metadata an intermediary acts on before the body.
 */
const FORBIDDEN_TRAILERS = new Set([
  'content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade',
  'expect', 'max-forwards', 'range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range',
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'www-authenticate', 'proxy-authenticate',
  'content-encoding', 'content-type', 'content-range', 'cache-control', 'pragma', 'age', 'expires', 'date', 'location', 'retry-after', 'vary',
]);

/** The trailer section for `fields`: fields with a bad name or value, or a forbidden one, are left out. */
export function trailerSection(fields: Record<string, string | string[] | undefined> | null | undefined): string {
  if (fields == null) return '';
  let out = '';
  for (const name in fields) {
    const v = fields[name];
    if (v === undefined || !isToken(name) || FORBIDDEN_TRAILERS.has(name.toLowerCase())) continue;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'string' && isValidHeaderValue(x)) out += `${name}: ${x}\r\n`;
    } else if (typeof v === 'string' && isValidHeaderValue(v)) {
      out += `${name}: ${v}\r\n`;
    }
  }
  return out;
}

export interface WriterOwner {
  /** The whole request is on the socket. */
  requestSent(req: H1Request): void;
  /** The body failed (its source errored or was cut short, or its length is not the one declared). */
  requestFailed(req: H1Request, err: Error): void;
}

function noop(): void {}

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class RequestWriter {
  readonly #owner: WriterOwner;
  readonly #socket: Socket;
  #req: H1Request | null = null;
  /** The head, until the first body chunk (or the end) goes with it. */
  #head: string | null = null;
  #bytes = 0;
  #stream: Readable | null = null;
  #pausedSource = false;
  #drainWaiter: (() => void) | null = null;
  readonly #onData = (chunk: Buffer | string): void => this.#data(chunk);
  readonly #onEnd = (): void => this.#end();
  readonly #onError = (err: Error): void => this.#fail(err);
  readonly #onClose = (): void => this.#fail(aborted());

  constructor(owner: WriterOwner, socket: Socket) {
    this.#owner = owner;
    this.#socket = socket;
  }

  /** A request body is still being written. */
  get writing(): boolean {
    return this.#req !== null;
  }

  write(req: H1Request): void {
    const socket = this.#socket;
    req.written = true;
    const head = req.head + (req.reset ? 'connection: close\r\n' : 'connection: keep-alive\r\n');
    switch (req.bodyKind) {
      case BODY_NONE:
        socket.write(req.contentLength === 0 ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`, 'latin1');
        return this.#owner.requestSent(req);
      case BODY_BUFFER: {
        const body = req.body as Buffer;
        // A body read whole before it is sent (kept for retries) still carries the client's
        // trailers: chunked, in one chunk and the last one.
        const trailers = trailerSection(req.handler.requestTrailers?.());
        if (trailers !== '') {
          const top = `${head}transfer-encoding: chunked\r\n\r\n`;
          socket.cork();
          if (body.length === 0) socket.write(`${top}0\r\n${trailers}\r\n`, 'latin1');
          else {
            socket.write(`${top}${body.length.toString(16)}\r\n`, 'latin1');
            socket.write(body);
            socket.write(`\r\n0\r\n${trailers}\r\n`, 'latin1');
          }
          socket.uncork();
          return this.#owner.requestSent(req);
        }
        const top = `${head}content-length: ${body.length}\r\n\r\n`;
        if (body.length <= COALESCE_MAX) {
          const out = Buffer.allocUnsafe(top.length + body.length);
          out.write(top, 0, 'latin1');
          body.copy(out, top.length);
          socket.write(out);
        } else {
          socket.cork();
          socket.write(top, 'latin1');
          socket.write(body);
          socket.uncork();
        }
        return this.#owner.requestSent(req);
      }
    }
    this.#req = req;
    this.#head = head;
    this.#bytes = 0;
    // Nothing is written until the body gives its first chunk (or ends): the head goes with it.
    req.written = false;
    if (req.bodyKind === BODY_STREAM) return this.#attach(req.body as Readable);
    if (req.bodyKind === BODY_ITERABLE) void this.#pump(req, req.body as AsyncIterable<Buffer>);
  }

  /** The socket drained: the paused source goes on. */
  drained(): void {
    if (this.#pausedSource) {
      this.#pausedSource = false;
      this.#stream?.resume();
    }
    const waiter = this.#drainWaiter;
    if (waiter !== null) {
      this.#drainWaiter = null;
      waiter();
    }
  }

  /** Stops reading the body (the response ended first, or the exchange failed). */
  stop(): void {
    this.#req = null;
    this.#head = null;
    this.#detach();
    this.drained();
  }

  #attach(stream: Readable): void {
    if (stream.readableEnded) return this.#end();
    if (stream.destroyed) return this.#fail(aborted());
    this.#stream = stream;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    stream.resume();
  }

  #detach(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    this.#pausedSource = false;
    stream.off('data', this.#onData);
    stream.off('end', this.#onEnd);
    stream.off('error', this.#onError);
    stream.off('close', this.#onClose);
    // A late error of a source no longer read must not be an uncaught exception.
    stream.on('error', noop);
  }

  async #pump(req: H1Request, body: AsyncIterable<Buffer | Uint8Array | string>): Promise<void> {
    try {
      for await (const chunk of body) {
        if (this.#req !== req) return;
        if (!this.#chunk(toBuffer(chunk))) await new Promise<void>((resolve) => (this.#drainWaiter = resolve));
        if (this.#req !== req) return;
      }
      if (this.#req === req) this.#end();
    } catch (err) {
      if (this.#req === req) this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #data(chunk: Buffer | string): void {
    if (!this.#chunk(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk) && this.#stream !== null) {
      this.#pausedSource = true;
      this.#stream.pause();
    }
  }

  /** Writes one body chunk; false when the socket asks to wait for 'drain' (or the request ended). */
  #chunk(chunk: Buffer): boolean {
    const req = this.#req;
    const len = chunk.length;
    if (req === null || len === 0) return req !== null;
    const socket = this.#socket;
    if (socket.destroyed) return false;
    req.bodyStarted = true;
    const declared = req.contentLength;
    if (declared !== -1 && this.#bytes + len > declared) {
      this.#fail(requestLengthMismatch());
      return false;
    }
    this.#bytes += len;
    const head = this.#head;
    let ok: boolean;
    socket.cork();
    if (head !== null) {
      this.#head = null;
      req.written = true;
      // A body on a method that gives it no meaning: some servers misread it, so no reuse after.
      if (!req.expectsPayload) req.reset = true;
      socket.write(declared === -1 ? `${head}transfer-encoding: chunked\r\n\r\n${len.toString(16)}\r\n` : `${head}content-length: ${declared}\r\n\r\n`, 'latin1');
    } else if (declared === -1) {
      socket.write(`\r\n${len.toString(16)}\r\n`, 'latin1');
    }
    ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  #end(): void {
    const req = this.#req;
    if (req === null) return;
    const socket = this.#socket;
    const declared = req.contentLength;
    if (declared !== -1 && this.#bytes !== declared && !(declared === 0 && this.#bytes === 0)) return this.#fail(requestLengthMismatch());
    this.#detach();
    this.#req = null;
    const head = this.#head;
    this.#head = null;
    if (!socket.destroyed) {
      if (declared === -1) {
        const trailers = trailerSection(req.handler.requestTrailers?.());
        if (head !== null) {
          // An empty body: chunked only to carry trailers.
          req.written = true;
          socket.write(trailers === '' ? (req.expectsPayload ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`) : `${head}transfer-encoding: chunked\r\n\r\n0\r\n${trailers}\r\n`, 'latin1');
        } else {
          socket.write(`\r\n0\r\n${trailers}\r\n`, 'latin1');
        }
      } else if (head !== null) {
        req.written = true;
        socket.write(declared === 0 ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`, 'latin1');
      }
    }
    this.#owner.requestSent(req);
  }

  #fail(err: Error): void {
    const req = this.#req;
    if (req === null) return;
    this.stop();
    this.#owner.requestFailed(req, err);
  }
}
