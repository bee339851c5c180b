// The spans of sampled requests: the request path copies the few values a span needs
// (strings it already has, numbers, ids as 32-bit words) into one object per span, which the
// exporter writes as OTLP protobuf (`encode`) or OTLP/JSON (`write`) into the current batch
// at the end of the event-loop turn in which the span ended. What depends only on the config
// and the method (a span's name and kind; the method, route, service and target
// attributes) and each status attribute are encoded once per format and copied whole. In
// protobuf, a span's constant attributes then go as one block: per HTTP/1 connection the
// last server span's (method, route, the connection's addresses, scheme, version and
// User-Agent, status), per target the last client span's (method, target, status), copied
// while they stay the same. Ids and times go in as 32-bit words (DataView).
import type { RouteEntry } from '../proxy/route.js';
import type { Target } from '../upstream/target.js';
import { frag, type JsonBytes } from './otlp-json.js';
import { HEX_CHARS, hexWord } from './trace-context.js';
import { fixed64Tag, kvInt, kvKey, kvString, lenTag, type ProtoBytes, stringField, varintTag } from './otlp-proto.js';

const SERVER = 2;
const CLIENT = 3;

/** A span the exporter can write. */
export interface SpanRecord {
  /** As an OTLP/JSON Span object. */
  write(w: JsonBytes): void;
  /** As the bytes of an OTLP Span message (the caller writes its tag and length). */
  encode(w: ProtoBytes): void;
}

/**
 * Tracing's state for one sampled request (ctx.trace), and its server span once it ends.
 * Ids are kept as big-endian 32-bit words (two per span id, four for the trace id): the
 * encoders write their bytes (protobuf) or hex (JSON) from them without a string per id.
 */
export class ServerSpan implements SpanRecord {
  /** The trace id as lower-case hex (ctx.traceId, logs, traceparent). */
  readonly traceId: string;
  readonly traceState: string | undefined;
  readonly t0: number;
  readonly t1: number;
  readonly t2: number;
  readonly t3: number;
  readonly s0: number;
  readonly s1: number;
  /** The client's span (from its traceparent), when there is one. */
  readonly hasParent: boolean;
  readonly p0: number;
  readonly p1: number;
  /** The current upstream attempt's span id. */
  c0 = 0;
  c1 = 0;
  /** The traceparent prepared (with its span id in c0, c1) for the first upstream attempt, "" once taken. */
  firstTraceparent: string;
  // Set when the request ends.
  method = '';
  path = '';
  scheme = '';
  host = '';
  clientIp = '';
  peer = '';
  httpVersion = '';
  userAgent: string | undefined = undefined;
  /** The client connection (HTTP/1), whose constant attributes are encoded once while they stay the same; null: none. */
  connection: object | null = null;
  entry: RouteEntry | null = null;
  consumer: string | null = null;
  status = 0;
  errorType: string | null = null;
  start = 0;
  end = 0;

  constructor(traceId: string, traceState: string | undefined, t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, hasParent: boolean, p0: number, p1: number, c0: number, c1: number, firstTraceparent: string) {
    this.traceId = traceId;
    this.traceState = traceState;
    this.t0 = t0;
    this.t1 = t1;
    this.t2 = t2;
    this.t3 = t3;
    this.s0 = s0;
    this.s1 = s1;
    this.hasParent = hasParent;
    this.p0 = p0;
    this.p1 = p1;
    this.c0 = c0;
    this.c1 = c1;
    this.firstTraceparent = firstTraceparent;
  }

  /** A span from hex ids (for tests): `parentId` "" for none, `clientId` the first attempt's span id. */
  static fromHex(traceId: string, parentId: string, traceState: string | undefined, spanId: string, clientId: string): ServerSpan {
    const w = hexWord;
    const hasParent = parentId !== '';
    return new ServerSpan(traceId, traceState, w(traceId, 0), w(traceId, 8), w(traceId, 16), w(traceId, 24), w(spanId, 0), w(spanId, 8), hasParent, hasParent ? w(parentId, 0) : 0, hasParent ? w(parentId, 8) : 0, w(clientId, 0), w(clientId, 8), `00-${traceId}-${clientId}-01`);
  }

  write(w: JsonBytes): void {
    jsonHead(w, this, this.s0, this.s1, this.hasParent, this.p0, this.p1);
    w.fragment(NAME);
    if (this.entry === null) {
      w.text(this.method);
    } else {
      const pattern = this.entry.pattern.text;
      w.room(this.method.length + pattern.length * 3 + 3);
      w.buf[w.pos++] = 34;
      w.chars(this.method);
      w.buf[w.pos++] = 32;
      w.chars(pattern);
      w.buf[w.pos++] = 34;
    }
    times(w, SERVER_KIND, this.start, this.end);
    // Method, scheme, addresses and HTTP version are tokens and IPs the core checked: no escaping needed.
    w.fragment(A_METHOD_FIRST);
    w.ascii(this.method);
    w.fragment(A_PATH);
    w.wire(this.path);
    w.fragment(A_SCHEME);
    w.ascii(this.scheme);
    w.fragment(A_SERVER_ADDRESS);
    w.wire(this.host);
    w.fragment(A_CLIENT_ADDRESS);
    w.ascii(this.clientIp);
    w.fragment(A_PEER_ADDRESS);
    w.ascii(this.peer);
    w.fragment(A_PROTOCOL_VERSION);
    w.ascii(this.httpVersion);
    w.fragment(END_QUOTED);
    if (this.userAgent !== undefined) {
      w.fragment(A_USER_AGENT);
      w.wire(this.userAgent);
      w.fragment(END);
    }
    if (this.entry !== null) w.fragment(routeAttrs(this.entry));
    if (this.consumer !== null) {
      w.fragment(A_CONSUMER);
      w.text(this.consumer);
      w.fragment(END);
    }
    const status = this.status;
    if (status !== 0) {
      w.fragment(A_STATUS_CODE);
      w.uint(status);
      w.fragment(END);
    }
    if (this.errorType !== null) {
      w.fragment(A_ERROR_TYPE);
      w.text(this.errorType);
      w.fragment(END);
    }
    w.fragment(status >= 500 || status === 0 ? CLOSE_ERROR : CLOSE);
  }

  encode(w: ProtoBytes): void {
    protoHead(w, this, this.s0, this.s1, this.hasParent, this.p0, this.p1);
    const conn = this.connection;
    const c = conn === null ? undefined : connectionBlocks.get(conn);
    if (c !== undefined && c.block.length !== 0 && c.method === this.method && c.status === this.status && c.sameEntry(this.entry) && c.sameConnection(this)) {
      w.fragment(c.head);
      protoTimes(w, this.start, this.end);
      w.fragment(c.block);
    } else {
      this.#encodeBlock(w, c);
    }
    w.wireAttr(K_PATH, this.path);
    if (this.consumer !== null) w.textAttr(K_CONSUMER, this.consumer);
    if (this.errorType !== null) w.textAttr(K_ERROR_TYPE, this.errorType);
    if (this.status >= 500 || this.status === 0) w.fragment(P_STATUS_ERROR);
  }

  /**
   * Name and kind, times, and the constant attribute block: method, route, the connection's
   * attributes (scheme, server and client addresses, HTTP version, User-Agent) and status.
   * On an HTTP/1 connection the block is kept for the next request, which nearly always has
   * the same connection attributes and often the same route, method and status.
   */
  #encodeBlock(w: ProtoBytes, c: ConnectionBlock | undefined): void {
    const method = methodBytes(this.method);
    const route = this.entry === null ? null : protoRoute(this.entry);
    const head = route === null ? method.serverHead : routeHead(route, this.method);
    w.fragment(head);
    protoTimes(w, this.start, this.end);
    const start = w.pos;
    w.fragment(method.attr);
    if (route !== null) w.fragment(route.attrs);
    const sameConnection = c !== undefined && c.conn.length !== 0 && c.sameConnection(this);
    const connStart = w.pos;
    if (sameConnection) {
      w.fragment(c.conn);
    } else {
      w.asciiAttr(K_SCHEME, this.scheme);
      w.wireAttr(K_SERVER_ADDRESS, this.host);
      w.asciiAttr(K_CLIENT_ADDRESS, this.clientIp);
      w.asciiAttr(K_PEER_ADDRESS, this.peer);
      w.asciiAttr(K_PROTOCOL_VERSION, this.httpVersion);
      if (this.userAgent !== undefined) w.wireAttr(K_USER_AGENT, this.userAgent);
    }
    const connEnd = w.pos;
    if (this.status !== 0) w.fragment(statusAttr(this.status));
    const conn = this.connection;
    if (conn === null) return;
    // Kept only when small: a client's long User-Agent is not held for the connection's life.
    if (w.pos - start > MAX_BLOCK_BYTES) {
      connectionBlocks.delete(conn);
      return;
    }
    let keep = c;
    if (keep === undefined) {
      keep = new ConnectionBlock();
      connectionBlocks.set(conn, keep);
    }
    if (!sameConnection) keep.setConnection(this, w.buf, connStart, connEnd);
    keep.setBlock(this.entry, this.method, this.status, head, w.buf, start, w.pos);
  }
}

/**
 * A connection's last server-span block (see ServerSpan#encodeBlock): the connection
 * attributes' values and bytes, and the route, method and status the block was written for,
 * with the span's name and kind. Its buffers are reused as the values change.
 */
class ConnectionBlock {
  scheme = '';
  host = '';
  clientIp = '';
  peer = '';
  httpVersion = '';
  userAgent: string | undefined = undefined;
  /** Empty: none kept. */
  conn = EMPTY;
  /** The route entry, held weakly: a kept-alive connection must not keep a reloaded config's routes (and through them its pools) alive. */
  entry: WeakRef<RouteEntry> | null = null;
  method = '';
  status = 0;
  head = EMPTY;
  /** Empty: none kept. */
  block = EMPTY;

  sameEntry(entry: RouteEntry | null): boolean {
    return entry === null ? this.entry === null : this.entry !== null && this.entry.deref() === entry;
  }

  sameConnection(s: ServerSpan): boolean {
    return this.host === s.host && this.clientIp === s.clientIp && this.userAgent === s.userAgent && this.peer === s.peer && this.scheme === s.scheme && this.httpVersion === s.httpVersion;
  }

  setConnection(s: ServerSpan, from: Buffer, start: number, end: number): void {
    this.scheme = s.scheme;
    this.host = s.host;
    this.clientIp = s.clientIp;
    this.peer = s.peer;
    this.httpVersion = s.httpVersion;
    this.userAgent = s.userAgent;
    this.conn = keepBytes(this.conn, from, start, end);
  }

  setBlock(entry: RouteEntry | null, method: string, status: number, head: Buffer, from: Buffer, start: number, end: number): void {
    if (!this.sameEntry(entry)) this.entry = entry === null ? null : new WeakRef(entry);
    this.method = method;
    this.status = status;
    this.head = head;
    this.block = keepBytes(this.block, from, start, end);
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Bytes [start, end) of `from` as a buffer of their own: `into` when it has their length, else a new one. */
function keepBytes(into: Buffer, from: Buffer, start: number, end: number): Buffer {
  const n = end - start;
  const out = into.length === n ? into : Buffer.allocUnsafeSlow(n);
  from.copy(out, 0, start, end);
  return out;
}

const connectionBlocks = new WeakMap<object, ConnectionBlock>();
/** Bytes of a connection's block worth keeping (attributes of ordinary length fit). */
const MAX_BLOCK_BYTES = 768;

/** One upstream attempt of a sampled request (written when the attempt ends). */
export class ClientSpan implements SpanRecord {
  readonly trace: ServerSpan;
  readonly c0: number;
  readonly c1: number;
  readonly method: string;
  readonly target: Target;
  readonly upstream: string;
  readonly upstreamPath: string;
  readonly resendCount: number;
  /** Response status (0: none), and the error type when the attempt failed. */
  readonly status: number;
  readonly errorType: string | null;
  readonly start: number;
  readonly end: number;

  constructor(trace: ServerSpan, method: string, target: Target, upstream: string, upstreamPath: string, resendCount: number, status: number, errorType: string | null, start: number, end: number) {
    this.trace = trace;
    this.c0 = trace.c0;
    this.c1 = trace.c1;
    this.method = method;
    this.target = target;
    this.upstream = upstream;
    this.upstreamPath = upstreamPath;
    this.resendCount = resendCount;
    this.status = status;
    this.errorType = errorType;
    this.start = start;
    this.end = end;
  }

  write(w: JsonBytes): void {
    const trace = this.trace;
    jsonHead(w, trace, this.c0, this.c1, true, trace.s0, trace.s1);
    w.fragment(NAME);
    w.ascii('"');
    w.ascii(this.method);
    w.ascii('"');
    times(w, CLIENT_KIND, this.start, this.end);
    w.fragment(A_METHOD_FIRST);
    w.ascii(this.method);
    w.fragment(END_QUOTED);
    w.fragment(targetAttrs(this.target, this.upstream));
    w.fragment(A_URL_FULL);
    w.wire(this.target.origin + this.upstreamPath);
    w.fragment(END);
    if (this.resendCount > 0) {
      w.fragment(A_RESEND_COUNT);
      w.uint(this.resendCount);
      w.fragment(END);
    }
    if (this.status !== 0) {
      w.fragment(A_STATUS_CODE);
      w.uint(this.status);
      w.fragment(END);
    }
    if (this.errorType !== null) {
      w.fragment(A_ERROR_TYPE);
      w.text(this.errorType);
      w.fragment(END);
    }
    w.fragment(this.errorType !== null ? CLOSE_ERROR : CLOSE);
  }

  encode(w: ProtoBytes): void {
    const trace = this.trace;
    protoHead(w, trace, this.c0, this.c1, true, trace.s0, trace.s1);
    const t = protoTarget(this.target, this.upstream);
    if (t.block.length === 0 || t.method !== this.method || t.status !== this.status) {
      // Name and kind, and the constant attributes (method, target, status), kept per target for the next attempt with the same method and status.
      const method = methodBytes(this.method);
      const start = w.pos;
      w.fragment(method.clientHead);
      const headEnd = w.pos;
      w.fragment(method.attr);
      w.fragment(t.attrs);
      if (this.status !== 0) w.fragment(statusAttr(this.status));
      t.method = this.method;
      t.status = this.status;
      t.head = method.clientHead;
      t.block = keepBytes(t.block, w.buf, headEnd, w.pos);
      // Times go between the name/kind and the attributes: the attributes move after them.
      w.pos = start;
    }
    w.fragment(t.head);
    protoTimes(w, this.start, this.end);
    w.fragment(t.block);
    if (t.origin !== null) w.prefixedWireAttr(K_URL_FULL, t.origin, this.upstreamPath);
    else w.wireAttr(K_URL_FULL, this.target.origin + this.upstreamPath);
    if (this.resendCount > 0) w.intAttr(K_RESEND_COUNT, this.resendCount);
    if (this.errorType !== null) {
      w.textAttr(K_ERROR_TYPE, this.errorType);
      w.fragment(P_STATUS_ERROR);
    }
  }
}

const ORIGIN = performance.timeOrigin;

/** Trace id, span id, parent span id and trace state (JSON: ids as lower-case hex). */
function jsonHead(w: JsonBytes, trace: ServerSpan, s0: number, s1: number, hasParent: boolean, p0: number, p1: number): void {
  w.fragment(TRACE_ID);
  w.room(32 + 16 + 1);
  hexWords(w, trace.t0, trace.t1);
  hexWords(w, trace.t2, trace.t3);
  w.fragment(SPAN_ID);
  w.room(16 + 1);
  hexWords(w, s0, s1);
  w.buf[w.pos++] = 34;
  if (hasParent) {
    w.fragment(PARENT_ID);
    w.room(16 + 1);
    hexWords(w, p0, p1);
    w.buf[w.pos++] = 34;
  }
  if (trace.traceState !== undefined) {
    w.fragment(TRACE_STATE);
    w.wire(trace.traceState);
  }
}

/** Two 32-bit words as 16 lower-case hex chars (room made by the caller). */
function hexWords(w: JsonBytes, a: number, b: number): void {
  const buf = w.buf;
  let p = w.pos;
  for (let shift = 28; shift >= 0; shift -= 4) buf[p++] = HEX_CHARS[(a >>> shift) & 15]!;
  for (let shift = 28; shift >= 0; shift -= 4) buf[p++] = HEX_CHARS[(b >>> shift) & 15]!;
  w.pos = p;
}

/** Kind and times: performance.now() values as Unix nanoseconds, to the microsecond (µs since 1970 stay below 2^53; nanoseconds do not). */
function times(w: JsonBytes, kind: Buffer, start: number, end: number): void {
  w.fragment(kind);
  w.uint(Math.round((ORIGIN + start) * 1000));
  w.fragment(END_TIME);
  w.uint(Math.round((ORIGIN + end) * 1000));
  w.fragment(ATTRIBUTES);
}

const TRACE_ID = frag('{"traceId":"');
const SPAN_ID = frag('","spanId":"');
const PARENT_ID = frag(',"parentSpanId":"');
const TRACE_STATE = frag(',"traceState":');
const NAME = frag(',"name":');
const SERVER_KIND = frag(`,"kind":${SERVER},"startTimeUnixNano":"`);
const CLIENT_KIND = frag(`,"kind":${CLIENT},"startTimeUnixNano":"`);
const END_TIME = frag('000","endTimeUnixNano":"');
const ATTRIBUTES = frag('000","attributes":[');
const END = frag('}}');
const END_QUOTED = frag('"}}');
const CLOSE = frag(']}');
const CLOSE_ERROR = frag('],"status":{"code":2}}');

const stringAttr = (key: string): Buffer => frag(`,{"key":"${key}","value":{"stringValue":`);
const A_METHOD_FIRST = frag('{"key":"http.request.method","value":{"stringValue":"');
const A_PATH = frag('"}},{"key":"url.path","value":{"stringValue":');
const A_SCHEME = frag('}},{"key":"url.scheme","value":{"stringValue":"');
const A_SERVER_ADDRESS = frag('"}},{"key":"server.address","value":{"stringValue":');
const A_CLIENT_ADDRESS = frag('}},{"key":"client.address","value":{"stringValue":"');
const A_PEER_ADDRESS = frag('"}},{"key":"network.peer.address","value":{"stringValue":"');
const A_PROTOCOL_VERSION = frag('"}},{"key":"network.protocol.version","value":{"stringValue":"');
const A_USER_AGENT = stringAttr('user_agent.original');
const A_CONSUMER = stringAttr('northgate.consumer');
const A_ERROR_TYPE = stringAttr('error.type');
const A_URL_FULL = stringAttr('url.full');
const A_STATUS_CODE = frag(',{"key":"http.response.status_code","value":{"intValue":');
const A_RESEND_COUNT = frag(',{"key":"http.request.resend_count","value":{"intValue":');

const jsonString = (v: string): string => JSON.stringify(v);
const strAttr = (key: string, value: string): string => `,{"key":"${key}","value":{"stringValue":${jsonString(value)}}}`;

/** Per route entry (a route with several paths has one entry per path pattern). */
const routeCache = new WeakMap<RouteEntry, Buffer>();
function routeAttrs(entry: RouteEntry): Buffer {
  let b = routeCache.get(entry);
  if (b === undefined) {
    b = frag(strAttr('http.route', entry.pattern.text) + strAttr('northgate.route', entry.route.name) + strAttr('northgate.service', entry.route.service.name));
    routeCache.set(entry, b);
  }
  return b;
}

const targetCache = new WeakMap<Target, Buffer>();
function targetAttrs(target: Target, upstream: string): Buffer {
  let b = targetCache.get(target);
  if (b === undefined) {
    b = frag(strAttr('server.address', target.hostname) + `,{"key":"server.port","value":{"intValue":${target.port}}}` + strAttr('northgate.upstream', upstream));
    targetCache.set(target, b);
  }
  return b;
}

// OTLP protobuf: Span field tags (trace.proto), attribute keys pre-encoded.
const P_TRACE_ID = lenTag(1);
const P_SPAN_ID = lenTag(2);
const P_TRACE_STATE = lenTag(3);
const P_PARENT_ID = lenTag(4);
const P_SERVER_KIND = Buffer.from([varintTag(6), SERVER]);
const P_CLIENT_KIND = Buffer.from([varintTag(6), CLIENT]);
/** Span.name. */
const P_NAME_FIELD = 5;
const P_START = fixed64Tag(7);
const P_END = fixed64Tag(8);
const P_ATTRIBUTES = 9;
/** status (15): Status{ code (3): STATUS_CODE_ERROR (2) }. */
const P_STATUS_ERROR = Buffer.from([lenTag(15), 2, varintTag(3), 2]);

const K_PATH = kvKey('url.path');
const K_SCHEME = kvKey('url.scheme');
const K_SERVER_ADDRESS = kvKey('server.address');
const K_CLIENT_ADDRESS = kvKey('client.address');
const K_PEER_ADDRESS = kvKey('network.peer.address');
const K_PROTOCOL_VERSION = kvKey('network.protocol.version');
const K_USER_AGENT = kvKey('user_agent.original');
const K_CONSUMER = kvKey('northgate.consumer');
const K_ERROR_TYPE = kvKey('error.type');
const K_URL_FULL = kvKey('url.full');
const K_RESEND_COUNT = kvKey('http.request.resend_count');

function protoHead(w: ProtoBytes, trace: ServerSpan, s0: number, s1: number, hasParent: boolean, p0: number, p1: number): void {
  w.room(18 + 10 + 10);
  let p = w.pos;
  let view = w.view;
  w.buf[p] = P_TRACE_ID;
  w.buf[p + 1] = 16;
  view.setInt32(p + 2, trace.t0);
  view.setInt32(p + 6, trace.t1);
  view.setInt32(p + 10, trace.t2);
  view.setInt32(p + 14, trace.t3);
  w.buf[p + 18] = P_SPAN_ID;
  w.buf[p + 19] = 8;
  view.setInt32(p + 20, s0);
  view.setInt32(p + 24, s1);
  p += 28;
  // An empty string is proto3's default: not written.
  if (trace.traceState !== undefined && trace.traceState !== '') {
    w.pos = p;
    w.wireField(P_TRACE_STATE, trace.traceState);
    w.room(10);
    p = w.pos;
    view = w.view;
  }
  if (hasParent) {
    w.buf[p] = P_PARENT_ID;
    w.buf[p + 1] = 8;
    view.setInt32(p + 2, p0);
    view.setInt32(p + 6, p1);
    p += 10;
  }
  w.pos = p;
}

/** Times (fixed64 Unix nanoseconds, to the microsecond as in OTLP/JSON). */
function protoTimes(w: ProtoBytes, start: number, end: number): void {
  w.fixed64Micros(P_START, Math.round((ORIGIN + start) * 1000));
  w.fixed64Micros(P_END, Math.round((ORIGIN + end) * 1000));
}

/** A method's constant bytes: the name and kind of a client span or an unrouted server span, and its attribute. */
interface MethodBytes {
  readonly serverHead: Buffer;
  readonly clientHead: Buffer;
  readonly attr: Buffer;
}

/**
 * Methods kept (node:http's parser knows about 35; HTTP/2 takes any token, so the map is
 * bounded and a method beyond it is encoded each time).
 */
const MAX_METHODS = 64;
const methods = new Map<string, MethodBytes>();
function methodBytes(method: string): MethodBytes {
  let m = methods.get(method);
  if (m === undefined) {
    const name = stringField(P_NAME_FIELD, method);
    m = { serverHead: Buffer.concat([name, P_SERVER_KIND]), clientHead: Buffer.concat([name, P_CLIENT_KIND]), attr: kvString(P_ATTRIBUTES, 'http.request.method', method) };
    if (methods.size < MAX_METHODS) methods.set(method, m);
  }
  return m;
}

interface ProtoRoute {
  readonly pattern: string;
  /** http.route, northgate.route and northgate.service, encoded. */
  readonly attrs: Buffer;
  /** The span's name ("METHOD pattern") and kind, by method. */
  readonly heads: Map<string, Buffer>;
}

/** Per route entry (a route with several paths has one entry per path pattern). */
const protoRouteCache = new WeakMap<RouteEntry, ProtoRoute>();
function protoRoute(entry: RouteEntry): ProtoRoute {
  let r = protoRouteCache.get(entry);
  if (r === undefined) {
    r = {
      pattern: entry.pattern.text,
      attrs: Buffer.concat([
        kvString(P_ATTRIBUTES, 'http.route', entry.pattern.text),
        kvString(P_ATTRIBUTES, 'northgate.route', entry.route.name),
        kvString(P_ATTRIBUTES, 'northgate.service', entry.route.service.name),
      ]),
      heads: new Map(),
    };
    protoRouteCache.set(entry, r);
  }
  return r;
}

function routeHead(route: ProtoRoute, method: string): Buffer {
  let head = route.heads.get(method);
  if (head === undefined) {
    head = Buffer.concat([stringField(P_NAME_FIELD, `${method} ${route.pattern}`), P_SERVER_KIND]);
    if (route.heads.size < MAX_METHODS) route.heads.set(method, head);
  }
  return head;
}

/** A target's constant client-span bytes, and the attribute block of its last attempt. */
class ProtoTarget {
  /** server.address, server.port and northgate.upstream, encoded. */
  readonly attrs: Buffer;
  /** The origin (url.full's first part) when it is ASCII, as a URL origin should be; else null. */
  readonly origin: Buffer | null;
  /** The last attempt's method and status, its name and kind, and its block (method, target and status attributes). */
  method = '';
  status = 0;
  head = EMPTY;
  /** Empty: none kept. */
  block = EMPTY;

  constructor(target: Target, upstream: string) {
    this.attrs = Buffer.concat([kvString(P_ATTRIBUTES, 'server.address', target.hostname), kvInt(P_ATTRIBUTES, 'server.port', target.port), kvString(P_ATTRIBUTES, 'northgate.upstream', upstream)]);
    this.origin = /^[\x20-\x7e]*$/.test(target.origin) ? Buffer.from(target.origin, 'latin1') : null;
  }
}

const protoTargetCache = new WeakMap<Target, ProtoTarget>();
function protoTarget(target: Target, upstream: string): ProtoTarget {
  let t = protoTargetCache.get(target);
  if (t === undefined) {
    t = new ProtoTarget(target, upstream);
    protoTargetCache.set(target, t);
  }
  return t;
}

/** http.response.status_code attributes by status (node:http allows 100–999). */
const statusAttrs: Array<Buffer | undefined> = [];
function statusAttr(status: number): Buffer {
  return (statusAttrs[status] ??= kvInt(P_ATTRIBUTES, 'http.response.status_code', status));
}
