// One request handed to the pool: its options checked and its head built once, at
// dispatch (a refused request fails before it takes a connection, as in undici), and what
// a retry on a fresh connection needs to know.
import { Http1Request } from './server-request.js';
import type { Readable } from 'node:stream';
import { isToken, isValidHeaderValue } from './header-checks.js';
import { aborted, invalidArgument, notSupported, requestLengthMismatch, type H1ClientError } from './errors.js';

/** undici's legacy handler, as the proxy implements it. */
export interface H1Handler {
  onConnect?(abort: (err?: Error) => void): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  /**
   * The final head (status 200 and up) with its name/value pairs as the parser decoded them
   * (latin1 strings): called instead of onHeaders when present, so that a handler working
   * with strings gets them without a Buffer per field and a decode back.
   */
  onHeaderStrings?(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: Buffer[] | null): void;
  onError?(err: Error): void;
  /** The request's trailers, asked once its body has been read (sent in the last chunk of a chunked body). */
  requestTrailers?(): Record<string, string | string[] | undefined> | null;
  /**
   * A reused connection failed (`err`) before any answer to the request, which the client
   * would send once more on a fresh connection: the upstream may have closed the connection
   * as the request went out, or may have received it. False keeps the failure (onError
   * follows); without this callback the request is sent again.
   */
  onReplay?(err: Error): boolean;
}

export type H1Body = Buffer | Uint8Array | string | Readable | AsyncIterable<Buffer | Uint8Array | string> | null | undefined;

export interface H1DispatchOptions {
  path: string;
  method: string;
  /** Flat name/value pairs. */
  headers?: string[] | null;
  body?: H1Body;
  /** Milliseconds for the response head once the request is sent (0: none). */
  headersTimeout?: number | null;
  /** Milliseconds between body chunks of the response (0: none). */
  bodyTimeout?: number | null;
  /**
   * The request may go out behind others on one connection (HTTP/1.1 pipelining, RFC 9112
   * §9.3.2): honoured for an idempotent request without a body, so that requests dispatched
   * together (copies of requests) share a connection and a socket write.
   */
  pipelined?: boolean;
}

export const BODY_NONE = 0;
export const BODY_BUFFER = 1;
export const BODY_STREAM = 2;
export const BODY_ITERABLE = 3;

const BAD_PATH = /[^\u0021-\u00ff]/;
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'QUERY', 'PROPFIND', 'PROPPATCH']);
/** Methods whose body has a meaning: they always carry a framing header (RFC 9110 §8.6). */
const EXPECTS_PAYLOAD = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);
/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export { isToken, isValidHeaderValue };

/**
 * Whether `name` (a token) may be host, expect, upgrade, connection, keep-alive,
 * content-length or transfer-encoding in some letter case: its length and first letter
 * (ORing 0x20 lower-cases a letter, and maps no other token character onto one) match one.
 */
function framingCandidate(name: string): boolean {
  const c = name.charCodeAt(0) | 0x20;
  switch (name.length) {
    case 4:
      return c === 104; // host
    case 6:
      return c === 101; // expect
    case 7:
      return c === 117; // upgrade
    case 10:
      return c === 99 || c === 107; // connection, keep-alive
    case 14:
      return c === 99; // content-length
    case 17:
      return c === 116; // transfer-encoding
    default:
      return false;
  }
}

export class H1Request {
  readonly handler: H1Handler;
  readonly method: string;
  /** Request line, host, connection and the caller's headers; the framing header and the blank line follow. */
  readonly head: string;
  readonly bodyKind: number;
  readonly body: Buffer | Readable | AsyncIterable<Buffer | Uint8Array | string> | null;
  /** Bytes the body will have, -1 when unknown (chunked). */
  readonly contentLength: number;
  readonly expectsPayload: boolean;
  readonly idempotent: boolean;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  /** The connection closes after this exchange (the caller's `connection: close`, HEAD). */
  reset: boolean;
  /** It may be written behind another request on its connection (see H1DispatchOptions.pipelined). */
  readonly pipelined: boolean;
  /** Ended: completed, failed or aborted. */
  done = false;
  /** Some bytes of it went to a socket. */
  written = false;
  /** Taken from the body source (a stream or iterable cannot be replayed then). */
  bodyStarted = false;
  /** A retry on a fresh connection was spent. */
  retried = false;
  /** The connection serving it; cleared when it ends. */
  conn: { abortRequest(req: H1Request, err: Error): void } | null = null;
  /** Given to the handler's onConnect. */
  readonly abort: (err?: Error) => void;

  constructor(opts: H1DispatchOptions, handler: H1Handler, defaultHost: string) {
    this.handler = handler;
    const method = opts.method;
    if (typeof method !== 'string' || !(KNOWN_METHODS.has(method) || isToken(method))) throw invalidArgument('invalid request method');
    if (method === 'CONNECT') throw notSupported('CONNECT is not supported by the HTTP/1.1 upstream client');
    const path = opts.path;
    if (typeof path !== 'string' || path.length === 0 || BAD_PATH.test(path) || (path.charCodeAt(0) !== 47 /* / */ && path !== '*' && !/^https?:\/\//.test(path))) {
      throw invalidArgument('invalid request path');
    }
    this.method = method;
    this.expectsPayload = EXPECTS_PAYLOAD.has(method);
    this.idempotent = IDEMPOTENT.has(method);
    this.headersTimeout = opts.headersTimeout ?? 0;
    this.bodyTimeout = opts.bodyTimeout ?? 0;

    let host: string | null = null;
    let declared = -1;
    let reset = method === 'HEAD';
    let lines = '';
    const raw = opts.headers;
    if (raw != null) {
      if (raw.length % 2 !== 0) throw invalidArgument('headers must be name/value pairs');
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!;
        const value = raw[i + 1] == null ? '' : String(raw[i + 1]);
        if (typeof name !== 'string' || !isToken(name)) throw invalidArgument('invalid header key');
        if (!isValidHeaderValue(value)) throw invalidArgument(`invalid ${name} header`);
        // Only the names the client frames itself are looked at (by length and first letter
        // first, so that the other names of a head are never lower-cased).
        if (framingCandidate(name)) {
          const lower = name.toLowerCase();
          if (lower === 'host') {
            if (host !== null) throw invalidArgument('duplicate host header');
            host = value;
            continue;
          }
          if (lower === 'content-length') {
            if (declared !== -1) throw invalidArgument('duplicate content-length header');
            if (!/^\d{1,15}$/.test(value)) throw invalidArgument('invalid content-length header');
            declared = Number(value);
            continue;
          }
          if (lower === 'connection') {
            for (const token of value.toLowerCase().split(',')) {
              const t = token.trim();
              if (!isToken(t)) throw invalidArgument('invalid connection header');
              if (t === 'close') reset = true;
            }
            continue;
          }
          if (lower === 'transfer-encoding' || lower === 'keep-alive' || lower === 'upgrade') throw invalidArgument(`invalid ${lower} header`);
          if (lower === 'expect') throw notSupported('expect header not supported');
        }
        lines += `${name}: ${value}\r\n`;
      }
    }

    const body = opts.body;
    let kind = BODY_NONE;
    let normalized: H1Request['body'] = null;
    let length = -1;
    if (body == null) {
      length = this.expectsPayload ? 0 : -1;
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (buf.length === 0) {
        length = this.expectsPayload ? 0 : -1;
      } else {
        if (declared > 0 && declared !== buf.length && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && method !== 'TRACE') throw requestLengthMismatch();
        kind = BODY_BUFFER;
        normalized = buf;
        length = buf.length;
      }
    } else if (typeof (body as Readable).on === 'function' && typeof (body as Readable).pause === 'function') {
      kind = BODY_STREAM;
      normalized = body as Readable;
      length = declared === 0 && !this.expectsPayload ? -1 : declared;
    } else if (typeof (body as AsyncIterable<Buffer>)[Symbol.asyncIterator] === 'function' || typeof (body as unknown as Iterable<Buffer>)[Symbol.iterator] === 'function') {
      kind = BODY_ITERABLE;
      normalized = body as AsyncIterable<Buffer>;
      length = declared === 0 && !this.expectsPayload ? -1 : declared;
    } else {
      throw invalidArgument('invalid body');
    }
    this.bodyKind = kind;
    this.body = normalized;
    this.contentLength = length;
    this.reset = reset;
    this.pipelined = opts.pipelined === true && kind === BODY_NONE && !reset && this.idempotent;
    this.head = `${method} ${path} HTTP/1.1\r\nhost: ${host ?? defaultHost}\r\n${lines}`;
    this.abort = (err?: Error): void => {
      if (this.done) return;
      const conn = this.conn;
      if (conn !== null) conn.abortRequest(this, err ?? aborted());
      else this.fail(err ?? aborted());
    };
  }

  /** Whether a failure before any response byte on a reused connection may be retried on a fresh one. */
  get retriable(): boolean {
    if (this.retried) return false;
    // Nothing of it reached the upstream.
    if (!this.written) return true;
    return this.idempotent && (this.bodyKind === BODY_NONE || this.bodyKind === BODY_BUFFER || !this.bodyStarted);
  }

  fail(err: Error | H1ClientError): void {
    if (this.done) return;
    this.done = true;
    this.conn = null;
    const body = this.body;
    if (body !== null && this.bodyKind === BODY_STREAM) destroyBody(body as Readable);
    this.handler.onError?.(err);
  }
}

/**
 * Stops a request body stream, as undici does, keeping a client's connection for the error
 * answer: node's IncomingMessage is detached from its socket first; the engine's own request
 * drops the rest of its body (read and discarded, as after any answer sent before the body).
 */
function destroyBody(body: Readable & { socket?: unknown; readableEnded?: boolean }): void {
  if (body.destroyed || body.readableEnded) return;
  if (body instanceof Http1Request) return body.dump();
  if (body.constructor?.name === 'IncomingMessage') body.socket = null;
  body.destroy();
}
