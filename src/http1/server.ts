// Northgate's HTTP/1.1 server engine: a net.Server whose connections are read by node's own
// llhttp and answered by light request/response objects (server-request.ts, server-response.ts).
// Sockets come from its own listen(), or are fed with emit('connection', socket) by an h2c
// sniffer or from a tls.Server's 'secureConnection'. Timeouts are checked by one interval per
// server over its connections (as node's connectionsCheckingInterval), never a timer per request.
import { Server as NetServer, type Socket } from 'node:net';
import { ServerConnection } from './server-connection.js';
import type { ClientErrorHandler, Http1ServerCore, Http1ServerOptions, RequestHandler, UpgradeHandler } from './server-options.js';

export type { Http1ServerOptions } from './server-options.js';

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const TOO_LARGE = 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n';
const TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
const EXTENSIONS_TOO_LARGE = 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n';

/** node's answer to a client error when nobody handles it: a bare status, then the socket is destroyed. */
export function defaultClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const msg = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && (msg == null || msg.headersSent !== true)) {
    const code = err.code;
    socket.write(code === 'HPE_HEADER_OVERFLOW' ? TOO_LARGE : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW' ? EXTENSIONS_TOO_LARGE : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? TIMEOUT : BAD_REQUEST);
  }
  socket.destroy(err);
}

export class Http1Server extends NetServer implements Http1ServerCore {
  maxHeaderSize: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  timeout: number;
  maxBufferedBytes: number;
  maxPipelined: number;
  closing = false;
  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler | null;
  readonly onClientError: ClientErrorHandler;
  readonly #connections = new Set<ServerConnection>();
  readonly #checkEvery: number;
  #checker: NodeJS.Timeout | null = null;

  constructor(opts: Http1ServerOptions, onRequest: RequestHandler, onUpgrade: UpgradeHandler | null, onClientError: ClientErrorHandler | null) {
    super({ allowHalfOpen: true, noDelay: opts.noDelay ?? true });
    this.maxHeaderSize = opts.maxHeaderSize ?? 0;
    this.requestTimeout = opts.requestTimeout ?? 300_000;
    this.headersTimeout = opts.headersTimeout ?? Math.min(60_000, this.requestTimeout);
    this.keepAliveTimeout = opts.keepAliveTimeout ?? 5000;
    this.timeout = opts.timeout ?? 0;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 64 * 1024;
    this.maxPipelined = opts.maxPipelined ?? 16;
    this.#checkEvery = opts.connectionsCheckingInterval ?? 1000;
    this.onRequest = onRequest;
    this.onUpgrade = onUpgrade;
    this.onClientError = onClientError ?? defaultClientError;
    this.on('connection', (socket: Socket) => this.#attach(socket));
  }

  #attach(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.#connections.add(new ServerConnection(this, socket));
    this.#checker ??= setInterval(() => this.#check(), this.#checkEvery).unref();
  }

  forget(conn: object): void {
    this.#connections.delete(conn as ServerConnection);
    if (this.#connections.size === 0 && this.#checker !== null) {
      clearInterval(this.#checker);
      this.#checker = null;
    }
  }

  #check(): void {
    const now = performance.now();
    for (const c of this.#connections) c.check(now);
  }

  setTimeout(ms: number): this {
    this.timeout = ms;
    return this;
  }

  /** Stops accepting; idle connections end now, busy ones after their response. */
  override close(callback?: (err?: Error) => void): this {
    this.closing = true;
    this.closeIdleConnections();
    if (this.listening) super.close(callback);
    else if (callback !== undefined) process.nextTick(callback);
    return this;
  }

  closeIdleConnections(): void {
    for (const c of this.#connections) c.closeIfIdle();
  }

  closeAllConnections(): void {
    for (const c of this.#connections) c.socket.destroy();
  }

  /** Connections the engine reads (upgraded ones are no longer its own). */
  get connectionCount(): number {
    return this.#connections.size;
  }
}

/** The engine: `onUpgrade` null reads upgrade requests as ordinary ones (node without an 'upgrade' listener). */
export function createHttp1Server(opts: Http1ServerOptions, onRequest: RequestHandler, onUpgrade: UpgradeHandler | null = null, onClientError: ClientErrorHandler | null = null): Http1Server {
  return new Http1Server(opts, onRequest, onUpgrade, onClientError);
}
