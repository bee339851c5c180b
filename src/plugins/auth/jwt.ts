// `jwt`: a Bearer token (RFC 6750) verified with jose, with keys from the consumers'
// jwt credentials (looked up by kid, else by iss) or from the IdP's JWKS. The kid is only
// a lookup key; the algorithm is never taken from the token alone: a local credential pins
// one, remote keys are asymmetric only, and `alg: none` is never in the allowed list.
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import { parseDuration } from '../../base/duration.js';
import { JWT_ALGORITHMS, type Consumer, type JwtCredential } from '../../sdk/consumer.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin } from '../../sdk/plugin.js';
import { INVALID, MISSING, UNAVAILABLE, quote, removeAuthorization, singleMethodHandler, type AuthMethod, type AuthResult, type Authenticated } from './method.js';
import { IdpUnavailable, MAX_DOCUMENT_BYTES, RemoteKeys } from './jwt-keys.js';
import { jwtSchema, type JwtConfig } from './schemas.js';

/** Verified tokens remembered per plugin instance (LRU), for at most this long and never past their exp. */
export const TOKEN_CACHE_SIZE = 10_000;
export const TOKEN_CACHE_MS = 60_000;
/** Visible ASCII, spaces and tabs: what every HTTP stack takes in a header value (other claim values are not forwarded). */
const SAFE_HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const BEARER = /^bearer +([A-Za-z0-9_.~+/=-]+) *$/i;
const BEARER_SCHEME = /^bearer(?: |$)/i;

// jose is loaded when a config first uses jwt (compile starts the import; a request that
// comes before it finishes waits for it), not by every gateway at start-up.
let jose: typeof import('jose') | null = null;
let joseLoading: Promise<typeof import('jose')> | null = null;
function loadJose(): Promise<typeof import('jose')> {
  return (joseLoading ??= import('jose').then((m) => (jose = m)));
}

interface Cached {
  readonly who: Authenticated;
  readonly until: number;
}

export function jwtMethod(config: JwtConfig): AuthMethod {
  void loadJose();
  const allowed = new Set<string>(config.algorithms ?? JWT_ALGORITHMS);
  const remoteAlgorithms = [...allowed].filter((a) => !a.startsWith('HS'));
  const issuers = config.issuer === undefined ? null : typeof config.issuer === 'string' ? [config.issuer] : config.issuer;
  const skewSec = Math.ceil(parseDuration(config.clock_skew ?? '30s')! / 1000);
  const required = config.required_claims ?? ['exp'];
  const consumerClaim = config.consumer_claim ?? 'sub';
  const forward = Object.entries(config.forward_claims ?? {}).map(([h, c]) => [h.toLowerCase(), c] as const);
  const hide = config.hide_credentials ?? true;
  const realm = quote(config.realm ?? 'northgate');
  const remote = config.jwks_uri !== undefined || config.discovery !== undefined
    ? new RemoteKeys({
        jwksUri: config.jwks_uri,
        discovery: config.discovery,
        issuer: issuers,
        cooldownMs: parseDuration(config.jwks_cooldown ?? '30s')!,
        timeoutMs: parseDuration(config.jwks_timeout ?? '5s')!,
        maxBytes: config.jwks_max_bytes ?? MAX_DOCUMENT_BYTES,
      })
    : null;
  const cache = new Map<string, Cached>();
  const base: JWTVerifyOptions = { clockTolerance: skewSec, requiredClaims: required };
  if (config.audiences) base.audience = config.audiences;

  const success = (ctx: PluginContext, token: string, payload: JWTPayload, consumer: Consumer, credential: JwtCredential | null): Authenticated => {
    const headers: Array<[string, string]> = [];
    for (const [header, claim] of forward) {
      const v = payload[claim];
      if (v === undefined || v === null) continue;
      const text = typeof v === 'string' ? v : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (SAFE_HEADER_VALUE.test(text)) headers.push([header, text]);
    }
    const who: Authenticated = { consumer, credential, headers };
    const now = Date.now();
    const until = Math.min(now + TOKEN_CACHE_MS, typeof payload.exp === 'number' ? payload.exp * 1000 : Infinity);
    if (cache.size >= TOKEN_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(token, { who, until });
    if (hide) ctx.upstreamHeaders.remove('authorization');
    return who;
  };

  const consumerOf = (ctx: PluginContext, payload: JWTPayload): Consumer | null => {
    const v = payload[consumerClaim];
    if (typeof v !== 'string' || v === '' || v.length > 256 || !/^[^\u0000-\u001f\u007f,]+$/.test(v)) return null;
    const index = ctx.consumers;
    return index.byId.get(v) ?? index.byUsername.get(v) ?? { id: v, username: v, groups: new Set(), groupsHeader: '', plan: null, kind: 'external' };
  };

  const verifyRemote = async (ctx: PluginContext, token: string): Promise<AuthResult> => {
    try {
      const keys = await remote!.resolver();
      const { payload } = await jose!.jwtVerify(token, keys, { ...base, algorithms: remoteAlgorithms, ...(issuers ? { issuer: issuers } : {}) });
      const consumer = consumerOf(ctx, payload);
      if (consumer === null) return INVALID;
      return success(ctx, token, payload, consumer, null);
    } catch (err) {
      return classify(err, remote!);
    }
  };

  const verifyLocal = async (ctx: PluginContext, token: string, cred: JwtCredential): Promise<AuthResult> => {
    try {
      const issuer = cred.issuer ?? issuers;
      const { payload } = await jose!.jwtVerify(token, cred.key, { ...base, algorithms: [cred.algorithm], ...(issuer !== null ? { issuer } : {}) });
      return success(ctx, token, payload, cred.consumer, cred);
    } catch (err) {
      return classify(err, null);
    }
  };

  const authenticate = (ctx: PluginContext): AuthResult | Promise<AuthResult> => {
    // The headers forward_claims fills are the gateway's to set: a client's copy never reaches
    // the upstream, whether or not the token carries the claim (or a token at all).
    for (let i = 0; i < forward.length; i++) ctx.upstreamHeaders.remove(forward[i]![0]);
    const header = ctx.headers.authorization;
    if (header === undefined || !/^bearer /i.test(header)) return MISSING;
    const m = BEARER.exec(header);
    if (m === null) return INVALID;
    const token = m[1]!;
    const hit = cache.get(token);
    if (hit !== undefined) {
      if (Date.now() < hit.until) {
        if (hide) ctx.upstreamHeaders.remove('authorization');
        return hit.who;
      }
      cache.delete(token);
    }
    if (jose === null) return loadJose().then(() => authenticate(ctx));
    const { decodeJwt, decodeProtectedHeader } = jose;
    let alg: unknown;
    let kid: unknown;
    let iss: unknown;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
      if (kid === undefined) iss = decodeJwt(token).iss;
    } catch {
      return INVALID;
    }
    if (typeof alg !== 'string' || !allowed.has(alg)) return INVALID;
    const index = ctx.consumers;
    const local = typeof kid === 'string' ? index.jwtByKeyId.get(kid) : typeof iss === 'string' ? index.jwtByIssuer.get(iss) : undefined;
    if (local !== undefined) {
      if (local.algorithm !== alg) return INVALID;
      return verifyLocal(ctx, token, local);
    }
    if (remote === null || alg.startsWith('HS')) return INVALID;
    return verifyRemote(ctx, token);
  };

  return {
    name: 'jwt',
    challenge: `Bearer realm=${realm}`,
    invalidChallenge: `Bearer realm=${realm}, error="invalid_token"`,
    authenticate,
    ...(hide ? { hide: (ctx: PluginContext) => removeAuthorization(ctx, BEARER_SCHEME) } : {}),
  };
}

/** A token that fails verification is INVALID; an IdP that cannot be reached is UNAVAILABLE. */
function classify(err: unknown, remote: RemoteKeys | null): AuthResult {
  if (err instanceof IdpUnavailable) return UNAVAILABLE;
  const { errors } = jose!;
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || (remote !== null && !(err instanceof errors.JOSEError)) || (err instanceof errors.JOSEError && err.code === 'ERR_JOSE_GENERIC')) {
    remote?.failed();
    return UNAVAILABLE;
  }
  return INVALID;
}

export const jwtPlugin: Plugin<JwtConfig> = {
  name: 'jwt',
  priority: 1002,
  schema: jwtSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    if (config.jwks_uri !== undefined && config.discovery !== undefined) problems.push({ path: [], message: 'use "jwks_uri" or "discovery", not both' });
    if (config.jwks_timeout !== undefined && parseDuration(config.jwks_timeout)! < 100) problems.push({ path: ['jwks_timeout'], message: 'must be at least 100ms' });
    if ((config.jwks_uri ?? config.discovery) !== undefined && config.algorithms?.every((a) => a.startsWith('HS')))
      problems.push({ path: ['algorithms'], message: 'keys from a JWKS are only used with asymmetric algorithms; add one (e.g. RS256, ES256)' });
    return problems;
  },
  create: (config) => singleMethodHandler(jwtMethod(config)),
};
