// gRPC clients are answered in gRPC terms when the gateway replies itself (no route, auth,
// rate limit, upstream down...): HTTP 200 with a trailers-only response carrying
// grpc-status and grpc-message, never an HTML or JSON page a gRPC client cannot read.
// The mapping follows gRPC's "HTTP to gRPC status code mapping" where it has one, and picks
// the closer meaning where a gateway knows more (429 and 413 are RESOURCE_EXHAUSTED, 504
// and 408 are DEADLINE_EXCEEDED).
import { firstHeader } from '../base/raw-headers.js';
import type { DownstreamRequest } from '../http1/types.js';
import type { ServerHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { RequestContext } from './context.js';
import type { HeaderList } from '../sdk/header-list.js';

export const GRPC_STATUS = {
  OK: 0,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** HTTP status of a local reply -> grpc-status (docs/protocols.md has the table). */
const BY_HTTP: Record<number, number> = {
  400: GRPC_STATUS.INTERNAL,
  401: GRPC_STATUS.UNAUTHENTICATED,
  403: GRPC_STATUS.PERMISSION_DENIED,
  404: GRPC_STATUS.UNIMPLEMENTED,
  408: GRPC_STATUS.DEADLINE_EXCEEDED,
  413: GRPC_STATUS.RESOURCE_EXHAUSTED,
  429: GRPC_STATUS.RESOURCE_EXHAUSTED,
  431: GRPC_STATUS.RESOURCE_EXHAUSTED,
  500: GRPC_STATUS.INTERNAL,
  501: GRPC_STATUS.UNIMPLEMENTED,
  502: GRPC_STATUS.UNAVAILABLE,
  503: GRPC_STATUS.UNAVAILABLE,
  504: GRPC_STATUS.DEADLINE_EXCEEDED,
};

export function grpcStatusFor(httpStatus: number): number {
  return BY_HTTP[httpStatus] ?? (httpStatus < 400 ? GRPC_STATUS.OK : GRPC_STATUS.UNKNOWN);
}

/** application/grpc, application/grpc+proto, application/grpc-web...: the client reads grpc-status. */
export function isGrpcRequest(req: DownstreamRequest): boolean {
  // The first Content-Type (the one node's `headers` keeps), read from the raw list.
  return firstHeader(req.rawHeaders, 'content-type')?.startsWith('application/grpc') === true;
}

/** grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2 spec): printable ASCII except "%" passes. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * Writes a local reply as a trailers-only gRPC response: one HEADERS frame with END_STREAM
 * (HTTP/2), so the client reads the status at once. The headers the plugins set stay
 * (WWW-Authenticate, Retry-After, RateLimit...); the body is dropped.
 */
export function writeGrpcLocalReply(ctx: RequestContext, headers: HeaderList, detail: string): void {
  headers.remove('content-type');
  headers.remove('content-length');
  headers.raw.push('content-type', 'application/grpc', 'grpc-status', String(grpcStatusFor(ctx.responseStatus)), 'grpc-message', encodeGrpcMessage(detail));
  const res = ctx.res as unknown as { stream?: ServerHttp2Stream };
  if (ctx.req.httpVersionMajor === 2 && res.stream !== undefined) {
    const out: OutgoingHttpHeaders = { ':status': 200 };
    const raw = headers.raw;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const prev = out[name];
      out[name] = prev === undefined ? raw[i + 1]! : Array.isArray(prev) ? [...prev, raw[i + 1]!] : [String(prev), raw[i + 1]!];
    }
    if (!res.stream.destroyed) res.stream.respond(out, { endStream: true });
    return;
  }
  ctx.res.writeHead(200, headers.raw);
  ctx.res.end();
}

/**
 * The upstream failed after the response head went out: a gRPC client over HTTP/2 still
 * gets a status (in trailers) rather than a reset stream. False when that is not possible.
 */
export function endGrpcStream(ctx: RequestContext, httpStatus: number, detail: string): boolean {
  const res = ctx.res;
  if (ctx.req.httpVersionMajor !== 2 || res.writableEnded || !isGrpcRequest(ctx.req)) return false;
  res.addTrailers({ 'grpc-status': String(grpcStatusFor(httpStatus)), 'grpc-message': encodeGrpcMessage(detail) });
  res.end();
  return true;
}
