// Parser-level errors of the proxy listeners (malformed request, oversized head, slow head),
// answered on the socket as problem+json: node's HTTP server gives no response object for them.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { ERRORS, problemBody, type ErrorCode } from '../base/errors.js';
import { CONNECT_REFUSED } from './listeners.js';

/**
 * A request line ending in a well-formed HTTP version other than 1.0 and 1.1 (RFC 9112 §2.3):
 * not supported (505) rather than malformed (400). With 1.0 or 1.1 the fault is elsewhere
 * (`PRI / HTTP/1.1`: llhttp wants PRI with 2.0 only).
 */
const WELL_FORMED_VERSION = / HTTP\/(?!1\.[01]$)[0-9]\.[0-9]$/;

/** The first line node's parser got (up to LF, without its CR); '' when unknown. */
function requestLine(err: NodeJS.ErrnoException): string {
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  if (!Buffer.isBuffer(raw)) return '';
  let end = raw.indexOf(10);
  if (end === -1) end = Math.min(raw.length, 8192);
  if (end > 0 && raw[end - 1] === 13) end--;
  return raw.subarray(0, end).toString('latin1');
}

/** Parser-level errors (malformed request, oversized head, slow head) answered as problem+json. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A body that turns malformed after its response started (an upstream answering before it
  // read everything): an error head now would land inside that response. Cut it instead.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  let code: ErrorCode = 'bad-request';
  if (err.code === 'HPE_HEADER_OVERFLOW') code = 'headers-too-large';
  else if (err.code === 'HPE_INVALID_VERSION' && WELL_FORMED_VERSION.test(requestLine(err))) code = 'http-version-not-supported';
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') code = 'request-timeout';
  const spec = ERRORS[code];
  const detail = err.code === CONNECT_REFUSED ? 'CONNECT is not supported: the gateway is a reverse proxy' : code === 'bad-request' ? 'malformed HTTP request' : undefined;
  const body = problemBody(code, detail, randomUUID());
  socket.end(
    `HTTP/1.1 ${spec.status} ${spec.title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
