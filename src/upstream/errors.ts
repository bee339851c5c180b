import type { ErrorCode } from '../base/errors.js';
import { SAN_MISMATCH } from './tls.js';

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
  ERR_HTTP2_STREAM_ERROR: 'upstream-unavailable',
  ERR_HTTP2_SESSION_ERROR: 'upstream-unavailable',
  ERR_HTTP2_GOAWAY_SESSION: 'upstream-unavailable',
  ERR_HTTP2_STREAM_CANCEL: 'upstream-unavailable',
  ERR_HTTP2_ERROR: 'upstream-unavailable',
  [SAN_MISMATCH]: 'upstream-tls-error',
  ERR_TLS_CERT_ALTNAME_INVALID: 'upstream-tls-error',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'upstream-tls-error',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'upstream-tls-error',
  UNABLE_TO_GET_ISSUER_CERT: 'upstream-tls-error',
  SELF_SIGNED_CERT_IN_CHAIN: 'upstream-tls-error',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'upstream-tls-error',
  CERT_HAS_EXPIRED: 'upstream-tls-error',
  CERT_NOT_YET_VALID: 'upstream-tls-error',
  CERT_SIGNATURE_FAILURE: 'upstream-tls-error',
  CERT_UNTRUSTED: 'upstream-tls-error',
  CERT_REJECTED: 'upstream-tls-error',
};

export function upstreamErrorCode(err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const mapped = BY_CODE[code];
    if (mapped !== undefined) return mapped;
    if (code.startsWith('HPE_')) return 'upstream-invalid-response';
    // TLS alerts from the upstream, e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED (no client certificate).
    if (code.startsWith('ERR_SSL_')) return 'upstream-tls-error';
  }
  return 'upstream-unavailable';
}

/** The problem detail for an upstream failure: what went wrong, never an address. */
export function upstreamErrorDetail(code: ErrorCode, err: unknown): string {
  if (code === 'upstream-timeout') return 'the upstream did not answer in time';
  if (code === 'bad-request') return 'request body shorter than its Content-Length';
  if (code === 'upstream-tls-error') {
    const c = String((err as { code?: unknown } | null)?.code ?? '');
    if (c === SAN_MISMATCH) return 'the upstream certificate does not carry the expected SAN (tls.expect_san)';
    if (c.includes('ALERT')) return `the upstream refused the TLS handshake (${c}); does it require a client certificate (tls.client_cert)?`;
    return `the upstream certificate failed verification (${c})`;
  }
  return 'the upstream could not be reached or failed';
}
