import { ERRORS, problemBody, PROBLEM_TYPE_PREFIX, type ErrorCode } from '../base/errors.js';

/**
 * An answer the gateway gives itself instead of forwarding (Envoy's sendLocalReply).
 * Returning one from a request-phase hook ends the request; the core renders it.
 */
export class LocalReply {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** A name → value record, or a flat [name, value, ...] list (repeated names, e.g. a cached response's headers). */
  readonly headers: Record<string, string> | readonly string[];
  /** The body as given (problems render theirs with the request id, see renderBody). */
  readonly body: string | Buffer | undefined;
  /** Set for problems so that the core fills in the request id at render time. */
  readonly problem: { code: string; title: string; detail: string | undefined } | undefined;
  /**
   * The flat `headers` list is complete and handed over: the core writes it as it is (plus
   * X-Request-Id) instead of copying it, and adds no Content-Length of its own — the list
   * carries one when the answer needs one. See `LocalReply.prebuilt`.
   */
  readonly complete: boolean;

  /** An answer with this status, body and headers (`problem` and `complete`: see the fields). */
  constructor(status: number, body?: string | Buffer, headers: Record<string, string> | readonly string[] = {}, problem?: LocalReply['problem'], complete = false) {
    this.status = status;
    this.body = body;
    this.headers = headers;
    this.problem = problem;
    this.complete = complete;
  }

  /**
   * An answer whose flat header list was built ahead (e.g. a cached response): `headers`
   * must be a fresh array per reply (the core and response-phase plugins may edit it),
   * without X-Request-Id, with Content-Length when the status has a body.
   */
  static prebuilt(status: number, body: string | Buffer | undefined, headers: string[]): LocalReply {
    return new LocalReply(status, body, headers, undefined, true);
  }

  /** An error from the gateway's table, e.g. LocalReply.error('route-not-found'). */
  static error(code: ErrorCode, detail?: string, headers?: Record<string, string>): LocalReply {
    return new LocalReply(ERRORS[code].status, undefined, headers, { code, title: ERRORS[code].title, detail });
  }

  /** A problem with a plugin's own status and title (user plugins outside the core table). */
  static problem(status: number, code: string, title: string, detail?: string, headers?: Record<string, string>): LocalReply {
    return new LocalReply(status, undefined, headers, { code, title, detail });
  }

  /** `value` as JSON (Content-Type application/json). */
  static json(status: number, value: unknown, headers: Record<string, string> = {}): LocalReply {
    return new LocalReply(status, JSON.stringify(value), { 'content-type': 'application/json', ...headers });
  }

  /** The body to send: a problem's JSON body with the request id filled in, else `body`. */
  renderBody(requestId: string): string | Buffer | undefined {
    if (!this.problem) return this.body;
    if (this.problem.code in ERRORS) return problemBody(this.problem.code as ErrorCode, this.problem.detail, requestId);
    return JSON.stringify({
      type: PROBLEM_TYPE_PREFIX + this.problem.code,
      title: this.problem.title,
      status: this.status,
      detail: this.problem.detail ?? this.problem.title,
      request_id: requestId,
    });
  }
}
