// The requests `openid-connect` answers itself: the start of a sign-in (a redirect to the
// provider), the provider's callback, RP-initiated logout, and the provider's front- and
// back-channel logout. Each ends with a LocalReply; none reaches the upstream.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { clock } from '../../base/clock.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { newSessionId, sessionKey, setCookie, sign, signedCookie } from './cookies.js';
import { LOGOUT_TOKEN_MAX_AGE_S, ProviderUnavailable, type Provider } from './provider.js';
import { safeReturnPath } from './return-to.js';
import type { SessionData, SessionStore } from './session-store.js';
import type { Settings } from './settings.js';

/** A back-channel logout request's body: a form with one JWT. */
const MAX_LOGOUT_BODY = 16 * 1024;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;

export interface Deps {
  readonly s: Settings;
  readonly store: SessionStore;
  readonly provider: Provider;
}

export function unavailable(extra: readonly string[] = []): LocalReply {
  return LocalReply.error('auth-unavailable', 'the identity provider or the session store could not be reached; try again', ['cache-control', 'no-store', ...extra]);
}

function badRequest(detail: string, extra: readonly string[] = []): LocalReply {
  return LocalReply.error('bad-request', detail, ['cache-control', 'no-store', ...extra]);
}

function redirect(location: string, extra: readonly string[] = []): LocalReply {
  return new LocalReply(302, undefined, ['location', location, 'cache-control', 'no-store', ...extra]);
}

const clearing = (d: Deps, name: string): string[] => ['set-cookie', setCookie(d.s.cookies, name, '', 0)];

/** Sends the browser to the provider; it comes back to `returnTo` (when that is a safe local path, else to "/"). */
export async function startLogin(d: Deps, returnTo: string, extra: readonly string[] = []): Promise<LocalReply> {
  const state = randomBytes(32).toString('base64url');
  try {
    const auth = await d.provider.authorizationUrl(state);
    await d.store.putLogin(state, { verifier: auth.verifier, nonce: auth.nonce, returnTo: safeReturnPath(returnTo) ?? '/', expiresAt: clock.now() + d.s.loginTtlMs });
    const binding = setCookie(d.s.cookies, d.s.cookies.loginName, sign(d.s.cookies, 'login', state), Math.ceil(d.s.loginTtlMs / 1000));
    return redirect(auth.url, ['set-cookie', binding, ...extra]);
  } catch {
    return unavailable(extra);
  }
}

/** `login_path`: a sign-in started on purpose, back to `?return_to=` afterwards. */
export function login(d: Deps, ctx: PluginContext): Promise<LocalReply> | LocalReply {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return LocalReply.error('method-not-allowed', 'start a sign-in with GET', { allow: 'GET, HEAD' });
  return startLogin(d, new URLSearchParams(ctx.query).get('return_to') ?? '/');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The provider's callback. The state must be the one of this browser's login cookie (a
 * callback a third party sends the victim to is refused: login CSRF) and of a sign-in still
 * pending (taken out once: a replayed callback fails); openid-client checks the PKCE
 * verifier, the nonce and the ID token. The new session gets a new id (no fixation).
 */
export async function callback(d: Deps, ctx: PluginContext): Promise<LocalReply> {
  if (ctx.method !== 'GET') return LocalReply.error('method-not-allowed', 'the callback is a GET', { allow: 'GET' });
  const c = d.s.cookies;
  const clearLogin = clearing(d, c.loginName);
  const q = new URLSearchParams(ctx.query);
  const state = q.get('state');
  const bound = signedCookie(c, ctx.header('cookie'), c.loginName, 'login');
  if (state === null || bound === null || !sameText(bound, state)) return badRequest('no sign-in in progress in this browser; start again', clearLogin);
  let pending;
  try {
    pending = await d.store.takeLogin(state);
  } catch {
    return unavailable(clearLogin);
  }
  if (pending === null) return badRequest('the sign-in expired or was already completed; start again', clearLogin);
  if (q.has('error')) return LocalReply.error('unauthorized', 'the identity provider did not sign the user in', ['cache-control', 'no-store', ...clearLogin]);
  const url = new URL(d.s.redirectUri);
  url.search = ctx.query;
  let t;
  try {
    t = await d.provider.exchange(url, { verifier: pending.verifier, state, nonce: pending.nonce });
  } catch (err) {
    if (err instanceof ProviderUnavailable) return unavailable(clearLogin);
    return LocalReply.error('unauthorized', 'the identity provider did not confirm the sign-in', ['cache-control', 'no-store', ...clearLogin]);
  }
  const claims = t.claims;
  if (claims === null || t.idToken === null || typeof claims['sub'] !== 'string' || typeof claims['iss'] !== 'string') return LocalReply.error('unauthorized', 'the identity provider sent no ID token', ['cache-control', 'no-store', ...clearLogin]);
  const now = clock.now();
  const session: SessionData = {
    iss: claims['iss'],
    sub: claims['sub'],
    sid: typeof claims['sid'] === 'string' ? claims['sid'] : null,
    claims,
    idToken: t.idToken,
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    accessExpiresAt: t.accessExpiresAt,
    expiresAt: now + d.s.ttlMs,
  };
  const id = newSessionId();
  try {
    // A session this browser had before ends: the signed-in session is a new one (no fixation).
    const previous = signedCookie(c, ctx.header('cookie'), c.name, 'session');
    if (previous !== null) await d.store.delete(sessionKey(previous));
    if (!(await d.store.create(sessionKey(id), session))) return LocalReply.error('auth-unavailable', 'too many sessions are open; try again later', ['cache-control', 'no-store', ...clearLogin]);
  } catch {
    return unavailable(clearLogin);
  }
  return redirect(pending.returnTo, ['set-cookie', setCookie(c, c.name, sign(c, 'session', id), Math.ceil(d.s.ttlMs / 1000)), ...clearLogin]);
}

/** RP-initiated logout: the session ends here, then the provider ends its own (end_session_endpoint). */
export async function logout(d: Deps, ctx: PluginContext): Promise<LocalReply> {
  if (ctx.method !== 'GET' && ctx.method !== 'POST') return LocalReply.error('method-not-allowed', 'log out with GET or POST', { allow: 'GET, POST' });
  const c = d.s.cookies;
  const id = signedCookie(c, ctx.header('cookie'), c.name, 'session');
  let session: SessionData | null = null;
  if (id !== null) {
    try {
      const key = sessionKey(id);
      session = await d.store.get(key);
      await d.store.delete(key);
    } catch {
      // The session could not be ended: say so rather than pretend.
      return unavailable();
    }
  }
  let target = d.s.postLogoutRedirectUri ?? '/';
  try {
    target = (await d.provider.endSessionUrl(session?.idToken ?? null, d.s.postLogoutRedirectUri)) ?? target;
  } catch {
    // The provider is away: the gateway's session is over all the same.
  }
  return redirect(target, clearing(d, c.name));
}

/** Front-channel logout: the provider loads this URL (in an iframe) with its iss and the session's sid. */
export async function frontchannelLogout(d: Deps, ctx: PluginContext): Promise<LocalReply> {
  if (ctx.method !== 'GET') return LocalReply.error('method-not-allowed', 'front-channel logout is a GET', { allow: 'GET' });
  const q = new URLSearchParams(ctx.query);
  const iss = q.get('iss');
  const sid = q.get('sid');
  if (iss !== d.provider.issuer || sid === null || sid === '') return badRequest('iss must be the provider and sid its session');
  try {
    await d.store.endSessions(iss, { sid });
  } catch {
    return unavailable();
  }
  return new LocalReply(200, '', { 'cache-control': 'no-store', 'content-type': 'text/plain' });
}

/** Back-channel logout: the provider POSTs a signed logout token; every session it names ends, on every node. */
export async function backchannelLogout(d: Deps, ctx: PluginContext): Promise<LocalReply> {
  if (ctx.method !== 'POST') return LocalReply.error('method-not-allowed', 'back-channel logout is a POST', { allow: 'POST' });
  if (!FORM_TYPE.test(ctx.header('content-type') ?? '')) return LocalReply.error('unsupported-media-type', 'send the logout token as application/x-www-form-urlencoded');
  if (ctx.requestBodyLength > MAX_LOGOUT_BODY) return LocalReply.error('body-too-large', `a logout request is at most ${MAX_LOGOUT_BODY} bytes`);
  const body = await ctx.readRequestBody(MAX_LOGOUT_BODY);
  if (body === null) return LocalReply.error('body-too-large', `a logout request is at most ${MAX_LOGOUT_BODY} bytes`);
  const token = new URLSearchParams(body.toString('utf8')).get('logout_token');
  if (token === null || token === '') return badRequest('no logout_token');
  let verdict;
  try {
    verdict = await d.provider.verifyLogoutToken(token);
  } catch (err) {
    if (err instanceof ProviderUnavailable) return unavailable();
    return badRequest('not a valid logout token');
  }
  if (typeof verdict === 'string') return badRequest(verdict);
  try {
    // One use per token: the jti is remembered as long as the token could be accepted.
    const jti = createHash('sha256').update(`${d.provider.issuer}\n${verdict.jti}`).digest('base64url');
    if (!(await d.store.claim(`jti:${jti}`, clock.now() + (LOGOUT_TOKEN_MAX_AGE_S + 60) * 1000))) return badRequest('this logout token was already used');
    await d.store.endSessions(d.provider.issuer, verdict.sid !== null ? { sid: verdict.sid } : { sub: verdict.sub! });
  } catch {
    return unavailable();
  }
  return new LocalReply(200, '', { 'cache-control': 'no-store', 'content-type': 'text/plain' });
}
