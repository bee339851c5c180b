// The one table of errors a client can receive from the gateway itself. Every local
// reply that is an error goes through here and is rendered as RFC 9457 problem+json.
// docs/errors.md lists the same codes; test/unit/errors.test.ts keeps the two in sync.

export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

export const ERRORS = {
  'bad-request': { status: 400, title: 'Bad Request' },
  'invalid-entity': { status: 400, title: 'Invalid Entity' },
  'invalid-config': { status: 400, title: 'Invalid Configuration' },
  'request-invalid': { status: 400, title: 'Request Does Not Match the API Description' },
  'route-not-found': { status: 404, title: 'No Route Matched' },
  'api-version-not-found': { status: 404, title: 'API Version Not Found' },
  'operation-not-found': { status: 404, title: 'No Such Operation' },
  'unauthorized': { status: 401, title: 'Unauthorized' },
  'forbidden': { status: 403, title: 'Forbidden' },
  'csrf-failed': { status: 403, title: 'CSRF Check Failed' },
  'host-not-allowed': { status: 403, title: 'Host Not Allowed' },
  'cross-site-request': { status: 403, title: 'Cross-Site Request Refused' },
  'not-found': { status: 404, title: 'Not Found' },
  'conflict': { status: 409, title: 'Conflict' },
  'sign-in-throttled': { status: 429, title: 'Too Many Sign-In Attempts' },
  'entity-not-found': { status: 404, title: 'Entity Not Found' },
  'method-not-allowed': { status: 405, title: 'Method Not Allowed' },
  'request-timeout': { status: 408, title: 'Request Timeout' },
  'entity-conflict': { status: 409, title: 'Conflict' },
  'precondition-failed': { status: 412, title: 'Precondition Failed' },
  'body-too-large': { status: 413, title: 'Request Body Too Large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported Media Type' },
  'rate-limited': { status: 429, title: 'Too Many Requests' },
  'quota-exceeded': { status: 429, title: 'Quota Exceeded' },
  'expectation-failed': { status: 417, title: 'Expectation Failed' },
  'headers-too-large': { status: 431, title: 'Request Header Fields Too Large' },
  'internal-error': { status: 500, title: 'Internal Gateway Error' },
  'no-backend': { status: 500, title: 'No Backend' },
  'misdirected-request': { status: 421, title: 'Misdirected Request' },
  'upstream-unavailable': { status: 502, title: 'Upstream Unavailable' },
  'upstream-invalid-response': { status: 502, title: 'Invalid Upstream Response' },
  'response-invalid': { status: 502, title: 'Response Does Not Match the API Description' },
  'upstream-tls-error': { status: 502, title: 'Upstream TLS Failed' },
  'shutting-down': { status: 503, title: 'Gateway Shutting Down' },
  'upstream-unhealthy': { status: 503, title: 'Upstream Unhealthy' },
  'auth-unavailable': { status: 503, title: 'Authentication Unavailable' },
  'rate-limit-unavailable': { status: 503, title: 'Rate Limit Store Unavailable' },
  'quota-unavailable': { status: 503, title: 'Quota Store Unavailable' },
  'cache-unavailable': { status: 503, title: 'Cache Store Unavailable' },
  'circuit-open': { status: 503, title: 'Circuit Open' },
  'overloaded': { status: 503, title: 'Service Overloaded' },
  'fault-injected': { status: 503, title: 'Fault Injected' },
  'upstream-timeout': { status: 504, title: 'Upstream Timeout' },
  'http-version-not-supported': { status: 505, title: 'HTTP Version Not Supported' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const PROBLEM_TYPE_PREFIX = 'urn:northgate:problem:';

/** A request-time error with a code from the table. Thrown only inside the core. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ?? ERRORS[code].title);
    this.code = code;
    this.detail = detail;
  }
}

/** Renders the problem+json body. `detail` must never carry internal addresses or stacks. */
export function problemBody(code: ErrorCode, detail: string | undefined, requestId: string): string {
  const spec = ERRORS[code];
  return JSON.stringify({
    type: PROBLEM_TYPE_PREFIX + code,
    title: spec.title,
    status: spec.status,
    detail: detail ?? spec.title,
    request_id: requestId,
  });
}
