// Responses are parsed by node's own llhttp binding (the parser node:http's client uses),
// strict mode whatever --insecure-http-parser says. One native parser per connection, which
// reads the socket's handle itself when it can (as node's server does), else is fed the
// socket's chunks; its callbacks are module functions that reach the connection through the
// parser object, so no closure is made per connection or per response.
//
// The binding is an internal of node (`_http_common`, kept for compatibility and
// undocumented): its absence or another shape is found once, at the first pool's
// construction, with a clear message instead of a failure on the first request.
import { createRequire } from 'node:module';

/** What the connection does with a parsed response. */
export interface ResponseSink {
  /** A message starts (its first byte arrived). */
  parsedBegin(): void;
  /** The head of a response (1xx included); returns 1 when no body follows (HEAD), else 0. */
  parsedHead(status: number, statusText: string, headers: string[], upgrade: boolean, keepAlive: boolean): number;
  parsedBody(chunk: Buffer): void;
  /** The message is complete; `trailers` (flat name/value pairs) for a chunked one that had any. */
  parsedEnd(trailers: string[] | null): void;
  /** The parser read a chunk from the socket it consumes: what it parsed, or what it refused. */
  parsedChunk(failure: ParseFailure | null, bytes: number): void;
}

/** A socket's stream handle, which the parser can read directly (node's server does so). */
export interface StreamHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

export interface ParseFailure extends Error {
  code?: string;
  reason?: string;
  bytesParsed?: number;
}

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseFailure;
  finish(): ParseFailure | undefined;
  close(): void;
  consume(handle: object): void;
  unconsume(): void;
  [key: number]: unknown;
  sink: ResponseSink | null;
  /** Header pairs flushed before the head completed (over 32 pairs), or a message's trailers. */
  pending: string[] | null;
}

interface ParserClass {
  new (): NativeParser;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

let parserClass: ParserClass | null | undefined;

/** node's HTTPParser, or null when this node does not expose it the way it is used here. */
function loadParser(): ParserClass | null {
  if (parserClass !== undefined) return parserClass;
  try {
    const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser?: ParserClass };
    const ok =
      typeof HTTPParser === 'function' &&
      typeof HTTPParser.RESPONSE === 'number' &&
      typeof HTTPParser.kOnMessageBegin === 'number' &&
      typeof HTTPParser.kOnHeaders === 'number' &&
      typeof HTTPParser.kOnHeadersComplete === 'number' &&
      typeof HTTPParser.kOnBody === 'number' &&
      typeof HTTPParser.kOnMessageComplete === 'number' &&
      typeof HTTPParser.prototype.execute === 'function' &&
      typeof HTTPParser.prototype.initialize === 'function';
    parserClass = ok ? HTTPParser : null;
  } catch {
    parserClass = null;
  }
  return parserClass;
}

/** Throws when node's llhttp binding cannot be used (checked when a pool is built). */
export function assertParserAvailable(): void {
  if (loadParser() === null) {
    throw new Error(`the HTTP/1.1 upstream client needs node's llhttp binding (require('_http_common').HTTPParser), which node ${process.version} does not expose; use the undici engine`);
  }
}

function onMessageBegin(this: NativeParser): void {
  this.sink!.parsedBegin();
}

function onHeaders(this: NativeParser, headers: string[]): void {
  if (headers.length === 0) return;
  if (this.pending === null) this.pending = headers;
  else for (let i = 0; i < headers.length; i++) this.pending.push(headers[i]!);
}

function onHeadersComplete(
  this: NativeParser,
  _major: number,
  _minor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  status: number,
  statusText: string,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  // Undefined when the pairs were flushed earlier (many headers): they are in `pending`.
  let all = headers;
  const pending = this.pending;
  if (pending !== null) {
    if (all !== undefined) for (let i = 0; i < all.length; i++) pending.push(all[i]!);
    all = pending;
    this.pending = null;
  }
  return this.sink!.parsedHead(status, statusText, all ?? [], upgrade, keepAlive);
}

function onBody(this: NativeParser, chunk: Buffer): void {
  this.sink!.parsedBody(chunk);
}

function onMessageComplete(this: NativeParser): void {
  const trailers = this.pending;
  this.pending = null;
  this.sink!.parsedEnd(trailers);
}

function onExecute(this: NativeParser, ret: number | ParseFailure): void {
  if (typeof ret === 'number') this.sink!.parsedChunk(null, ret);
  else this.sink!.parsedChunk(ret, 0);
}

export class ResponseParser {
  readonly #native: NativeParser;
  #handle: StreamHandle | null = null;

  constructor(sink: ResponseSink, maxHeaderSize: number) {
    const Parser = loadParser();
    if (Parser === null) assertParserAvailable();
    const p = new Parser!();
    p.initialize(Parser!.RESPONSE, {}, maxHeaderSize, 0);
    p[Parser!.kOnMessageBegin] = onMessageBegin;
    p[Parser!.kOnHeaders] = onHeaders;
    p[Parser!.kOnHeadersComplete] = onHeadersComplete;
    p[Parser!.kOnBody] = onBody;
    p[Parser!.kOnMessageComplete] = onMessageComplete;
    p[Parser!.kOnExecute] = onExecute;
    p.sink = sink;
    p.pending = null;
    this.#native = p;
  }

  /** Parses a socket chunk; a failure is what llhttp refused (its `code` is HPE_*). */
  execute(chunk: Buffer): ParseFailure | null {
    const r = this.#native.execute(chunk);
    return typeof r === 'number' ? null : r;
  }

  /** The socket ended: completes a body read to EOF, or says what is missing. */
  finish(): ParseFailure | null {
    return this.#native.finish() ?? null;
  }

  /**
   * Reads the socket's handle directly, as node's server does: no 'data' event, Readable
   * bookkeeping or Buffer per read; chunks come to parsedChunk. False when the socket
   * cannot be read that way (then execute() is fed its 'data').
   */
  consume(socket: { _handle?: unknown }): boolean {
    const handle = socket._handle as StreamHandle | null | undefined;
    if (handle == null || handle.isStreamBase !== true || handle._consumed === true) return false;
    handle._consumed = true;
    this.#native.consume(handle);
    this.#handle = handle;
    return true;
  }

  /** Reading on or off when the parser consumes the handle (node's onSocketPause/Resume). */
  reading(on: boolean): void {
    const h = this.#handle;
    if (h === null) return;
    if (on && h.reading !== true) {
      h.reading = true;
      h.readStart();
    } else if (!on && h.reading === true) {
      h.reading = false;
      h.readStop();
    }
  }

  /** Frees the native parser; never from inside one of its callbacks. */
  close(): void {
    const p = this.#native;
    if (this.#handle !== null) {
      this.#handle = null;
      p.unconsume();
    }
    p.sink = null;
    p.close();
  }
}
