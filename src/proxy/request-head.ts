// Reads the client's request head once: checks what node's strict parser lets through
// (ambiguous Host, odd request targets, dot segments), and builds the upstream header
// list in the same pass — hop-by-hop and identity headers out, forwarding headers in.
import type { RequestContext } from './context.js';
import { unmapIPv4 } from './context.js';
import { newRequestId } from './request-id.js';
import { needsNormalizing, normalizePath } from './request-path.js';

const KEEP = 0;
const DROP = 1;
const HOST = 2;
const CONNECTION = 3;
const XFF = 4;
const XF_KEEP_IF_TRUSTED = 5;
const REQUEST_ID = 6;
const CONTENT_LENGTH = 7;
const TRANSFER_ENCODING = 8;
const AUTHORITY = 9;
const TRACEPARENT = 10;
const TRACESTATE = 11;
const USER_AGENT = 12;
const EXPECT = 13;

const SPECIAL = new Map<string, number>([
  ['host', HOST],
  ['connection', CONNECTION],
  ['keep-alive', DROP],
  ['proxy-connection', DROP],
  ['te', DROP],
  ['trailer', DROP],
  ['upgrade', DROP],
  ['transfer-encoding', TRANSFER_ENCODING],
  ['content-length', CONTENT_LENGTH],
  // Answered by the gateway (src/proxy/interim.ts), never forwarded: undici refuses to send it.
  ['expect', EXPECT],
  ['x-forwarded-for', XFF],
  ['x-forwarded-proto', XF_KEEP_IF_TRUSTED],
  ['x-forwarded-host', XF_KEEP_IF_TRUSTED],
  ['x-forwarded-port', XF_KEEP_IF_TRUSTED],
  ['forwarded', XF_KEEP_IF_TRUSTED],
  ['x-real-ip', XF_KEEP_IF_TRUSTED],
  ['x-request-id', REQUEST_ID],
  // Forwarded as they are; kept on ctx for tracing and the access log, so that neither needs
  // node's lazily built req.headers object.
  ['traceparent', TRACEPARENT],
  ['tracestate', TRACESTATE],
  ['user-agent', USER_AGENT],
  // Identity headers are set by auth plugins only; a client's copy is never forwarded.
  ['x-consumer-id', DROP],
  ['x-consumer-username', DROP],
  ['x-consumer-groups', DROP],
  ['x-credential-id', DROP],
  ['x-anonymous-consumer', DROP],
  // Path overrides: IIS URL Rewrite, Symfony and Zend serve the path they name instead of the
  // request's, which would put a protected path behind whatever route the request line chose.
  ['x-original-url', DROP],
  ['x-rewrite-url', DROP],
  // HTTP/2 pseudo-headers (node:http2's compat request lists them in rawHeaders): never
  // forwarded as headers; :authority is the Host.
  [':authority', AUTHORITY],
  [':method', DROP],
  [':path', DROP],
  [':scheme', DROP],
  [':protocol', DROP],
]);

/**
 * SPECIAL's kind of a header name as the client spelled it, case kept: a request's names come
 * in a few spellings repeated on every request ("Host", "User-Agent"), and a hit here spares
 * lower-casing each of them into a new string to look it up. Bounded: clients choose names.
 */
const KIND_BY_SPELLING = new Map<string, number>();
const MAX_SPELLINGS = 2048;

function kindOf(name: string): number {
  let kind = KIND_BY_SPELLING.get(name);
  if (kind === undefined) {
    kind = SPECIAL.get(name.toLowerCase()) ?? KEEP;
    if (KIND_BY_SPELLING.size < MAX_SPELLINGS) KIND_BY_SPELLING.set(name, kind);
  }
  return kind;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:+=@/-]{1,200}$/;
/**
 * One label of a Host's name: RFC 3986's reg-name characters (unreserved and sub-delims, so
 * `_` as in gRPC service names and SRV-style names) but for three: "," (two Hosts joined into
 * a list, which an upstream splitting X-Forwarded-Host would read as another host), "%" (a
 * percent-encoded name, which URL parsers decode into another name) and "*" (the wildcard of
 * route hosts, never a name).
 */
const HOST_LABEL = "[A-Za-z0-9_~!$&'()+;=-]+";
/** A port from 1 to 65535, without leading zeros. */
const HOST_PORT = '(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
/** A Host or :authority: a name of non-empty labels (a trailing dot allowed) or a bracketed IPv6 address, and a port. No userinfo, no path. */
const HOST_HEADER = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?|\\[[0-9A-Fa-f:.]+\\])(?::${HOST_PORT})?$`);

/** Returns a reason when the request must be refused with 400, or null. */
export function readRequestHead(ctx: RequestContext): string | null {
  const req = ctx.req;
  const url = req.url!;
  const raw = req.rawHeaders;
  const out = ctx.upstreamHeaders.raw;
  const peer = unmapIPv4(req.socket.remoteAddress ?? '');
  ctx.peerAddress = peer;
  const trusted = ctx.snapshot.trustedProxies;
  const peerTrusted = trusted !== null && peer !== '' && trusted.check(peer, peer.includes(':') ? 'ipv6' : 'ipv4');
  ctx.peerTrusted = peerTrusted;

  let hostHeader: string | undefined;
  let requestId: string | undefined;
  let connectionTokens: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let xfPort: string | undefined;
  let authority: string | undefined;
  let extraHosts = 0;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const kind = kindOf(name);
    switch (kind) {
      case KEEP:
        out.push(name, value);
        break;
      case DROP:
        break;
      case HOST:
        // Refused after the loop, so that the headers after it are still read (the log line
        // and span of the refused request keep the client's User-Agent and trace context).
        if (hostHeader !== undefined) extraHosts++;
        hostHeader = value;
        break;
      case CONNECTION:
        connectionTokens = connectionTokens === undefined ? value : `${connectionTokens},${value}`;
        break;
      case XFF:
        if (peerTrusted) ctx.forwardedFor = ctx.forwardedFor === undefined ? value : `${ctx.forwardedFor}, ${value}`;
        break;
      case XF_KEEP_IF_TRUSTED:
        if (peerTrusted) {
          const l = name.toLowerCase();
          if (l === 'x-forwarded-proto') xfProto = value;
          else if (l === 'x-forwarded-host') xfHost = value;
          else if (l === 'x-forwarded-port') xfPort = value;
          else out.push(name, value);
        }
        break;
      case REQUEST_ID:
        if (requestId === undefined && SANE_REQUEST_ID.test(value)) requestId = value;
        break;
      case CONTENT_LENGTH:
        ctx.requestBodyLength = Number(value);
        out.push(name, value);
        break;
      case TRANSFER_ENCODING:
        ctx.requestChunked = true;
        break;
      case AUTHORITY:
        authority = value;
        break;
      // Several values are joined as node joins them in req.headers (its first User-Agent wins).
      case TRACEPARENT:
        ctx.traceparent = ctx.traceparent === undefined ? value : `${ctx.traceparent}, ${value}`;
        out.push(name, value);
        break;
      case TRACESTATE:
        ctx.tracestate = ctx.tracestate === undefined ? value : `${ctx.tracestate}, ${value}`;
        out.push(name, value);
        break;
      case USER_AGENT:
        if (ctx.userAgent === undefined) ctx.userAgent = value;
        out.push(name, value);
        break;
      case EXPECT:
        ctx.expect = ctx.expect === undefined ? value : `${ctx.expect}, ${value}`;
        break;
    }
  }
  if (authority !== undefined) {
    // RFC 9113 8.3.1: a Host beside :authority must name the same host.
    if (hostHeader !== undefined && hostHeader.toLowerCase() !== authority.toLowerCase()) return ':authority and Host header name different hosts';
    hostHeader = authority;
  }
  // HTTP/2 has no Transfer-Encoding: a body of unknown length streams like a chunked one.
  // (An HTTP/1 request line may say HTTP/2.0 too: it has no stream, and is answered 505.)
  if (ctx.requestBodyLength < 0 && req.httpVersionMajor === 2 && (req as unknown as { stream?: { endAfterHeaders: boolean } }).stream?.endAfterHeaders === false) ctx.requestChunked = true;
  ctx.id = requestId ?? newRequestId();
  if (extraHosts > 0) return 'more than one Host header';
  // RFC 9112 §3.2 (node's own check answers without a problem body, so it is off: listeners.ts).
  if (hostHeader === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) return 'an HTTP/1.1 request must carry a Host header';

  // Absolute-form targets (RFC 9112 3.2.2) carry the authority; it must agree with Host.
  let target = url;
  if (target.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/([^/?#]+)(.*)$/i.exec(target);
    if (m === null) return 'request target must be a path (origin-form)';
    if (hostHeader !== undefined && m[1]!.toLowerCase() !== hostHeader.toLowerCase()) return 'request target and Host header name different hosts';
    hostHeader = m[1]!;
    target = m[2] === '' ? '/' : m[2]!;
    if (target.charCodeAt(0) !== 47) return 'request target must be a path (origin-form)';
  }

  if (hostHeader !== undefined) {
    if (!HOST_HEADER.test(hostHeader)) return 'malformed Host header';
    ctx.hostHeader = hostHeader;
    ctx.host = hostName(hostHeader);
  }

  const q = target.indexOf('?');
  let path = q === -1 ? target : target.slice(0, q);
  ctx.query = q === -1 ? '' : target.slice(q);
  if (ctx.query.includes('#')) return 'request target must not contain a fragment';
  if (needsNormalizing(path)) {
    const normalized = normalizePath(path, ctx.snapshot.paths);
    // A refusal says why; a path always starts with "/".
    if (normalized.charCodeAt(0) !== 47) return normalized;
    path = normalized;
  }
  ctx.path = path;

  if (connectionTokens !== undefined) dropConnectionListed(out, connectionTokens);

  out.push('x-forwarded-for', ctx.forwardedFor === undefined ? peer : `${ctx.forwardedFor}, ${peer}`);
  out.push('x-forwarded-proto', xfProto ?? ctx.listener.protocol);
  if (xfHost !== undefined || hostHeader !== undefined) out.push('x-forwarded-host', xfHost ?? hostHeader!);
  out.push('x-forwarded-port', xfPort ?? ctx.listener.portText);
  out.push('x-request-id', ctx.id);
  return null;
}

function hostName(hostHeader: string): string {
  let h = hostHeader;
  if (h.charCodeAt(0) === 91 /* [ */) return h.slice(0, h.indexOf(']') + 1).toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}

function dropConnectionListed(out: string[], tokens: string): void {
  const names = new Set(tokens.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive'));
  if (names.size === 0) return;
  let w = 0;
  for (let r = 0; r < out.length; r += 2) {
    if (names.has(out[r]!.toLowerCase())) continue;
    out[w] = out[r]!;
    out[w + 1] = out[r + 1]!;
    w += 2;
  }
  out.length = w;
}
