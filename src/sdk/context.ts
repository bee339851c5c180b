// What a plugin sees of one request and may change (Kong's PDK, not nginx): the request as
// the gateway read it, the route it matched, who sent it, the request the upstream will
// get, the response the client will get, and per-request state. The gateway's own request
// context implements this interface; nothing else of it is part of the SDK.
import type { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Consumer, ConsumerDirectory, Credential } from './consumer.js';
import type { HeaderList } from './header-list.js';
import type { LocalKey } from './local-key.js';

/** The service a route sends its requests to. */
export interface ServiceView {
  /** The service's name in the config. */
  readonly name: string;
  /** Path prefix from the service URL ("" when none), without a trailing slash. */
  readonly basePath: string;
}

/** The route a request matched. */
export interface RouteView {
  /** The route's name in the config. */
  readonly name: string;
  /** The service the request goes to (see PluginContext.setService). */
  readonly service: ServiceView;
  /** The matched path prefix is removed from the upstream path (`strip_path`). */
  readonly stripPath: boolean;
}

/** The client certificate of a TLS connection. */
export interface TlsPeer {
  /** The certificate the client presented. */
  readonly certificate: X509Certificate;
  /** The certificate chain verified against the listener's `client_ca`. */
  readonly authorized: boolean;
}

/**
 * One request as a plugin sees it, in every phase. Members that may be assigned are the
 * plugin's to change (in the phases docs/plugins.md names); the others are read-only.
 */
export interface PluginContext {
  // The request as received.
  /** The request method, as sent (upper case for the standard ones). */
  readonly method: string;
  /** Normalized path without the query. */
  readonly path: string;
  /** The raw query string with its "?", or "": forwarded byte for byte. A request-phase hook may replace it for the upstream. */
  query: string;
  /** Lower-case host without port, as used for routing. */
  readonly host: string;
  /** The Host header as the client sent it. */
  readonly hostHeader: string;
  /** The scheme the client used to reach the gateway: `https` on a TLS listener, else `http`. */
  readonly scheme: 'http' | 'https';
  /** Path parameters of the matched route pattern (`{id}`), or null when it has none. */
  readonly params: Readonly<Record<string, string>> | null;
  /** The request id (X-Request-Id), also in problem bodies and logs. */
  readonly id: string;
  /** One request header by lower-case name, several values joined with ", ". */
  header(name: string): string | undefined;
  /** The client's headers as node:http parsed them (names lower-case); edit what the upstream gets in `upstreamHeaders`. */
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** The client's headers as a flat [name, value, ...] list, names in their case. */
  readonly rawHeaders: readonly string[];
  /** The client's address: the peer, or the first untrusted hop of X-Forwarded-For behind `trusted_proxies`. */
  readonly clientIp: string;
  /** The client certificate, or null when the connection is not TLS or the client sent none. */
  tlsPeer(): TlsPeer | null;

  // The request body.
  /** The declared Content-Length, or -1 when the body is chunked or absent. */
  readonly requestBodyLength: number;
  /** The body comes with Transfer-Encoding: chunked (length unknown). */
  readonly requestChunked: boolean;
  /** The body limit of this request (limits.max_body_bytes); a request-phase hook may lower it. */
  maxBodyBytes: number;
  /**
   * The body the upstream gets instead of the client's stream, sent with its own
   * Content-Length: a replacement set in the request phase, or else the client's body once
   * a plugin read it (readRequestBody). A replacement wins over the body read.
   */
  requestBody: Buffer | null;
  /**
   * Reads the client's body when it fits in `limit` bytes (first sending the 100 Continue a
   * client with `Expect: 100-continue` waits for). Resolves to the body, or to null when it
   * is larger or the client went away: what was read is put back and streamed on untouched.
   * The body is read once: later calls (another plugin's) get the same body (null when it is
   * larger than their `limit`), and the upstream gets it unless `requestBody` replaces it.
   */
  readRequestBody(limit: number): Promise<Buffer | null>;
  /**
   * What readRequestBody(limit) would resolve to, when that is known without waiting: the
   * body came whole with the request's head, or an earlier read finished. It is the same
   * once-only read (a body taken here is what later reads get and what the upstream gets).
   * Undefined when the body is still to be read: then call readRequestBody. Lets a request
   * hook stay synchronous for the common small body.
   */
  bufferedRequestBody(limit: number): Buffer | null | undefined;

  // Where it goes.
  /** The matched route, or null when none matched (global plugins on a 404). */
  readonly route: RouteView | null;
  /**
   * The length of the path prefix the route pattern matched: `path.slice(0, matchLength)` is
   * that prefix, on segment boundaries (`/api` of `/api/orders`; 0 for the route `/`; the
   * whole path for an exact route). What `strip_path` removes and `rewrite`'s
   * `replace_prefix` replaces.
   */
  readonly matchLength: number;
  /** From a request-phase hook: send this request to the configured service `name` (the route's other settings stay); false when there is no such service. */
  setService(name: string): boolean;

  // Who sent it.
  /** Set by the authentication plugin that identified the caller (null: none did). */
  consumer: Consumer | null;
  /** The credential it was identified by (null for an anonymous consumer). */
  credential: Credential | null;
  /** The consumers of the running config, for authentication plugins. */
  readonly consumers: ConsumerDirectory;

  // The upstream request.
  /** The headers the upstream will receive. */
  readonly upstreamHeaders: HeaderList;
  /** The upstream path with its query (set once the upstream is chosen; an upstreamRequest hook may replace it). */
  upstreamPath: string;

  // The response.
  /** The status the client will get (from the responseHeaders phase on; 0 before). */
  responseStatus: number;
  /** The headers the client will receive (edit them in responseHeaders). */
  readonly responseHeaders: HeaderList;
  /**
   * From a responseHeaders hook: the response body flows through `stream` (after the
   * responseChunk hooks and the streams installed before it) with backpressure, and
   * Content-Length is dropped. Hooks run from the lowest priority up, so the plugin with the
   * highest priority installs the stream nearest the client.
   */
  pipeResponseThrough(stream: Duplex): void;

  // Per-request state.
  /** State a plugin keeps for this request, under a key of its own (a LocalKey is best: see `local`). */
  readonly locals: Map<string | symbol, unknown>;
  /** The value stored under `key` (typed by a LocalKey), without creating the map when nothing was stored yet. */
  local<T>(key: LocalKey<T>): T | undefined;
  /** `locals.get(key)` without creating the map when nothing was stored yet. */
  local(key: string | symbol): unknown;
  /** Stores `value` under `key` for this request (`locals.set` with a typed key). */
  setLocal<T>(key: LocalKey<T>, value: T): void;
}
