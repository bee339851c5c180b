// The proxy listeners of a process: plain HTTP/1.1, h2c beside HTTP/1.1 (the first bytes of
// a connection tell which: the HTTP/2 preface or a request line), TLS with HTTP/1.1, TLS
// with ALPN h2 + HTTP/1.1, and the plain redirect-to-HTTPS listener. Certificates are chosen
// by SNI from a table built from the certificates' own names and replaced on reload, so
// renewed certificates serve new handshakes without a restart. A TLS listener with
// `sni_names` serves each connection as the listener name its server name selects. With
// `engine: native` the HTTP/1.1 side of each is Northgate's own server engine
// (src/http1/server.ts), fed the sockets a net or TLS server accepts; HTTP/2 keeps node's server.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, createServer as createH2Server, type Http2Session, type Http2SecureServer, type Http2Server } from 'node:http2';
import { createServer as createNetServer, Socket as NetSocket, type Server as NetServer, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Engine } from '../config/types.js';
import { createHttp1Server, type Http1Server } from '../http1/server.js';
import type { DownstreamRequest, DownstreamResponse } from '../http1/types.js';
import type { ListenerSpec, ListenerTls } from '../compiler/snapshot.js';
import type { ListenerHosts } from '../router/listener-hosts.js';
import type { Limits } from '../proxy/snapshot.js';
import type { ListenerInfo } from '../proxy/context.js';

export interface ListenerHooks {
  onRequest(info: ListenerInfo, req: DownstreamRequest, res: DownstreamResponse): void;
  onUpgrade(info: ListenerInfo, req: DownstreamRequest, socket: Socket, head: Buffer): void;
  onConnection(socket: Socket): void;
  onClientError(err: NodeJS.ErrnoException, socket: Socket): void;
  /** Each ListenerInfo requests of this listener may carry besides `info` (the names `sni_names` selects). */
  onListenerInfo?(info: ListenerInfo): void;
}

/** A name `sni_names` selects: the table rides along, so that a request's Host can be checked against it (421). */
interface SniListenerInfo { readonly protocol: 'https'; portText: string; readonly name: string; readonly sniHosts: ListenerHosts }

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** The error code an HTTP/1.1 CONNECT request is handed to onClientError with (answered 400). */
export const CONNECT_REFUSED = 'NORTHGATE_CONNECT';
const H2_MAX_STREAMS = 128;

type AnyServer = HttpServer | Http2Server | Http2SecureServer | NetServer | TlsServer;

export class Listener {
  readonly spec: ListenerSpec;
  readonly info: { protocol: 'http' | 'https'; portText: string; name: string | null; sniHosts: null };
  /** The socket-owning server (what is bound). */
  readonly #bound: AnyServer;
  /** The server that parses HTTP/1.1 (null for an h2c-only path, never here). */
  readonly #h1: HttpServer | Http2SecureServer | Http1Server | null;
  readonly #h2: Http2Server | Http2SecureServer | null;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  #sni: SniTable | null = null;
  /** `sni_names` and the ListenerInfo of each name it selects (null: every connection is `info`). */
  #names: { readonly hosts: ListenerHosts; readonly infos: Map<string, SniListenerInfo> } | null = null;
  readonly #onListenerInfo: ((info: ListenerInfo) => void) | undefined;

  constructor(spec: ListenerSpec, limits: Limits, hooks: ListenerHooks, engine: Engine = 'node') {
    this.spec = spec;
    this.#onListenerInfo = hooks.onListenerInfo?.bind(hooks);
    // sniHosts is set (null) so that every ListenerInfo a request sees has one shape.
    this.info = { protocol: spec.tls === null ? 'http' : 'https', portText: '', name: spec.name ?? null, sniHosts: null };
    const http = {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headerTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: 1000,
      noDelay: true,
      insecureHTTPParser: false,
      // Checked by the gateway instead (request-head.ts), so that the 400 is a problem like the others.
      requireHostHeader: false,
    };
    const h2 = { settings: { maxConcurrentStreams: H2_MAX_STREAMS, maxHeaderListSize: limits.maxHeaderBytes } };
    const info = this.info;
    const tls = spec.tls;
    this.updateSniNames(spec.sniNames ?? null);
    // On a TLS listener the connection's server name may select another name (sni_names): one field read per request without them.
    const infoFor = (socket: Socket | null): ListenerInfo => (this.#names === null ? info : this.#infoFor(socket));
    const onRequest =
      spec.redirectHttps !== false
        ? redirectHandler(spec.redirectHttps)
        : tls === null
          ? (req: DownstreamRequest, res: DownstreamResponse) => hooks.onRequest(info, req, res)
          : (req: DownstreamRequest, res: DownstreamResponse) => hooks.onRequest(this.#names === null ? info : this.#infoFor(req.socket), req, res);
    if (engine === 'native') {
      const h1 = createHttp1Server(
        http,
        onRequest,
        spec.redirectHttps === false ? (req, socket, head) => hooks.onUpgrade(infoFor(socket), req, socket, head) : null,
        (err, socket) => hooks.onClientError(err, socket),
      );
      // The gateway is no forward proxy, and says so (400), as on node's server.
      h1.on('connect', (_req: DownstreamRequest, socket: Socket) => hooks.onClientError(Object.assign(new Error('CONNECT'), { code: CONNECT_REFUSED }), socket));
      this.#h1 = h1;
      this.#h2 = spec.http2 ? createH2Server(h2) : null;
      if (tls === null) {
        const s = this.#h2;
        this.#bound = s === null ? h1 : createNetServer({ noDelay: true }, (socket) => sniff(socket, h1, s, limits.headerTimeoutMs));
      } else {
        this.#sni = buildSniTable(tls);
        const h2s = this.#h2;
        const server = createTlsServer({
          ...this.#secureOptions(tls),
          // ALPN picks the server: h2 to node's HTTP/2 server, http/1.1 (or none) to the engine.
          ALPNProtocols: h2s === null ? ['http/1.1'] : ['h2', 'http/1.1'],
        });
        server.on('secureConnection', (socket: TLSSocket) => (h2s !== null && socket.alpnProtocol === 'h2' ? h2s : h1).emit('connection', socket));
        server.on('tlsClientError', () => undefined);
        this.#bound = server;
      }
    } else if (tls === null) {
      const h1 = createHttpServer(http);
      this.#h1 = h1;
      if (spec.http2) {
        const s = createH2Server(h2);
        this.#h2 = s;
        const net = createNetServer({ noDelay: true }, (socket) => sniff(socket, h1, s, limits.headerTimeoutMs));
        // The HTTP/1.1 server is fed sockets but never listens: its header and request
        // timeouts start with its connection tracking, which node starts on 'listening'.
        net.once('listening', () => h1.emit('listening'));
        this.#bound = net;
      } else {
        this.#h2 = null;
        this.#bound = h1;
      }
    } else {
      this.#sni = buildSniTable(tls);
      const secure = this.#secureOptions(tls);
      if (spec.http2) {
        const s = createSecureServer({ ...secure, ...h2, allowHTTP1: true });
        // The HTTP/1.1 side of an h2 TLS server reads these from the server object.
        Object.assign(s, { maxHeaderSize: http.maxHeaderSize, headersTimeout: http.headersTimeout, requestTimeout: http.requestTimeout, keepAliveTimeout: http.keepAliveTimeout, requireHostHeader: false });
        this.#h1 = s;
        this.#h2 = s;
        this.#bound = s;
      } else {
        const s = createHttpsServer({ ...http, ...secure }) as unknown as HttpServer;
        this.#h1 = s;
        this.#h2 = null;
        this.#bound = s;
      }
      this.#bound.on('tlsClientError', () => undefined);
    }
    const bound = this.#bound;
    bound.maxConnections = limits.maxConnections;
    bound.on(tls === null ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      hooks.onConnection(socket);
    });
    for (const s of new Set([this.#h1, this.#h2])) {
      if (s === null || engine === 'native') continue;
      s.on('request', onRequest);
      // With these listeners node neither sends a 100 nor answers 417 by itself: the gateway
      // decides (src/proxy/interim.ts), after its checks, so a 413 or 401 comes before the body.
      s.on('checkContinue', onRequest);
      s.on('checkExpectation', onRequest);
    }
    if (this.#h2 !== null && engine === 'native') {
      this.#h2.on('request', onRequest);
      this.#h2.on('checkContinue', onRequest);
      this.#h2.on('checkExpectation', onRequest);
    }
    if (this.#h1 !== null && engine === 'node') {
      const h1 = this.#h1 as HttpServer;
      h1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => hooks.onClientError(err, socket));
      // Without a listener node closes an HTTP/1.1 CONNECT's connection without a word: the
      // gateway is no forward proxy, and says so (400). An HTTP/2 CONNECT reaches the same
      // listener on a TLS listener with http2 (one server): it keeps node's own answer, 405.
      h1.on('connect', (_req: IncomingMessage, target: Socket | ServerResponse) => {
        if (target instanceof NetSocket) hooks.onClientError(Object.assign(new Error('CONNECT'), { code: CONNECT_REFUSED }), target);
        else target.writeHead(405).end();
      });
      if (spec.redirectHttps === false) h1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => hooks.onUpgrade(infoFor(socket), req, socket, head));
    }
    if (this.#h2 !== null) {
      this.#h2.on('session', (session: Http2Session) => {
        this.#sessions.add(session);
        session.once('close', () => this.#sessions.delete(session));
      });
    }
    this.applyLimits(limits);
  }

  #secureOptions(tls: ListenerTls) {
    return {
      ...this.#sni!.defaultOptions,
      requestCert: tls.requestCert,
      // A client certificate is asked for but not required by the TLS layer: mtls-auth
      // answers a missing or unverified one with a 401 problem instead of a handshake failure.
      rejectUnauthorized: false,
      SNICallback: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, this.#sni!.lookup(name)),
    };
  }

  listen(): Promise<number> {
    const server = this.#bound;
    const spec = this.spec;
    return new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: spec.host, port: spec.port, exclusive: false }, () => {
        server.off('error', reject);
        const address = server.address();
        const port = typeof address === 'object' && address !== null ? address.port : spec.port;
        // Requests know their listener's real port (port 0 in tests) for X-Forwarded-Port.
        this.info.portText = String(port);
        for (const i of this.#names?.infos.values() ?? []) i.portText = String(port);
        resolve(port);
      });
    });
  }

  /** New certificates for new handshakes (reload); the old table keeps serving when the new one fails. */
  updateTls(tls: ListenerTls | null, onError: (message: string) => void): void {
    if (tls === null || this.#sni === null) return;
    let table: SniTable;
    try {
      table = buildSniTable(tls);
    } catch (err) {
      onError(`listener ${this.spec.address}: certificates not reloaded: ${(err as Error).message}`);
      return;
    }
    this.#sni = table;
    // Handshakes without SNI (clients dialling an IP address) get the server's own context.
    (this.#bound as unknown as { setSecureContext(o: SecureContextOptions): void }).setSecureContext(table.defaultOptions);
  }

  /** The listener names by server name (`sni_names`), at start and on reload: new requests see the new table. */
  updateSniNames(hosts: ListenerHosts | null): void {
    if (this.spec.tls === null || hosts === null) {
      this.#names = null;
      return;
    }
    const infos = new Map<string, SniListenerInfo>();
    for (const name of hosts.names) {
      const info: SniListenerInfo = { protocol: 'https', portText: this.info.portText, name, sniHosts: hosts };
      infos.set(name, info);
      this.#onListenerInfo?.(info);
    }
    this.#names = { hosts, infos };
  }

  /** The listener a connection's server name selects; its own when none does (or the client sent none). */
  #infoFor(socket: Socket | null): ListenerInfo {
    const names = this.#names!;
    const servername = (socket as TLSSocket | null)?.servername;
    if (typeof servername !== 'string' || servername === '') return this.info;
    const name = names.hosts.select(servername.toLowerCase());
    return name === null ? this.info : (names.infos.get(name) ?? this.info);
  }

  applyLimits(limits: Limits): void {
    const b = this.#bound;
    b.maxConnections = limits.maxConnections;
    const h1 = this.#h1 as (HttpServer & Http2SecureServer) | null;
    if (h1 !== null) {
      h1.headersTimeout = limits.headerTimeoutMs;
      h1.requestTimeout = limits.requestTimeoutMs;
      h1.keepAliveTimeout = limits.idleTimeoutMs;
      h1.setTimeout(limits.idleTimeoutMs);
    }
    if (this.#h2 !== null && this.#h2 !== h1) this.#h2.setTimeout(limits.idleTimeoutMs);
  }

  /** Stops accepting; idle HTTP/1.1 connections close, HTTP/2 sessions get GOAWAY and finish their streams. */
  close(): void {
    this.#bound.close();
    // The fed HTTP/1.1 server of an h2c listener: stops its connection-tracking timer.
    if (this.#h1 !== null && this.#h1 !== this.#bound) this.#h1.close();
    const h1 = this.#h1 as { closeIdleConnections?: () => void } | null;
    h1?.closeIdleConnections?.();
    for (const s of this.#sessions) s.close();
  }

  closeAll(): void {
    for (const s of this.#sessions) s.destroy();
    (this.#h1 as { closeAllConnections?: () => void } | null)?.closeAllConnections?.();
    for (const s of this.#sockets) s.destroy();
  }
}

/**
 * h2c with prior knowledge beside HTTP/1.1 on one plain port: a connection that opens with
 * the HTTP/2 preface goes to the HTTP/2 server, any other to the HTTP/1.1 one. Costs one
 * read of the first bytes per connection, only on listeners with `http2: true`.
 */
function sniff(socket: Socket, h1: HttpServer | Http1Server, h2: Http2Server, timeoutMs: number): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', onError);
  socket.on('readable', onReadable);
  function onError(): void {
    clearTimeout(timer);
    socket.destroy();
  }
  function onReadable(): void {
    let chunk: Buffer | null;
    while ((chunk = socket.read() as Buffer | null) !== null) seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    const isPrefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    // Wait while the bytes could still be the start of the preface (at most 24 bytes).
    if (isPrefix && n < PREFACE.length) return;
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('error', onError);
    socket.unshift(seen);
    (isPrefix ? h2 : h1).emit('connection', socket);
  }
}

/** A plain listener that only redirects: 308 to the same host and path on https. */
function redirectHandler(port: number): (req: DownstreamRequest, res: DownstreamResponse) => void {
  const suffix = port === 443 ? '' : `:${port}`;
  return (req, res) => {
    const host = req.headers.host ?? '';
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/.exec(host);
    const url = req.url ?? '/';
    if (m === null || url.charCodeAt(0) !== 47) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bad request\n');
      return;
    }
    res.writeHead(308, { location: `https://${m[1]!.toLowerCase()}${suffix}${url}`, 'content-length': '0' }).end();
  };
}

/** Certificates by the names they carry: exact names, "*.example.com" wildcards, and the first as default. */
export class SniTable {
  readonly defaultOptions: SecureContextOptions;
  readonly #default: SecureContext;
  readonly #exact = new Map<string, SecureContext>();
  readonly #wildcard = new Map<string, SecureContext>();

  constructor(defaultOptions: SecureContextOptions, defaultContext: SecureContext) {
    this.defaultOptions = defaultOptions;
    this.#default = defaultContext;
  }

  add(name: string, ctx: SecureContext): void {
    const n = name.toLowerCase();
    if (n.startsWith('*.')) {
      if (!this.#wildcard.has(n.slice(2))) this.#wildcard.set(n.slice(2), ctx);
    } else if (!this.#exact.has(n)) this.#exact.set(n, ctx);
  }

  lookup(servername: string): SecureContext {
    const name = servername.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot !== -1) {
      const wild = this.#wildcard.get(name.slice(dot + 1));
      if (wild !== undefined) return wild;
    }
    return this.#default;
  }
}

export function buildSniTable(tls: ListenerTls): SniTable {
  const ca = tls.clientCa !== null ? readFileSync(tls.clientCa) : undefined;
  let table: SniTable | null = null;
  for (const c of tls.certificates) {
    // Inline PEM (from a Kubernetes Secret) stays in memory; file paths are read here.
    const cert = c.inline ? Buffer.from(c.cert) : readFileSync(c.cert);
    const options: SecureContextOptions = { cert, key: c.inline ? c.key : readFileSync(c.key), minVersion: tls.minVersion, ...(ca !== undefined ? { ca } : {}) };
    const ctx = createSecureContext(options);
    table ??= new SniTable(options, ctx);
    for (const name of certificateNames(cert)) table.add(name, ctx);
  }
  return table!;
}

/** DNS names of the subjectAltName, or the subject CN when there are none. */
export function certificateNames(pem: Buffer): string[] {
  const x = new X509Certificate(pem);
  const dns = (x.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)?.[1];
  return cn !== undefined ? [cn] : [];
}
