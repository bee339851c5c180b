// Everything known about one request on its way through the gateway. One object per
// request, fields set in the constructor so V8 keeps one shape for all of them.
import type { IncomingHttpHeaders } from 'node:http';
import type { DownstreamRequest, DownstreamResponse } from '../http1/types.js';
import type { Duplex } from 'node:stream';
import { forwardedClient } from './client-address.js';
import type { CompiledRoute, RouteEntry } from './route.js';
import type { ListenerHosts } from '../router/listener-hosts.js';
import type { ProxySnapshot } from './snapshot.js';
import { HeaderList } from '../sdk/header-list.js';
import type { ServiceGuard } from '../upstream/guard.js';
import type { TLSSocket } from 'node:tls';
import type { Consumer, ConsumerDirectory, Credential } from '../sdk/consumer.js';
import type { PluginContext, TlsPeer } from '../sdk/context.js';
import type { LocalKey } from '../sdk/local-key.js';
import { sendContinue } from './interim.js';
import type { Target } from '../upstream/target.js';
import type { Backend } from '../upstream/backends.js';
import { firstQueryValues } from '../base/query-params.js';

export interface ListenerInfo {
  readonly protocol: 'http' | 'https';
  /** The bound port as text (X-Forwarded-Port), set once the listener is bound. */
  readonly portText: string;
  /** `listen.proxy[].name`, which `routes[].listeners` refer to. */
  readonly name?: string | null;
  /**
   * Set when the connection's TLS server name chose `name` from the listener's `sni_names`:
   * a request whose Host that table does not map to `name` too is misdirected (421).
   */
  readonly sniHosts?: ListenerHosts | null;
}

/**
 * `S`: the snapshot type of whoever reads it. The proxy reads its ProxySnapshot; the
 * runtime and the request-event subscribers read the compiler's Snapshot, which extends it.
 */
export class RequestContext<S extends ProxySnapshot = ProxySnapshot> implements PluginContext {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly snapshot: S;
  readonly listener: ListenerInfo;
  readonly startedAt: number;
  readonly method: string;
  /** Set while reading the request head. */
  id = '';
  /** Normalized path without the query. */
  path = '';
  /** The raw query string with its "?", or "": forwarded byte for byte. */
  query = '';
  /** Lower-case host without port, used for routing. */
  host = '';
  /** The Host header as the client sent it. */
  hostHeader = '';
  /** The peer's address (the TCP connection), without the IPv4-mapped prefix. */
  peerAddress = '';
  /** Whether the peer is one of `trusted_proxies`. */
  peerTrusted = false;
  /** X-Forwarded-For as received (only kept when the peer is trusted). */
  forwardedFor: string | undefined = undefined;
  /** The client's traceparent, tracestate and User-Agent headers (read with the head; several traceparent or tracestate values joined with ", "). */
  traceparent: string | undefined = undefined;
  tracestate: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  requestBodyLength = -1;
  requestChunked = false;
  /** The body the upstream gets instead of the client's stream, sent with its own Content-Length: a plugin's replacement, or the client's body once a plugin read it. */
  requestBody: Buffer | null = null;
  /** The client's Expect field (several joined with ", "), undefined without one. */
  expect: string | undefined = undefined;
  /** The client sent `Expect: 100-continue` with a body and has not been told to send it yet (see sendContinue). */
  expectContinue = false;
  /** The request body limit for this request: limits.max_body_bytes, which a plugin may lower in its request phase. */
  maxBodyBytes: number;

  entry: RouteEntry | null = null;
  route: CompiledRoute | null = null;
  matchLength = 0;
  params: Record<string, string> | null = null;

  /** The headers the upstream will receive; plugins edit them. */
  readonly upstreamHeaders: HeaderList;
  upstreamPath = '';
  target: Target | null = null;
  /** The weighted backend of the route that was chosen (null: the route has no `backends`). */
  backend: Backend | null = null;
  /** The target a valid session value named (null: none, or no session persistence on the route). */
  sessionTarget: Target | null = null;
  /** Upstream attempts made so far (retries included). */
  attempt = 0;
  /** Targets already tried by this request (null until a retry). */
  tried: Target[] | null = null;
  /** The service guard this request must report to when it finishes (null: none). */
  guard: ServiceGuard | null = null;
  /** The circuit generation that admitted the request (-1: no circuit involved). */
  circuitGeneration = -1;
  /** Whether the request holds a slot of the service's concurrency limiter. */
  concurrencySlot = false;
  /** The whole request body when it fit in the replay buffer (retries resend it), else null. */
  replayBody: Buffer | null = null;
  /** performance.now() at which the total deadline passes (0: none). */
  deadlineAt = 0;
  /** The total deadline (timeouts.total) timer, or null. */
  deadlineTimer: ReturnType<typeof setTimeout> | null = null;

  responseStatus = 0;
  /** The headers the client will receive; plugins edit them in the responseHeaders phase. */
  responseHeaders: HeaderList = EMPTY_HEADERS;
  /** Streams the response body flows through on its way to the client (see pipeResponseThrough), null for none. */
  responseTransforms: Duplex[] | null = null;
  bytesIn = 0;
  bytesOut = 0;
  upstreamStartedAt = 0;
  upstreamRespondedAt = 0;
  /** Time spent on upstream attempts so far (each: request sent → last response byte or failure), in ms. */
  upstreamMs = 0;
  finishedAt = 0;
  /** The W3C trace id of this request's server span (set by tracing), or "". */
  traceId = '';
  /** Tracing's per-request state (null when tracing is off). */
  trace: unknown = null;
  /** Set by the auth plugin that authenticated the request (null: none did, or no auth on the route). */
  consumer: Consumer | null = null;
  credential: Credential | null = null;
  /** The error-table code when the gateway answered with an error. */
  errorCode: string | null = null;
  finished = false;
  /**
   * setLocal's entries ([key, value, ...]) until someone asks for `locals`: a chain stores one
   * or two values per request, and a Map per request (its hash table included) cost more than
   * a scan of so few keys.
   */
  #slots: unknown[] | null = null;
  #locals: Map<string | symbol, unknown> | null = null;
  /** The one read of the client's body by plugins (readRequestBody), null until one asks. */
  #bodyRead: Promise<Buffer | null> | null = null;
  /** That read's result once it is known (null: larger than its limit, or the client went away); undefined before. */
  #body: Buffer | null | undefined = undefined;
  #clientIp: string | undefined = undefined;
  /** The query's parameters, parsed on the first read (only routes with `query` conditions read them). */
  #queryValues: Map<string, string> | null = null;

  constructor(req: DownstreamRequest, res: DownstreamResponse, snapshot: S, listener: ListenerInfo, startedAt: number) {
    this.req = req;
    this.res = res;
    this.snapshot = snapshot;
    this.listener = listener;
    this.startedAt = startedAt;
    this.method = req.method!;
    this.maxBodyBytes = snapshot.limits.maxBodyBytes;
    this.upstreamHeaders = new HeaderList([]);
  }

  /** The client's headers as node:http parsed them (names lower-case). */
  get headers(): Readonly<IncomingHttpHeaders> {
    return this.req.headers;
  }

  /** The client's headers as a flat [name, value, ...] list (node:http's rawHeaders). */
  get rawHeaders(): string[] {
    return this.req.rawHeaders;
  }

  /** One request header, several values joined with ", ". */
  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** The first value of query parameter `name` (decoded; names compared exactly), or undefined. */
  queryParam(name: string): string | undefined {
    return (this.#queryValues ??= firstQueryValues(this.query)).get(name);
  }

  /**
   * The client's address: the peer, or — when the peer is a trusted proxy — the right-most
   * X-Forwarded-For hop that is not itself a trusted proxy, and always a valid IP address
   * (see client-address.ts). Worked out on first use, once per request.
   */
  get clientIp(): string {
    if (this.#clientIp !== undefined) return this.#clientIp;
    const ip = !this.peerTrusted || this.forwardedFor === undefined ? this.peerAddress : forwardedClient(this.forwardedFor, this.peerAddress, this.snapshot.trustedProxies!);
    return (this.#clientIp = ip);
  }

  /** The scheme the client reached the gateway with (the listener's). */
  get scheme(): 'http' | 'https' {
    return this.listener.protocol;
  }

  /** The consumers of the snapshot this request runs on. */
  get consumers(): ConsumerDirectory {
    return this.snapshot.consumers;
  }

  /** The client certificate of a TLS connection, or null (plain connection, or no certificate sent). */
  tlsPeer(): TlsPeer | null {
    const socket = this.req.socket as TLSSocket;
    if (socket.encrypted !== true) return null;
    const certificate = socket.getPeerX509Certificate?.();
    if (certificate === undefined) return null;
    return { certificate, authorized: socket.authorized };
  }

  /**
   * Reads the request body when it fits in `limit` bytes. Resolves to the body, or to null
   * when it is larger (what was read is put back with unshift, so the core streams it
   * untouched) or the client went away. The stream can be read once: the read is kept, later
   * calls get its result (null when the body is larger than their limit), and the body read
   * becomes `requestBody` unless a plugin already replaced it, so the upstream still gets it.
   */
  readRequestBody(limit: number): Promise<Buffer | null> {
    const now = this.bufferedRequestBody(limit);
    if (now !== undefined) return Promise.resolve(now);
    const read = this.#bodyRead;
    if (read !== null) return read.then((body) => (body !== null && body.length > limit ? null : body));
    // The client may be waiting for a 100 before it sends the body read here.
    sendContinue(this);
    return (this.#bodyRead = readBody(this, limit, (body) => (this.#body = body)));
  }

  /**
   * readRequestBody's answer when it is known without waiting: the body came whole with the
   * request's head (the HTTP/1.1 engine takes it in one piece, without events) or an earlier
   * read finished. The same once-only read, with the same results; undefined when the body
   * is still to be read (call readRequestBody).
   */
  bufferedRequestBody(limit: number): Buffer | null | undefined {
    let body = this.#body;
    if (body === undefined) {
      if (this.#bodyRead !== null) return undefined;
      body = this.req.takeBody?.(limit);
      if (body === undefined) return undefined;
      this.#body = body;
      // A client that sent Expect: 100-continue and its body anyway still gets the 100 it asked for.
      sendContinue(this);
      if (body !== null && this.requestBody === null) this.requestBody = body;
    }
    return body !== null && body.length > limit ? null : body;
  }

  /**
   * Sends the request to service `name` on the current route: the route's settings with
   * another service, derived once per (route, service) per snapshot. False when the config
   * has no such service (or no route matched).
   */
  setService(name: string): boolean {
    const route = this.route;
    if (route === null) return false;
    let byService = derivedRoutes.get(route);
    if (byService === undefined) derivedRoutes.set(route, (byService = new Map()));
    let r = byService.get(name);
    if (r === undefined) {
      const service = this.snapshot.services.get(name);
      if (service === undefined) return false;
      // The plugin's service replaces the route's weighted backends too.
      r = { ...route, service, backends: null };
      byService.set(name, r);
    }
    this.route = r;
    return true;
  }

  /**
   * From a responseHeaders hook: the response body goes through `stream` (after the
   * responseChunk hooks and the streams installed before it) with backpressure, and
   * Content-Length is dropped. Hooks run from the lowest priority up, so the plugin with the
   * highest priority installs the stream nearest the client.
   */
  pipeResponseThrough(stream: Duplex): void {
    (this.responseTransforms ??= []).push(stream);
  }

  /** Per-request state for plugins, keyed by a name or symbol of the plugin's own. */
  get locals(): Map<string | symbol, unknown> {
    let map = this.#locals;
    if (map === null) {
      map = this.#locals = new Map();
      const slots = this.#slots;
      this.#slots = null;
      if (slots !== null) for (let i = 0; i < slots.length; i += 2) map.set(slots[i] as string | symbol, slots[i + 1]);
    }
    return map;
  }

  /** `locals.get(key)` without creating the map when no plugin stored anything yet. */
  local<T>(key: LocalKey<T>): T | undefined;
  local(key: string | symbol): unknown;
  local(key: string | symbol): unknown {
    if (this.#locals !== null) return this.#locals.get(key);
    const slots = this.#slots;
    if (slots !== null) for (let i = 0; i < slots.length; i += 2) if (slots[i] === key) return slots[i + 1];
    return undefined;
  }

  /** `locals.set(key, value)` with a typed key. */
  setLocal<T>(key: LocalKey<T>, value: T): void {
    if (this.#locals === null) {
      const slots = (this.#slots ??= []);
      for (let i = 0; i < slots.length; i += 2) {
        if (slots[i] === key) {
          slots[i + 1] = value;
          return;
        }
      }
      if (slots.length < MAX_SLOTS) {
        slots.push(key, value);
        return;
      }
    }
    this.locals.set(key, value);
  }
}

/** Entries (keys and values) kept in the scanned list before locals move to a Map. */
const MAX_SLOTS = 16;

/** Routes that send a request to another service (setService), per route of a snapshot. */
const derivedRoutes = new WeakMap<CompiledRoute, Map<string, CompiledRoute>>();

function readBody(ctx: RequestContext, cap: number, settle: (body: Buffer | null) => void): Promise<Buffer | null> {
  const req = ctx.req;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      chunks.push(c);
      if (size > cap) {
        req.pause();
        cleanup();
        req.unshift(Buffer.concat(chunks));
        settle(null);
        resolve(null);
      }
    };
    const onEnd = () => {
      cleanup();
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      // The stream is spent: unless a plugin gave another body, the upstream gets this one.
      if (ctx.requestBody === null) ctx.requestBody = body;
      settle(body);
      resolve(body);
    };
    const onError = () => {
      cleanup();
      settle(null);
      resolve(null);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}

const EMPTY_HEADERS = new HeaderList([]);
Object.freeze(EMPTY_HEADERS.raw);

export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
