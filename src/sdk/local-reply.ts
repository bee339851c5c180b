import { ERRORS, PROBLEM_TYPE_PREFIX, type ErrorCode } from '../base/errors.js';

/**
 * The brand the core recognises a LocalReply by. A registered symbol is the same in every
 * copy of this module, so a plugin whose `northgate/sdk` is a second copy (an extension
 * package with its own node_modules) still ends the request: `instanceof` would not see it.
 */
const BRAND = Symbol.for('northgate.local-reply');

/** Mutable view of a reply, for the factories that set what the constructor leaves at its default. */
type Building = { -readonly [K in 'problem' | 'complete']: LocalReply[K] };

/** Extension members of a problem body (RFC 9457 §3.2), e.g. `errors`; the standard members cannot be replaced. */
export type ProblemMembers = Readonly<Record<string, unknown>>;

/**
 * An answer the gateway gives itself instead of forwarding (Envoy's sendLocalReply).
 * Returning one from a request-phase hook ends the request; the core renders it.
 */
export class LocalReply {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** A name → value record, or a flat [name, value, ...] list (repeated names, e.g. a cached response's headers). */
  readonly headers: Record<string, string> | readonly string[];
  /** The body as given (a problem's is rendered by the core, with the request id). */
  readonly body: string | Buffer | undefined;
  /** Set for problems so that the core fills in the request id at render time. */
  readonly problem: { readonly code: string; readonly title: string; readonly detail: string | undefined; readonly members?: ProblemMembers } | undefined;
  /**
   * The flat `headers` list is complete and handed over: the core writes it as it is (plus
   * X-Request-Id) instead of copying it, and adds no Content-Length of its own — the list
   * carries one when the answer needs one. See `LocalReply.prebuilt`.
   */
  readonly complete: boolean;

  /** An answer with this status, body and headers. */
  constructor(status: number, body?: string | Buffer, headers: Record<string, string> | readonly string[] = {}) {
    this.status = status;
    this.body = body;
    this.headers = headers;
    this.problem = undefined;
    this.complete = false;
  }

  /**
   * An answer whose flat header list was built ahead (e.g. a cached response): `headers`
   * must be a fresh array per reply (the core and response-phase plugins may edit it),
   * without X-Request-Id, with Content-Length when the status has a body.
   */
  static prebuilt(status: number, body: string | Buffer | undefined, headers: string[]): LocalReply {
    const reply = new LocalReply(status, body, headers);
    (reply as Building).complete = true;
    return reply;
  }

  /** An error from the gateway's table, e.g. LocalReply.error('route-not-found'); `members` are added to its body. */
  static error(code: ErrorCode, detail?: string, headers?: Record<string, string> | readonly string[], members?: ProblemMembers): LocalReply {
    // Own codes only: a name Object.prototype has ("toString") is not an error of the table.
    if (!Object.hasOwn(ERRORS, code)) throw new TypeError(`LocalReply.error: "${String(code)}" is not a code of the error table (use LocalReply.problem for a plugin's own)`);
    const spec = ERRORS[code];
    return withProblem(new LocalReply(spec.status, undefined, headers), code, spec.title, detail, members);
  }

  /**
   * A problem with a plugin's own status and title (user plugins outside the core table).
   * Its body says this status and title, whatever the code.
   */
  static problem(status: number, code: string, title: string, detail?: string, headers?: Record<string, string> | readonly string[]): LocalReply {
    return withProblem(new LocalReply(status, undefined, headers), code, title, detail);
  }

  /** `value` as JSON (Content-Type application/json). */
  static json(status: number, value: unknown, headers: Record<string, string> = {}): LocalReply {
    return new LocalReply(status, JSON.stringify(value), { 'content-type': 'application/json', ...headers });
  }
}

// On the prototype, not on each reply: no field per reply, and one property read to check.
Object.defineProperty(LocalReply.prototype, BRAND, { value: true });

function withProblem(reply: LocalReply, code: string, title: string, detail: string | undefined, members?: ProblemMembers): LocalReply {
  (reply as Building).problem = members === undefined ? { code, title, detail } : { code, title, detail, members };
  return reply;
}

/** Whether a hook's result is a LocalReply of any copy of the SDK (see BRAND). */
export function isLocalReply(value: unknown): value is LocalReply {
  return value != null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/**
 * The body to send: a problem's problem+json body with the request id filled in, else the
 * body as given. Reads only the reply's fields, so a reply of another SDK copy renders the
 * same. The body's status is the reply's (the HTTP status), also for a code of the table.
 */
export function renderLocalReplyBody(reply: LocalReply, requestId: string): string | Buffer | undefined {
  const problem = reply.problem;
  if (problem === undefined) return reply.body;
  return JSON.stringify({
    ...problem.members,
    type: PROBLEM_TYPE_PREFIX + problem.code,
    title: problem.title,
    status: reply.status,
    detail: problem.detail ?? problem.title,
    request_id: requestId,
  });
}
