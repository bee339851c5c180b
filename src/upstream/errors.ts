import type { ErrorCode } from '../errors.js';

/** undici's and the socket layer's errors, mapped once to what the client is told. */
const BY_CODE: Record<string, ErrorCode> = {
  UND_ERR_CONNECT_TIMEOUT: 'upstream-timeout',
  UND_ERR_HEADERS_TIMEOUT: 'upstream-timeout',
  UND_ERR_BODY_TIMEOUT: 'upstream-timeout',
  ETIMEDOUT: 'upstream-timeout',
  ECONNREFUSED: 'upstream-unavailable',
  ECONNRESET: 'upstream-unavailable',
  EPIPE: 'upstream-unavailable',
  EHOSTUNREACH: 'upstream-unavailable',
  ENETUNREACH: 'upstream-unavailable',
  ENOTFOUND: 'upstream-unavailable',
  EAI_AGAIN: 'upstream-unavailable',
  UND_ERR_SOCKET: 'upstream-unavailable',
  UND_ERR_CLOSED: 'upstream-unavailable',
  UND_ERR_DESTROYED: 'upstream-unavailable',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'upstream-invalid-response',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'upstream-invalid-response',
  UND_ERR_INFO: 'upstream-invalid-response',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'bad-request',
};

export function upstreamErrorCode(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const mapped = BY_CODE[code];
    if (mapped !== undefined) return mapped;
    if (code.startsWith('HPE_')) return 'upstream-invalid-response';
  }
  return 'upstream-unavailable';
}
