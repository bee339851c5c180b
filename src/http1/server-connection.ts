// One client connection of the HTTP/1.1 engine: node's own llhttp binding in request mode
// reads the bytes (so what node refuses, this refuses), and the connection keeps node's
// server rules on top: one exchange at a time in order (a pipelined request is handed on only
// once the previous response finished, its body buffered up to a bound), keep-alive or close
// as node decides, upgrades and CONNECT handed off with the bytes after their head, parse
// errors to onClientError with node's code, bytesParsed and rawPacket. A request reaches the
// handler when the parser completed it, or, when its body is still to come, at the end of the
// read that completed its head; not from inside the head callback. A small body sent with the
// head is then already in the request, whole (Http1Request.takeBody), and a plugin reading it
// need not wait for events or a tick.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { Http1Request, type BodySource } from './server-request.js';
import { Http1Response, type ResponseSink } from './server-response.js';
import type { Http1ServerCore } from './server-options.js';

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): number | ParseError | undefined;
  close(): void;
  consume(handle: object): void;
  unconsume(): void;
  getCurrentBuffer(): Buffer;
  [k: number]: unknown;
}
type ParseError = Error & { code: string; bytesParsed: number; rawPacket?: Buffer };
interface HttpCommon {
  HTTPParser: { new (): NativeParser; REQUEST: number; kOnHeaders: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number; kOnMessageBegin: number; kOnExecute: number; kLenientNone: number };
  methods: string[];
  prepareError(err: Error, parser: NativeParser, raw: Buffer | undefined): void;
}
const common = createRequire(import.meta.url)('_http_common') as HttpCommon;
const { HTTPParser, methods, prepareError } = common;
/**
 * Method names by llhttp's method code. node's `methods` lists the names, but the codes are
 * llhttp's enum, which has gaps (QUERY is 46 after RTSP's methods, which node leaves out):
 * each name is parsed once to learn its code.
 */
const METHOD_BY_CODE: string[] = ((): string[] => {
  const byCode: string[] = [];
  const parser = new HTTPParser();
  let code = -1;
  for (const name of methods) {
    parser.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
    parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, _headers: unknown, method: number) => void (code = method);
    code = -1;
    parser.execute(Buffer.from(`${name} / HTTP/1.1\r\n\r\n`));
    if (code >= 0) byCode[code] = name;
  }
  parser.close();
  return byCode;
})();
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;
const CHUNKED = /(?:^|\W)chunked(?:$|\W)/i;
/** llhttp's answer to an upgrade head: no body, stop after the head (node's 2). */
const SKIP_BODY_AND_UPGRADE = 2;

export const enum Phase {
  /** Waiting for the first byte of a request (keep-alive idle, or a new connection). */
  Idle,
  /** Reading a request head. */
  Head,
  /** Head read; the request or its response is under way. */
  Busy,
}

export class ServerConnection implements BodySource, ResponseSink {
  readonly socket: Socket;
  readonly onEndWritten: () => void;
  readonly #server: Http1ServerCore;
  #parser: NativeParser | null;
  /** Header lines and target gathered across kOnHeaders calls (heads of more than 32 lines). */
  #lines: string[] = [];
  #url = '';
  /** The parsed request whose body the parser is reading (null between messages). */
  #reading: Http1Request | null = null;
  /** The exchange being answered. */
  #active: Http1Response | null = null;
  #activeReq: Http1Request | null = null;
  /**
   * The active exchange while the read that completed its head is still being parsed: it is
   * handed to the handler when its message is complete (a body sent with the head is then in
   * the request: Http1Request.takeBody), else at the end of that read.
   */
  #unstarted: Http1Response | null = null;
  /** Requests read behind the active one, with their responses. */
  #queue: Array<[Http1Request, Http1Response]> = [];
  #upgrade: Http1Request | null = null;
  #paused = false;
  #failed = false;
  /** The socket's stream handle when the parser reads it directly (node's consume: no 'data' events). */
  #handle: StreamHandle | null = null;
  /** A new connection waits for its first head under the head timeout, as in node. */
  phase = Phase.Head;
  /** performance.now() when the current phase started, and of the last socket activity. */
  phaseStart: number;
  lastActive: number;

  constructor(server: Http1ServerCore, socket: Socket) {
    this.#server = server;
    this.socket = socket;
    this.onEndWritten = () => this.#exchangeDone();
    this.phaseStart = this.lastActive = performance.now();
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, server.maxHeaderSize, HTTPParser.kLenientNone);
    // No kOnMessageBegin: the start of a head is seen in #onExecute (an idle connection that
    // read bytes), which spares llhttp a call into JavaScript per request.
    parser[HTTPParser.kOnHeaders] = (lines: string[], url: string) => this.#onHeaders(lines, url);
    parser[HTTPParser.kOnHeadersComplete] = (major: number, minor: number, lines: string[] | undefined, method: number, url: string | undefined, _s: unknown, _m: unknown, upgrade: boolean, keepAlive: boolean) =>
      this.#onHeadersComplete(major, minor, lines, method, url, upgrade, keepAlive);
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.#reading?.push(chunk);
    parser[HTTPParser.kOnMessageComplete] = () => this.#onMessageComplete();
    this.#parser = parser;
    // As node's server: the native parser reads the socket's handle itself, and its callbacks
    // run with node's tick semantics. Bytes already in the socket's buffer (an h2c sniffer's
    // unshift) still come as 'data'.
    const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
    if (handle != null && handle.isStreamBase === true && handle._consumed !== true) {
      handle._consumed = true;
      parser.consume(handle);
      parser[HTTPParser.kOnExecute] = (ret: number | ParseError) => this.#onExecute(ret, undefined);
      this.#handle = handle;
    }
    socket.on('data', this.#listeners.data);
    socket.on('end', this.#listeners.end);
    socket.on('error', this.#listeners.error);
    socket.on('close', this.#listeners.close);
    socket.on('drain', this.#listeners.drain);
  }

  readonly #listeners = {
    data: (d: Buffer) => this.#onData(d),
    end: () => this.#onEnd(),
    error: (err: Error) => this.#fail(err as ParseError),
    close: () => this.#onClose(),
    drain: () => this.#active?.drained(),
  };

  get keepAliveTimeoutMs(): number {
    return this.#server.keepAliveTimeout;
  }
  get closing(): boolean {
    return this.#server.closing;
  }

  /** No exchange under way: graceful close may end it now. */
  get idle(): boolean {
    return this.#active === null && this.phase === Phase.Idle;
  }

  #onData(d: Buffer): void {
    const parser = this.#parser;
    if (parser === null || this.#failed) return;
    if (this.#upgrade !== null) {
      // Paused first: unshift on a flowing socket emits the bytes as 'data' again at once.
      this.#setReading(false);
      this.socket.unshift(d);
      return;
    }
    this.#onExecute(parser.execute(d), d);
  }

  #onExecute(ret: number | ParseError, d: Buffer | undefined): void {
    const now = performance.now();
    this.lastActive = now;
    const parser = this.#parser;
    if (parser === null) return;
    // A request whose body is still to come: the handler gets it now, then any parse error.
    if (this.#unstarted !== null) this.#startUnstarted();
    if (typeof ret !== 'number') {
      prepareError(ret, parser, d);
      return this.#fail(ret);
    }
    // Bytes on an idle connection that did not complete a head (that would have made it busy):
    // a request head has started, under the head timeout from now.
    if (this.phase === Phase.Idle && ret > 0) {
      this.phase = Phase.Head;
      this.phaseStart = now;
    }
    const up = this.#upgrade;
    if (up !== null) {
      if (this.#handle !== null) {
        // Hand the handle back to the socket, and the bytes after the head to the upgrade.
        d ??= parser.getCurrentBuffer();
        parser.unconsume();
        this.#handle = null;
      }
      this.#detach(up, d === undefined ? null : d.subarray(ret));
    }
  }

  /** Reading on or off, on the handle itself when the parser consumes it (node's onSocketPause/Resume). */
  #setReading(on: boolean): void {
    const h = this.#handle;
    if (on) {
      this.socket.resume();
      if (h !== null && h.reading !== true) {
        h.reading = true;
        h.readStart();
      }
    } else {
      this.socket.pause();
      if (h !== null && h.reading === true) {
        h.reading = false;
        h.readStop();
      }
    }
  }

  #onHeaders(lines: string[], url: string): void {
    // node keeps at most maxHeaderPairs (2000) names and values.
    if (this.#lines.length < 2000) for (const x of lines) this.#lines.push(x);
    this.#url += url;
  }

  #onHeadersComplete(major: number, minor: number, lines: string[] | undefined, method: number, url: string | undefined, upgrade: boolean, keepAlive: boolean): number {
    if (lines === undefined) {
      lines = this.#lines;
      this.#lines = [];
    }
    if (url === undefined) {
      url = this.#url;
      this.#url = '';
    }
    const name = METHOD_BY_CODE[method]!;
    // The request timeout runs on from the start of the head.
    this.phase = Phase.Busy;
    const req = new Http1Request(this, this.socket, name, url, major, minor, lines, upgrade);
    this.#reading = req;
    if (upgrade && (name === 'CONNECT' || this.#server.onUpgrade !== null)) {
      this.#upgrade = req;
      return SKIP_BODY_AND_UPGRADE;
    }
    const v11 = major === 1 && minor === 1;
    const chunkedByDefault = major >= 1 && minor >= 1 ? true : CHUNKED.test(String(req.headers.te ?? ''));
    let expectContinue = false;
    if (v11 && hasHeader(lines, 'expect')) expectContinue = CONTINUE.test(String(req.headers.expect));
    const res = new Http1Response(this, name === 'HEAD', keepAlive, chunkedByDefault, expectContinue);
    if (this.#active === null) {
      this.#begin(req, res);
      this.#unstarted = res;
    } else {
      this.#queue.push([req, res]);
      this.readingChanged();
    }
    return 0;
  }

  #onMessageComplete(): void {
    const req = this.#reading;
    let trailers: string[] | null = null;
    if (this.#lines.length > 0) {
      trailers = this.#lines;
      this.#lines = [];
      this.#url = '';
    }
    this.#reading = null;
    req?.finish(trailers);
    // Within the parser's callback, as node's 'end': the ticks the handler queues (its body's
    // events, a response) run before the parser reads on, so a parse error further on in the
    // same read is answered after them, as node:http does.
    if (this.#unstarted !== null) this.#startUnstarted();
  }

  /** Hands an exchange to the handler. */
  #start(req: Http1Request, res: Http1Response): void {
    this.#begin(req, res);
    this.#server.onRequest(req, res);
  }

  /** Makes an exchange the active one (the handler is called by #start or #startUnstarted). */
  #begin(req: Http1Request, res: Http1Response): void {
    this.#active = res;
    this.#activeReq = req;
    res.socket = this.socket;
    (this.socket as { _httpMessage?: unknown })._httpMessage = res;
  }

  /** The parser is done with the read that held the active exchange's head: the handler gets it now. */
  #startUnstarted(): void {
    const res = this.#unstarted;
    this.#unstarted = null;
    // The connection may have closed meanwhile (its exchanges aborted).
    if (res !== null && res === this.#active) this.#server.onRequest(this.#activeReq!, res);
  }

  /** The active response's last bytes reached the kernel: finish, then close or take the next request. */
  #exchangeDone(): void {
    const res = this.#active;
    const req = this.#activeReq;
    if (res === null || req === null) return;
    this.#active = null;
    this.#activeReq = null;
    (this.socket as { _httpMessage?: unknown })._httpMessage = null;
    if (!req.complete) req.dump();
    res.finished();
    process.nextTick(closeExchange, req, res);
    if (res.last || !res.shouldKeepAlive || this.#server.closing) {
      this.socket.end();
      return;
    }
    const next = this.#queue.shift();
    if (next !== undefined) {
      this.#start(next[0], next[1]);
      this.readingChanged();
    } else if (this.#upgrade !== null) {
      this.#detach(this.#upgrade, null);
    } else if (this.#reading === null) this.#enter(Phase.Idle);
  }

  /** Reading stops while a consumer is paused or requests read ahead hold too many bytes. */
  readingChanged(): void {
    let held = 0;
    for (const [req] of this.#queue) held += req.bufferedBytes;
    const reading = this.#activeReq;
    if (reading !== null) held += reading.bufferedBytes;
    const pause = (reading !== null && reading.wantsPause) || held > this.#server.maxBufferedBytes || this.#queue.length >= this.#server.maxPipelined;
    if (pause === this.#paused) return;
    this.#paused = pause;
    this.#setReading(!pause);
  }

  /** An upgrade or CONNECT head: the socket leaves the engine once the exchange before it is done. */
  #detach(req: Http1Request, head: Buffer | null): void {
    if (this.#active !== null) {
      // Bytes after the head wait with the socket for the earlier response to finish.
      this.#setReading(false);
      if (head !== null && head.length > 0) this.socket.unshift(head);
      return;
    }
    this.#upgrade = null;
    this.#release();
    const rest = head ?? Buffer.alloc(0);
    if (req.method === 'CONNECT') {
      if (this.#server.listenerCount('connect') > 0) this.#server.emit('connect', req, this.socket, rest);
      else this.socket.destroy();
    } else this.#server.onUpgrade!(req, this.socket, rest);
  }

  /** The socket stops being this engine's (upgrade) or the connection ended. */
  #release(): void {
    const s = this.socket;
    const l = this.#listeners;
    s.off('data', l.data);
    s.off('end', l.end);
    s.off('error', l.error);
    s.off('close', l.close);
    s.off('drain', l.drain);
    this.#server.forget(this);
    const parser = this.#parser;
    this.#parser = null;
    if (parser === null) return;
    if (this.#handle !== null) {
      parser.unconsume();
      this.#handle = null;
    }
    setImmediate(() => parser.close());
  }

  #onEnd(): void {
    const parser = this.#parser;
    if (parser === null) return;
    const ret = parser.finish();
    if (this.#unstarted !== null) this.#startUnstarted();
    if (ret !== undefined && typeof ret !== 'number') return this.#fail(ret);
    // node's httpAllowHalfOpen = false: a half-closed client gets its connection ended.
    this.#abortPending();
    if (this.socket.writable) this.socket.end();
  }

  #fail(err: ParseError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.socket.on('error', noop);
    this.#server.onClientError(err, this.socket);
  }

  #onClose(): void {
    this.#abortPending();
    if (this.#parser !== null) this.#release();
  }

  #abortPending(): void {
    this.#unstarted = null;
    const req = this.#activeReq;
    const res = this.#active;
    this.#active = null;
    this.#activeReq = null;
    if (req !== null && res !== null) {
      req.close(true);
      res.close();
    }
    for (const [q, r] of this.#queue.splice(0)) {
      q.close(true);
      r.close();
    }
    if (this.#reading !== null && this.#reading !== req) this.#reading.close(true);
  }

  #enter(phase: Phase): void {
    this.phase = phase;
    this.phaseStart = performance.now();
  }

  /** Graceful close: an idle connection ends now, a busy one after its response (closing). */
  closeIfIdle(): void {
    if (this.idle) this.socket.end();
  }

  /** Deadline check (server's interval): head, request and keep-alive timeouts, and inactivity. */
  check(now: number): void {
    const s = this.#server;
    const inPhase = now - this.phaseStart;
    if (this.phase === Phase.Idle) {
      const limit = this.#active === null && this.#queue.length === 0 ? s.keepAliveTimeout : 0;
      if (limit > 0 && now - this.lastActive > limit) this.socket.destroy();
      return;
    }
    if (this.phase === Phase.Head || (this.phase === Phase.Busy && this.#reading !== null)) {
      const limit = this.phase === Phase.Head ? s.headersTimeout : s.requestTimeout;
      if (limit > 0 && inPhase > limit) return this.#fail(Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT', bytesParsed: 0 }));
    }
    if (s.timeout > 0 && now - this.lastActive > s.timeout) this.socket.destroy();
  }
}

interface StreamHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}

function closeExchange(req: Http1Request, res: Http1Response): void {
  req.close(false);
  res.close();
}

function hasHeader(lines: string[], lower: string): boolean {
  for (let i = 0; i < lines.length; i += 2) if (lines[i]!.length === lower.length && lines[i]!.toLowerCase() === lower) return true;
  return false;
}

function noop(): void {}
