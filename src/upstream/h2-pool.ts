// HTTP/2 client sessions to one gRPC target (grpc:// is h2c with prior knowledge, grpcs://
// is TLS with ALPN h2), for what undici 7 cannot do: it speaks no h2c. The pool offers the
// same low-level `dispatch(opts, handler)` as an undici Pool, so the proxy's forward path
// and its handler object stay the same. Sessions are reused while they have stream
// capacity; a session that received GOAWAY takes no new streams and closes when its streams
// end; stream and session errors reach the handler with an error code the error table maps.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { UpstreamTls } from './tls.js';

const MAX_SESSIONS = 8;
const DEFAULT_STREAMS = 100;
const IDLE_SESSION_MS = 60_000;

/** The subset of undici's legacy handler that forward.ts implements. */
export interface H2Handler {
  onConnect?(abort: (err?: Error) => void): void;
  onHeaders?(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText?: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onError?(err: Error): void;
  /** The request's trailers, once its body has been read (sent after the last DATA frame). */
  requestTrailers?(): Record<string, string | string[] | undefined> | null;
}

export interface H2DispatchOptions {
  path: string;
  method: string;
  headers: string[];
  body: Readable | AsyncIterable<Buffer> | null | undefined;
  headersTimeout?: number;
  bodyTimeout?: number;
}

export interface H2PoolOptions {
  readonly connectTimeoutMs: number;
  readonly tls: UpstreamTls | null;
  /** SNI when the origin is an address resolved from this name (tls.servername wins). */
  readonly servername?: string | undefined;
}

/** Header names HTTP/2 forbids (connection-specific), dropped on the way out. */
const FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

function codedError(message: string, code: string): Error {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

export class H2Pool {
  readonly #authority: string;
  readonly #secure: boolean;
  readonly #opts: H2PoolOptions;
  readonly #sessions: ClientHttp2Session[] = [];
  #closed = false;

  constructor(origin: string, opts: H2PoolOptions) {
    const u = new URL(origin);
    this.#secure = u.protocol === 'grpcs:';
    this.#authority = u.host;
    this.#opts = opts;
  }

  #session(): ClientHttp2Session {
    let best: ClientHttp2Session | null = null;
    let bestLoad = Infinity;
    for (const s of this.#sessions) {
      const load = activeStreams(s);
      const cap = s.remoteSettings?.maxConcurrentStreams ?? DEFAULT_STREAMS;
      if (load < cap) return s;
      if (load < bestLoad) {
        best = s;
        bestLoad = load;
      }
    }
    if (best !== null && this.#sessions.length >= MAX_SESSIONS) return best;
    return this.#open();
  }

  #open(): ClientHttp2Session {
    const url = `${this.#secure ? 'https' : 'http'}://${this.#authority}`;
    const sni = this.#opts.servername;
    const session = connect(url, { ...(this.#secure ? { ...(sni !== undefined ? { servername: sni } : {}), ...this.#opts.tls?.connect, ALPNProtocols: ['h2'] } : {}) });
    this.#sessions.push(session);
    const forget = () => {
      const i = this.#sessions.indexOf(session);
      if (i !== -1) this.#sessions.splice(i, 1);
    };
    const timer = setTimeout(() => session.destroy(codedError('connect timeout', 'UND_ERR_CONNECT_TIMEOUT')), this.#opts.connectTimeoutMs);
    session.once('connect', () => clearTimeout(timer));
    // GOAWAY: no new streams here; the ones in flight finish (or fail with their own error).
    session.once('goaway', forget);
    session.once('close', () => {
      clearTimeout(timer);
      forget();
    });
    // Errors reach the streams; a session error with no stream must not crash the process.
    session.on('error', forget);
    session.setTimeout(IDLE_SESSION_MS, () => {
      if (activeStreams(session) === 0) session.close();
    });
    session.unref();
    return session;
  }

  dispatch(opts: H2DispatchOptions, handler: H2Handler): boolean {
    if (this.#closed) {
      handler.onError?.(codedError('pool closed', 'UND_ERR_CLOSED'));
      return false;
    }
    const headers: OutgoingHttpHeaders = {
      ':method': opts.method,
      ':path': opts.path,
      ':scheme': this.#secure ? 'https' : 'http',
      ':authority': this.#authority,
    };
    const raw = opts.headers;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (FORBIDDEN.has(name)) {
        if (name === 'host') headers[':authority'] = raw[i + 1]!;
        continue;
      }
      const prev = headers[name];
      headers[name] = prev === undefined ? raw[i + 1]! : `${String(prev)}, ${raw[i + 1]!}`;
    }
    // gRPC servers require it; it is the one TE value HTTP/2 allows.
    headers['te'] = 'trailers';
    let stream: ClientHttp2Stream;
    let session: ClientHttp2Session;
    try {
      session = this.#session();
      // Referenced while streams are open; idle sessions never keep the process alive.
      session.ref();
      // With a body the stream stays open after it for the request's trailers (none: an empty set).
      stream = session.request(headers, { endStream: opts.body == null, waitForTrailers: opts.body != null });
    } catch (err) {
      handler.onError?.(err as Error);
      return false;
    }
    new H2Exchange(session, stream, handler, opts);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const sessions = this.#sessions.splice(0);
    await Promise.all(sessions.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.close(resolve)))));
  }

  destroy(): void {
    this.#closed = true;
    for (const s of this.#sessions.splice(0)) s.destroy();
  }
}

/** Streams open on each session (node keeps no public count). */
const counts = new WeakMap<ClientHttp2Session, number>();

function activeStreams(s: ClientHttp2Session): number {
  return s.destroyed || s.closed ? Infinity : (counts.get(s) ?? 0);
}

/** One stream: response head, body with backpressure, trailers, errors. */
class H2Exchange {
  readonly #stream: ClientHttp2Stream;
  readonly #handler: H2Handler;
  #done = false;
  #trailers: string[] | null = null;
  #responded = false;
  #headersTimer: NodeJS.Timeout | null = null;

  constructor(session: ClientHttp2Session, stream: ClientHttp2Stream, handler: H2Handler, opts: H2DispatchOptions) {
    this.#stream = stream;
    this.#handler = handler;
    counts.set(session, (counts.get(session) ?? 0) + 1);
    stream.once('close', () => {
      const left = (counts.get(session) ?? 1) - 1;
      counts.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
      this.#closed();
    });
    handler.onConnect?.(() => {
      if (this.#done) return;
      this.#done = true;
      this.#clearTimer();
      stream.close(constants.NGHTTP2_CANCEL);
    });
    const headersTimeout = opts.headersTimeout ?? 0;
    if (headersTimeout > 0) this.#headersTimer = setTimeout(() => this.#fail(codedError('upstream response head timeout', 'UND_ERR_HEADERS_TIMEOUT')), headersTimeout);
    stream.on('response', (h: IncomingHttpHeaders, flags: number) => this.#onResponse(h, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0, opts.bodyTimeout ?? 0));
    stream.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      if (this.#handler.onData?.(chunk) === false) stream.pause();
    });
    stream.on('trailers', (t: IncomingHttpHeaders) => (this.#trailers = flatten(t)));
    stream.on('error', (err: Error) => this.#fail(err));
    if (opts.body != null) {
      stream.once('wantTrailers', () => this.#sendTrailers());
      void this.#send(opts.body);
    }
  }

  #sendTrailers(): void {
    const out: OutgoingHttpHeaders = {};
    const given = this.#handler.requestTrailers?.() ?? null;
    if (given !== null) {
      for (const name in given) {
        const v = given[name];
        if (v !== undefined && name.charCodeAt(0) !== 58 /* : */ && !FORBIDDEN.has(name)) out[name] = v;
      }
    }
    try {
      this.#stream.sendTrailers(out);
    } catch {
      // A field HTTP/2 refuses in trailers: end the request without them.
      if (!this.#stream.destroyed) this.#stream.sendTrailers({});
    }
  }

  #onResponse(h: IncomingHttpHeaders, ended: boolean, bodyTimeout: number): void {
    this.#clearTimer();
    if (this.#done) return;
    this.#responded = true;
    const status = Number(h[':status']);
    const raw: Buffer[] = [];
    // A trailers-only answer (gRPC status in the one HEADERS frame) is passed on as head +
    // trailers: the proxy writes a head first, and grpc status must arrive as trailers then.
    const trailersOnly = ended && h['grpc-status'] !== undefined;
    for (const name in h) {
      if (name.charCodeAt(0) === 58 /* : */) continue;
      const v = h[name];
      if (trailersOnly && name.startsWith('grpc-') && name !== 'grpc-encoding' && name !== 'grpc-accept-encoding') {
        (this.#trailers ??= []).push(name, String(v));
        continue;
      }
      if (Array.isArray(v)) for (const x of v) raw.push(Buffer.from(name), Buffer.from(x));
      else if (v !== undefined) raw.push(Buffer.from(name), Buffer.from(String(v)));
    }
    if (bodyTimeout > 0) this.#stream.setTimeout(bodyTimeout, () => this.#fail(codedError('upstream body timeout', 'UND_ERR_BODY_TIMEOUT')));
    if (this.#handler.onHeaders?.(status, raw, () => this.#stream.resume()) === false) this.#stream.pause();
  }

  async #send(body: Readable | AsyncIterable<Buffer>): Promise<void> {
    const stream = this.#stream;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (this.#done || stream.destroyed) return;
        if (!stream.write(chunk)) await new Promise<void>((resolve) => {
          const go = () => {
            stream.off('drain', go);
            stream.off('close', go);
            resolve();
          };
          stream.on('drain', go);
          stream.on('close', go);
        });
      }
      if (!stream.destroyed) stream.end();
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #closed(): void {
    this.#clearTimer();
    if (this.#done) return;
    const code = this.#stream.rstCode;
    if (code !== undefined && code !== constants.NGHTTP2_NO_ERROR) {
      return this.#fail(codedError(`upstream stream reset (HTTP/2 error ${code})`, code === constants.NGHTTP2_REFUSED_STREAM ? 'ECONNRESET' : 'ERR_HTTP2_STREAM_ERROR'));
    }
    if (!this.#responded) return this.#fail(codedError('upstream closed the stream without a response', 'UND_ERR_SOCKET'));
    this.#done = true;
    this.#handler.onComplete?.(this.#trailers);
  }

  #fail(err: Error): void {
    this.#clearTimer();
    if (this.#done) return;
    this.#done = true;
    if (!this.#stream.destroyed) this.#stream.close(constants.NGHTTP2_CANCEL);
    this.#handler.onError?.(err);
  }

  #clearTimer(): void {
    if (this.#headersTimer !== null) {
      clearTimeout(this.#headersTimer);
      this.#headersTimer = null;
    }
  }
}

function flatten(h: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const name in h) {
    const v = h[name];
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else if (v !== undefined) out.push(name, String(v));
  }
  return out;
}
