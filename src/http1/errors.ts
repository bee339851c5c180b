// The errors of the HTTP/1.1 client, with the `code` values undici gives the same failures,
// so src/upstream/errors.ts maps them to the same problems whichever client ran the request.

export class H1ClientError extends Error {
  readonly code: string;

  constructor(message: string, code: string, name = 'UndiciError') {
    super(message);
    this.name = name;
    this.code = code;
  }
}

export const connectTimeout = (): H1ClientError => new H1ClientError('Connect Timeout Error', 'UND_ERR_CONNECT_TIMEOUT', 'ConnectTimeoutError');
export const headersTimeout = (): H1ClientError => new H1ClientError('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT', 'HeadersTimeoutError');
export const bodyTimeout = (): H1ClientError => new H1ClientError('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT', 'BodyTimeoutError');
export const socketError = (message: string): H1ClientError => new H1ClientError(message, 'UND_ERR_SOCKET', 'SocketError');
export const aborted = (): H1ClientError => new H1ClientError('Request aborted', 'UND_ERR_ABORTED', 'AbortError');
export const closed = (): H1ClientError => new H1ClientError('The client is closed', 'UND_ERR_CLOSED', 'ClientClosedError');
export const destroyed = (): H1ClientError => new H1ClientError('The client is destroyed', 'UND_ERR_DESTROYED', 'ClientDestroyedError');
export const invalidArgument = (message: string): H1ClientError => new H1ClientError(message, 'UND_ERR_INVALID_ARG', 'InvalidArgumentError');
export const notSupported = (message: string): H1ClientError => new H1ClientError(message, 'UND_ERR_NOT_SUPPORTED', 'NotSupportedError');
export const requestLengthMismatch = (): H1ClientError =>
  new H1ClientError('Request body length does not match content-length header', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'RequestContentLengthMismatchError');
export const responseLengthMismatch = (): H1ClientError =>
  new H1ClientError('Response body length does not match content-length header', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ResponseContentLengthMismatchError');
/** Not an undici code: undici's queues have no bound. errors.ts maps it as "unavailable". */
export const queueFull = (): H1ClientError => new H1ClientError('too many requests waiting for a connection to the upstream', 'ERR_NORTHGATE_UPSTREAM_QUEUE_FULL');

/** What llhttp refused, as undici's HTTPParserError reports it (`code` is the llhttp error, HPE_*). */
export function parserError(err: { code?: unknown; reason?: unknown }): H1ClientError {
  const code = typeof err.code === 'string' ? err.code : 'HPE_INTERNAL';
  return new H1ClientError(`Response does not match the HTTP/1.1 protocol (${String(err.reason ?? code)})`, code, 'HTTPParserError');
}
