// A response of the HTTP/1.1 engine. writeHead builds the whole head in one string with node's
// framing and keep-alive rules (_http_outgoing's _storeHeader); the head waits for the first
// write or end so that it and a small body leave in one socket write (PERF-NOTES: the writes
// per request are the largest cost of a Node proxy).
import { EventEmitter } from 'node:events';
import { STATUS_CODES, validateHeaderName, validateHeaderValue, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { DownstreamResponse } from './types.js';
import { isToken, isValidHeaderValue } from './header-checks.js';

/** What a response needs from its connection. */
export interface ResponseSink {
  readonly socket: Socket;
  readonly keepAliveTimeoutMs: number;
  /** The server is closing: no response keeps its connection. */
  readonly closing: boolean;
  /** Called (once) when the last bytes of the response were handed to the kernel. */
  readonly onEndWritten: () => void;
}

/** Bodies up to this size are copied behind the head into one buffer; larger ones go by a corked writev. */
const COPY_LIMIT = 16 * 1024;
const CLOSE = /(?:^|\W)close(?:$|\W)/i;
const CHUNKED = /(?:^|\W)chunked(?:$|\W)/i;
const CONTINUE_HEAD = 'HTTP/1.1 100 Continue\r\n\r\n';

let dateText = '';
let dateSecond = -1;
/** The Date header value, formatted once per second. */
function utcDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** Status lines by code, made on first use. */
const STATUS_LINES: string[] = [];
let keepAliveMs = -1;
let keepAliveText = '';
/** The Keep-Alive line for a timeout (the server's, the same for every response). */
function keepAliveLine(timeoutMs: number): string {
  if (timeoutMs !== keepAliveMs) {
    keepAliveMs = timeoutMs;
    keepAliveText = `Keep-Alive: timeout=${Math.floor(timeoutMs / 1000)}\r\n`;
  }
  return keepAliveText;
}

function headersSentError(): Error {
  return Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

export class Http1Response extends EventEmitter implements DownstreamResponse {
  statusCode = 200;
  shouldKeepAlive: boolean;
  socket: Socket | null = null;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  closed = false;
  readonly #sink: ResponseSink;
  readonly #isHead: boolean;
  /** Chunked by default when the request is HTTP/1.1 or asked for it with TE (node's useChunkedEncodingByDefault). */
  readonly #chunkedByDefault: boolean;
  readonly #expectContinue: boolean;
  #sent100 = false;
  /** The head, built and not yet written. */
  #head: string | null = null;
  #pending: Array<[string, number | string | readonly string[]]> | null = null;
  #hasBody = true;
  #chunked = false;
  /** The connection closes after this response (node's _last). */
  last = false;
  #trailer = '';
  #needDrain = false;

  constructor(sink: ResponseSink, isHead: boolean, keepAlive: boolean, chunkedByDefault: boolean, expectContinue: boolean) {
    super();
    this.#sink = sink;
    this.#isHead = isHead;
    this.shouldKeepAlive = keepAlive;
    this.#chunkedByDefault = chunkedByDefault;
    this.#expectContinue = expectContinue;
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    if (this.headersSent) throw headersSentError();
    validateHeaderName(name);
    validateHeaderValue(name, value as string);
    const lower = name.toLowerCase();
    const list = (this.#pending ??= []);
    const i = list.findIndex((e) => e[0].toLowerCase() === lower);
    if (i === -1) list.push([name, value]);
    else list[i] = [name, value];
    return this;
  }

  writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    return this.#storeHead(statusCode, headers, -1);
  }

  #storeHead(statusCode: number, headers: OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined, impliedLength: number): this {
    if (this.headersSent) throw headersSentError();
    const code = statusCode | 0;
    if (code < 100 || code > 999) throw Object.assign(new RangeError(`Invalid status code: ${statusCode}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
    this.statusCode = code;
    const h = new HeadBuilder((STATUS_LINES[code] ??= `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? 'unknown'}\r\n`));
    if (this.#pending !== null) for (const [n, v] of this.#pending) h.add(n, v);
    if (Array.isArray(headers)) {
      if (headers.length > 0 && Array.isArray(headers[0])) for (const e of headers as unknown as [string, OutgoingHttpHeader][]) h.add(e[0], e[1]);
      else {
        if (headers.length % 2 !== 0) throw Object.assign(new TypeError('The argument \'headers\' is invalid'), { code: 'ERR_INVALID_ARG_VALUE' });
        for (let i = 0; i < headers.length; i += 2) h.add(headers[i] as string, headers[i + 1]!);
      }
    } else if (headers !== undefined && headers !== null) {
      for (const name of Object.keys(headers)) {
        const v = headers[name];
        if (v !== undefined) h.add(name, v);
      }
    }
    if (code === 204 || code === 304 || (code >= 100 && code <= 199) || this.#isHead) this.#hasBody = false;
    // A final status without the 100 the client waits for: it may still send the body (node).
    if ((this.#expectContinue && !this.#sent100) || this.#sink.closing) this.shouldKeepAlive = false;
    let keepAlive = this.shouldKeepAlive;
    if (h.closeAsked) this.last = true;
    else if (h.connection) keepAlive = true;
    let head = h.text;
    if (!h.date) head += `Date: ${utcDate()}\r\n`;
    let chunked = h.chunked;
    if (chunked && (code === 204 || code === 304)) {
      chunked = false;
      keepAlive = false;
      this.last = true;
    }
    if (!h.connection) {
      if (keepAlive && (h.contentLength || this.#chunkedByDefault)) {
        head += 'Connection: keep-alive\r\n';
        const timeout = this.#sink.keepAliveTimeoutMs;
        if (timeout > 0 && !h.keepAlive) head += keepAliveLine(timeout);
      } else {
        this.last = true;
        head += 'Connection: close\r\n';
      }
    }
    if (!h.contentLength && !h.transferEncoding) {
      if (!this.#hasBody) chunked = false;
      else if (!this.#chunkedByDefault) this.last = true;
      else if (!h.trailer && impliedLength >= 0) head += `Content-Length: ${impliedLength}\r\n`;
      else {
        head += 'Transfer-Encoding: chunked\r\n';
        chunked = true;
      }
    }
    if (!chunked && h.trailer) throw Object.assign(new Error('Trailers are invalid with this transfer encoding'), { code: 'ERR_HTTP_TRAILER_INVALID' });
    this.#chunked = chunked;
    this.#head = head + '\r\n';
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array, callback?: (error?: Error | null) => void): boolean {
    if (this.writableEnded || this.destroyed) {
      const err = Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
      process.nextTick(() => (callback !== undefined ? callback(err) : this.emit('error', err)));
      return false;
    }
    if (!this.headersSent) this.#storeHead(this.statusCode, undefined, -1);
    if (!this.#hasBody) {
      if (callback !== undefined) process.nextTick(callback);
      return true;
    }
    const ok = this.#send(chunk, false, callback);
    if (!ok) this.#needDrain = true;
    return ok;
  }

  end(chunk?: string | Uint8Array | (() => void), callback?: () => void): this {
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = undefined;
    }
    if (this.writableEnded) return this;
    if (this.destroyed) return this;
    if (!this.headersSent) {
      const n = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      this.#storeHead(this.statusCode, undefined, n);
    }
    this.writableEnded = true;
    if (callback !== undefined) this.once('finish', callback);
    this.#send(this.#hasBody ? (chunk ?? null) : null, true, undefined);
    return this;
  }

  /** One socket write for the unwritten head, the framed chunk and, at the end, the last chunk and trailers. */
  #send(chunk: string | Uint8Array | null, last: boolean, callback: ((error?: Error | null) => void) | undefined): boolean {
    const socket = this.#sink.socket;
    let prefix = this.#head ?? '';
    this.#head = null;
    const size = chunk === null ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    let suffix = '';
    if (this.#chunked) {
      if (size > 0) {
        prefix += `${size.toString(16)}\r\n`;
        suffix = '\r\n';
      }
      if (last) suffix += `0\r\n${this.#trailer}\r\n`;
    }
    const cb = last ? this.#sink.onEndWritten : callback;
    if (size === 0) {
      if (prefix.length + suffix.length === 0) {
        if (cb !== undefined) process.nextTick(cb);
        return true;
      }
      return socket.write(prefix + suffix, 'latin1', cb);
    }
    if (prefix.length + suffix.length === 0) return typeof chunk === 'string' ? socket.write(chunk, 'utf8', cb) : socket.write(chunk!, cb);
    if (size <= COPY_LIMIT) {
      const out = Buffer.allocUnsafe(prefix.length + size + suffix.length);
      out.write(prefix, 0, 'latin1');
      if (typeof chunk === 'string') out.write(chunk, prefix.length, 'utf8');
      else out.set(chunk!, prefix.length);
      if (suffix.length > 0) out.write(suffix, prefix.length + size, 'latin1');
      return socket.write(out, cb);
    }
    socket.cork();
    if (prefix.length > 0) socket.write(prefix, 'latin1');
    socket.write(chunk!);
    const ok = socket.write(suffix, 'latin1', cb);
    socket.uncork();
    return ok;
  }

  addTrailers(headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>): void {
    const entries = Array.isArray(headers) ? (headers as ReadonlyArray<[string, string]>) : Object.entries(headers as OutgoingHttpHeaders);
    let text = '';
    for (const [name, value] of entries) {
      if (value === undefined) continue;
      validateHeaderName(name);
      validateHeaderValue(name, value as string);
      text += `${name}: ${String(value)}\r\n`;
    }
    this.#trailer += text;
  }

  writeContinue(callback?: () => void): void {
    if (this.headersSent) throw headersSentError();
    this.#sent100 = true;
    this.#sink.socket.write(CONTINUE_HEAD, 'latin1', callback);
  }

  writeEarlyHints(hints: Record<string, string | string[]>, callback?: () => void): void {
    const link = hints['link'];
    if (link === undefined || link === null) return;
    const value = Array.isArray(link) ? link.join(', ') : link;
    if (value.length === 0) return;
    const h = new HeadBuilder('HTTP/1.1 103 Early Hints\r\n');
    h.add('Link', value);
    for (const name of Object.keys(hints)) if (name !== 'link') h.add(name, hints[name]!);
    this.#sink.socket.write(h.text + '\r\n', 'latin1', callback);
  }

  flushHeaders(): void {
    if (!this.headersSent) this.#storeHead(this.statusCode, undefined, -1);
    const head = this.#head;
    if (head === null) return;
    this.#head = null;
    this.#sink.socket.write(head, 'latin1');
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#sink.socket.destroy(error);
    return this;
  }

  /** The socket drained: a writer waiting on write() === false may go on. */
  drained(): void {
    if (this.#needDrain && !this.writableEnded) {
      this.#needDrain = false;
      this.emit('drain');
    }
  }

  /** The end reached the kernel. */
  finished(): void {
    this.writableFinished = true;
    this.emit('finish');
  }

  /** The exchange is over, or the connection died first. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.destroyed = true;
    this.emit('close');
  }
}

/** The header lines of a head, with what _storeHeader notes about the special fields. */
class HeadBuilder {
  text: string;
  connection = false;
  closeAsked = false;
  contentLength = false;
  transferEncoding = false;
  chunked = false;
  date = false;
  trailer = false;
  keepAlive = false;

  constructor(first: string) {
    this.text = first;
  }

  add(name: string, value: OutgoingHttpHeader | readonly string[]): void {
    // node's checks (and their errors) only for what the table-driven ones do not pass.
    if (typeof name !== 'string' || !isToken(name)) validateHeaderName(name);
    if (Array.isArray(value)) {
      for (const v of value as readonly string[]) this.add(name, v);
      return;
    }
    if (typeof value !== 'string' || !isValidHeaderValue(value)) validateHeaderValue(name, value as string);
    const v = typeof value === 'string' ? value : String(value);
    this.text += `${name}: ${v}\r\n`;
    // The fields _storeHeader notes, by length and then first letter, so that only a name
    // that may be one of them is lower-cased (most of a head's names are none of them).
    switch (name.length) {
      case 4:
        if ((name.charCodeAt(0) | 0x20) === 100 /* d */ && (name === 'date' || name.toLowerCase() === 'date')) this.date = true;
        break;
      case 7:
        if ((name.charCodeAt(0) | 0x20) === 116 /* t */ && (name === 'trailer' || name.toLowerCase() === 'trailer')) this.trailer = true;
        break;
      case 10: {
        const c = name.charCodeAt(0) | 0x20;
        if (c === 99 /* c */ && (name === 'connection' || name.toLowerCase() === 'connection')) {
          this.connection = true;
          if (CLOSE.test(v)) this.closeAsked = true;
        } else if (c === 107 /* k */ && (name === 'keep-alive' || name.toLowerCase() === 'keep-alive')) this.keepAlive = true;
        break;
      }
      case 14:
        if ((name.charCodeAt(0) | 0x20) === 99 /* c */ && (name === 'content-length' || name.toLowerCase() === 'content-length')) this.contentLength = true;
        break;
      case 17:
        if ((name.charCodeAt(0) | 0x20) === 116 /* t */ && (name === 'transfer-encoding' || name.toLowerCase() === 'transfer-encoding')) {
          this.transferEncoding = true;
          if (CHUNKED.test(v)) this.chunked = true;
        }
        break;
    }
  }
}
