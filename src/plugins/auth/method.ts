// What every authentication plugin is made of: an AuthMethod that looks at a request and
// says who sent it. The key-auth, basic-auth and jwt plugins wrap one method each; the
// `auth` plugin tries several in order. Identity headers are set here, in one place.
import type { Consumer, Credential } from '../../sdk/consumer.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { PluginHandler } from '../../sdk/plugin.js';

export interface Authenticated {
  readonly consumer: Consumer;
  readonly credential: Credential | null;
  /** Extra upstream headers of this method (jwt's forward_claims), set after the identity headers. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** No credential of this kind in the request: another method (or the anonymous consumer) may apply. */
export const MISSING = 0;
/** A credential was presented and is not valid: the request is refused, whatever else is configured. */
export const INVALID = 1;
/** The method could not decide (identity provider unreachable): 503. */
export const UNAVAILABLE = 2;
/** A valid credential without a scope the route requires (RFC 6750 insufficient_scope): 403, whatever else is configured. */
export const INSUFFICIENT_SCOPE = 3;
export type AuthFailure = typeof MISSING | typeof INVALID | typeof UNAVAILABLE | typeof INSUFFICIENT_SCOPE;
export type AuthResult = Authenticated | AuthFailure;

export interface AuthMethod {
  readonly name: string;
  /** The WWW-Authenticate challenge for a request without a credential. */
  readonly challenge: string;
  /** The challenge for an invalid credential (RFC 6750 adds error="invalid_token"). */
  readonly invalidChallenge: string;
  /** The challenge of a 403 for a credential that lacks a required scope (methods that check scopes). */
  readonly insufficientChallenge?: string;
  /** On success the method has already removed its credential from the upstream request when hide_credentials is on. */
  authenticate(ctx: PluginContext): AuthResult | Promise<AuthResult>;
  /**
   * With hide_credentials on: removes every copy of this kind of credential from the upstream
   * request (every header and query parameter it could be read from). The `auth` plugin calls
   * it for each of its methods once one of them has authenticated the request.
   */
  readonly hide?: (ctx: PluginContext) => void;
  close?(): void;
}

/** Removes every Authorization field whose scheme matches `scheme` (e.g. /^basic /i). */
export function removeAuthorization(ctx: PluginContext, scheme: RegExp): void {
  const raw = ctx.upstreamHeaders.raw;
  let w = 0;
  for (let r = 0; r < raw.length; r += 2) {
    const n = raw[r]!;
    if (n.length === 13 && n.toLowerCase() === 'authorization' && scheme.test(raw[r + 1]!.trimStart())) continue;
    raw[w] = n;
    raw[w + 1] = raw[r + 1]!;
    w += 2;
  }
  if (w !== raw.length) raw.length = w;
}

export function setIdentity(ctx: PluginContext, who: Authenticated, anonymous = false): void {
  ctx.consumer = who.consumer;
  ctx.credential = who.credential;
  const h = ctx.upstreamHeaders;
  h.setLowerCase('x-consumer-id', who.consumer.id);
  h.setLowerCase('x-consumer-username', who.consumer.username);
  if (who.consumer.groupsHeader !== '') h.setLowerCase('x-consumer-groups', who.consumer.groupsHeader);
  if (who.credential !== null) h.setLowerCase('x-credential-id', who.credential.id);
  if (anonymous) h.setLowerCase('x-anonymous-consumer', 'true');
  if (who.headers) for (const [name, value] of who.headers) h.set(name, value);
}

export function unauthorized(challenge: string): LocalReply {
  return LocalReply.error('unauthorized', 'valid credentials are required', { 'www-authenticate': challenge });
}

export function unavailable(): LocalReply {
  return LocalReply.error('auth-unavailable', 'the identity provider could not be reached; try again');
}

function insufficientScope(method: AuthMethod): LocalReply {
  return LocalReply.error('forbidden', 'the token does not carry every scope this route requires', { 'www-authenticate': method.insufficientChallenge ?? method.invalidChallenge });
}

export function failureReply(method: AuthMethod, r: AuthFailure): LocalReply {
  if (r === UNAVAILABLE) return unavailable();
  if (r === INSUFFICIENT_SCOPE) return insufficientScope(method);
  return unauthorized(r === MISSING ? method.challenge : method.invalidChallenge);
}

function settle(ctx: PluginContext, method: AuthMethod, r: AuthResult): LocalReply | undefined {
  if (typeof r === 'number') return failureReply(method, r);
  setIdentity(ctx, r);
  return undefined;
}

/** The handler of a single-method plugin (key-auth, basic-auth, jwt): authenticate or refuse. */
export function singleMethodHandler(method: AuthMethod): PluginHandler {
  const handler: PluginHandler = {
    request(ctx) {
      const r = method.authenticate(ctx);
      if (r instanceof Promise) return r.then((v) => settle(ctx, method, v));
      return settle(ctx, method, r);
    },
  };
  if (method.close) handler.close = () => method.close!();
  return handler;
}

/** RFC 7230 quoted-string for challenge parameters. */
export function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
