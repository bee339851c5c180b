// `openid-connect`: the gateway as an OpenID Connect relying party for browser applications.
// A browser without a session is sent to the provider (authorization code flow with PKCE);
// the callback keeps the tokens in a server-side session, and the browser holds only a
// signed, random session id in an HttpOnly, Secure, SameSite=Lax cookie. Each request with
// a session costs a comparison of the cookie with the one remembered (its signature is
// checked once per process) and at most one store lookup per session.cache_ttl, never a
// call to the provider, and then one pass over the upstream headers; the access
// token is refreshed shortly before it expires, once per session across every worker and
// node (a lock in the store). API clients get 401, never a redirect. The
// upstream gets the identity (X-Consumer-*, configured claim headers, optionally the
// tokens); client-sent copies of those headers and the gateway's cookies are removed.
import cluster from 'node:cluster';
import { clock } from '../../base/clock.js';
import { parseDuration } from '../../base/duration.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../../sdk/plugin.js';
import { cookieField, SessionCookieReader, setCookie } from './cookies.js';
import { backchannelLogout, callback, frontchannelLogout, login, logout, startLogin, unavailable, type Deps } from './endpoints.js';
import { Identities } from './identity.js';
import { plainHttpAllowed, Provider, RefreshRefused, type Tokens } from './provider.js';
import { openidConnectSchema, DEFAULTS, type OpenidConnectConfig } from './schema.js';
import { CachingSessionStore } from './session-cache.js';
import type { SessionData } from './session-store.js';
import { compileSettings } from './settings.js';
import { openSessionStore } from './stores.js';

/** Names a claim or token must not be sent upstream as: they frame or route the request, or are set by the gateway. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-connection', 'expect', 'authorization', 'cookie', 'x-consumer-id', 'x-consumer-username', 'x-consumer-groups', 'x-credential-id', 'x-anonymous-consumer']);
/** While another worker refreshes a session: how often and how many times its result is looked for. */
const REFRESH_POLL_MS = 100;
const REFRESH_POLLS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A browser navigation, which may be sent to the provider: a GET or HEAD without an
 * Authorization header or X-Requested-With, that the browser marks as a navigation (or, from
 * an older one, that accepts HTML). Anything else is an API client: 401, not a redirect.
 */
function isNavigation(ctx: PluginContext): boolean {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
  const h = ctx.headers;
  if (h.authorization !== undefined || h['x-requested-with'] !== undefined) return false;
  const mode = h['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  return h.accept !== undefined && h.accept.includes('text/html');
}

function createHandler(config: OpenidConnectConfig): PluginHandler {
  // A worker's memory is its own: a sign-in started on one worker would not be found by the
  // worker that gets the callback, and a logout would end the session on one worker only.
  if (cluster.isWorker && (config.session?.store ?? DEFAULTS.store) === 'memory') throw new Error('session.store "memory" keeps sessions in one process; with --workers use sqlite (one node), redis or postgres');
  const s = compileSettings(config);
  const provider = new Provider({ issuer: config.issuer, clientId: config.client_id, clientSecret: config.client_secret, redirectUri: config.redirect_uri, scope: (config.scopes ?? DEFAULTS.scopes).join(' '), timeoutMs: s.timeoutMs });
  const { store, release } = openSessionStore(config, { maxSessions: s.maxSessions, maxPendingLogins: s.maxPendingLogins }, `${config.issuer}|${config.client_id}|${s.cookies.name}`);
  const d: Deps = { s, store, provider };
  const c = s.cookies;
  const clearSession = ['set-cookie', setCookie(c, c.name, '', 0)];
  const cookies = new SessionCookieReader(c);
  /** The process's copies of sessions read lately (shared stores with a cache_ttl), else null. */
  const cache = store instanceof CachingSessionStore && s.cacheTtlMs > 0 ? store : null;
  const cacheTtlMs = s.cacheTtlMs;
  /** Refreshes in progress in this process, by session key: one per session. */
  const refreshing = new Map<string, Promise<SessionData | null>>();

  const identities = new Identities(s);

  const admit = (ctx: PluginContext, session: SessionData): RequestPhaseResult => {
    const identity = identities.of(ctx.consumers, session);
    const consumer = identity.consumer;
    if (consumer === null) return LocalReply.error('forbidden', `the sign-in carries no usable "${s.consumerClaim}" claim`);
    ctx.consumer = consumer;
    ctx.credential = null;
    identities.apply(ctx.upstreamHeaders, identity);
    return undefined;
  };

  const unauthenticated = (ctx: PluginContext, stale: boolean): RequestPhaseResult | Promise<RequestPhaseResult> => {
    const extra = stale ? clearSession : [];
    if (isNavigation(ctx)) return startLogin(d, ctx.path + ctx.query, extra);
    return LocalReply.error('unauthorized', 'sign in first: this route needs a browser session', ['cache-control', 'no-store', ...extra]);
  };

  /** The session with fresh tokens (refreshed here, or by another worker or node), or null when it is over. */
  const refresh = async (key: string, seen: SessionData): Promise<SessionData | null> => {
    const lock = `refresh:${key}`;
    if (!(await store.claim(lock, clock.now() + 2 * s.timeoutMs + 1000))) {
      // Another worker or node is refreshing this session: its result is in the store soon.
      for (let i = 0; i < REFRESH_POLLS; i++) {
        await sleep(REFRESH_POLL_MS);
        const now = await store.get(key);
        if (now === null || now.accessToken !== seen.accessToken) return now;
      }
      if (seen.accessExpiresAt > clock.now()) return seen;
      throw new Error('the refresh of this session by another node did not finish');
    }
    try {
      // Read again under the lock: a refresh may have ended, or a logout, since `seen` was read.
      const current = await store.get(key);
      if (current === null || current.accessToken !== seen.accessToken) return current;
      let t: Tokens;
      try {
        t = await provider.refresh(current.refreshToken!);
      } catch (err) {
        if (err instanceof RefreshRefused) {
          await store.delete(key);
          return null;
        }
        // The provider is away: a token that is still valid serves until it expires.
        if (current.accessExpiresAt > clock.now()) return current;
        throw err;
      }
      // A refreshed ID token carries no userinfo claims (read at sign-in): they are kept.
      const next: SessionData = { ...current, accessToken: t.accessToken, refreshToken: t.refreshToken, accessExpiresAt: t.accessExpiresAt, idToken: t.idToken ?? current.idToken, claims: t.claims === null ? current.claims : { ...current.claims, ...t.claims } };
      await store.update(key, next);
      return next;
    } finally {
      await store.release(lock).catch(() => undefined);
    }
  };

  const withSession = (ctx: PluginContext, key: string, session: SessionData | null): RequestPhaseResult | Promise<RequestPhaseResult> => {
    if (session === null) return unauthenticated(ctx, true);
    const expiresAt = session.accessExpiresAt;
    if (expiresAt === 0 || expiresAt - clock.now() > s.refreshBeforeMs) return admit(ctx, session);
    if (session.refreshToken === null) {
      if (expiresAt > clock.now()) return admit(ctx, session);
      // The access token is over and cannot be renewed: so is the session.
      return store.delete(key).then(() => unauthenticated(ctx, true), () => unavailable());
    }
    let pending = refreshing.get(key);
    if (pending === undefined) {
      pending = refresh(key, session).finally(() => refreshing.delete(key));
      refreshing.set(key, pending);
    }
    return pending.then((next) => (next === null ? unauthenticated(ctx, true) : admit(ctx, next)), () => unavailable());
  };

  const protect = (ctx: PluginContext): RequestPhaseResult | Promise<RequestPhaseResult> => {
    const key = cookies.sessionKey(cookieField(ctx.rawHeaders));
    if (key === null) return unauthenticated(ctx, false);
    if (cache !== null) {
      const recent = cache.recent(key, cacheTtlMs);
      if (recent !== undefined) return withSession(ctx, key, recent);
    }
    let found: SessionData | null | Promise<SessionData | null>;
    try {
      found = cache !== null ? cache.shared(key) : store.get(key);
    } catch {
      return unavailable();
    }
    if (found instanceof Promise) return found.then((session) => withSession(ctx, key, session), () => unavailable());
    return withSession(ctx, key, found);
  };

  const handler: PluginHandler = {
    request(ctx) {
      const path = ctx.path;
      if (path === s.callbackPath) return callback(d, ctx);
      if (path === s.loginPath) return login(d, ctx);
      if (path === s.logoutPath) return logout(d, ctx);
      if (path === s.frontchannelPath) return frontchannelLogout(d, ctx);
      if (path === s.backchannelPath) return backchannelLogout(d, ctx);
      return protect(ctx);
    },
    close: release,
    ...(store.ready === undefined ? {} : { ready: { store: store.description, wait: (signal: AbortSignal) => store.ready!(signal) } }),
  };
  return handler;
}

type Problem = { path: Array<string | number>; message: string };

function check(config: OpenidConnectConfig): Problem[] {
  const problems: Problem[] = [];
  const plainDev = config.cookie.dangerously_allow_plain_http === true;
  for (const field of ['issuer', 'redirect_uri', 'post_logout_redirect_uri'] as const) {
    const v = config[field];
    if (v === undefined) continue;
    if (!URL.canParse(v)) {
      problems.push({ path: [field], message: 'is not a valid URL' });
      continue;
    }
    const u = new URL(v);
    if (u.username !== '' || u.password !== '') problems.push({ path: [field], message: 'must not carry credentials' });
    if (u.hash !== '') problems.push({ path: [field], message: 'must not have a #fragment' });
    if (u.protocol === 'http:' && !plainHttpAllowed(v) && !(field !== 'issuer' && plainDev)) problems.push({ path: [field], message: 'must be https:// (plain http only on 127.0.0.1 or localhost)' });
  }
  if (URL.canParse(config.redirect_uri)) {
    const u = new URL(config.redirect_uri);
    if (u.search !== '') problems.push({ path: ['redirect_uri'], message: 'must not have a query' });
    const own = [config.login_path, config.logout_path, config.frontchannel_logout_path, config.backchannel_logout_path];
    if (own.includes(u.pathname)) problems.push({ path: ['redirect_uri'], message: 'its path is also one of login_path, logout_path, frontchannel_logout_path, backchannel_logout_path' });
  }
  // The browser sends the cookies only under their path: the callback needs the login cookie, logout the session's.
  const cookiePath = config.cookie.path ?? DEFAULTS.cookiePath;
  const under = (p: string) => cookiePath === '/' || p === cookiePath || p.startsWith(cookiePath.endsWith('/') ? cookiePath : `${cookiePath}/`);
  if (URL.canParse(config.redirect_uri) && !under(new URL(config.redirect_uri).pathname)) problems.push({ path: ['redirect_uri'], message: `its path must be under cookie.path "${cookiePath}" (the browser sends the login cookie only there)` });
  if (config.logout_path !== undefined && !under(config.logout_path)) problems.push({ path: ['logout_path'], message: `must be under cookie.path "${cookiePath}"` });
  const paths = [config.login_path, config.logout_path, config.frontchannel_logout_path, config.backchannel_logout_path].filter((p) => p !== undefined);
  if (new Set(paths).size !== paths.length) problems.push({ path: [], message: 'login_path, logout_path, frontchannel_logout_path and backchannel_logout_path must differ' });
  const name = config.cookie.name ?? DEFAULTS.cookieName;
  const path = config.cookie.path ?? DEFAULTS.cookiePath;
  if (name.startsWith('__Host-') && (plainDev || path !== '/')) problems.push({ path: ['cookie', 'name'], message: 'a __Host- cookie needs Secure and path "/"' });
  if (name.startsWith('__Secure-') && plainDev) problems.push({ path: ['cookie', 'name'], message: 'a __Secure- cookie needs Secure' });
  const session = config.session ?? {};
  const store = session.store ?? DEFAULTS.store;
  if (store === 'redis' && session.redis === undefined) problems.push({ path: ['session', 'redis'], message: 'store "redis" needs redis: { url }' });
  if (store === 'postgres' && session.postgres === undefined) problems.push({ path: ['session', 'postgres'], message: 'store "postgres" needs postgres: { url }' });
  if (store !== 'sqlite' && session.path !== undefined) problems.push({ path: ['session', 'path'], message: `path is the SQLite file; it does not apply to store "${store}"` });
  for (const header of [...Object.keys(config.claim_headers ?? {}), ...(config.id_token_header === undefined ? [] : [config.id_token_header])])
    if (RESERVED_HEADERS.has(header.toLowerCase())) problems.push({ path: config.id_token_header === header ? ['id_token_header'] : ['claim_headers', header], message: `cannot be sent as ${header}` });
  if (config.timeout !== undefined && parseDuration(config.timeout)! < 100) problems.push({ path: ['timeout'], message: 'must be at least 100ms' });
  if (session.ttl !== undefined && parseDuration(session.ttl)! < 60_000) problems.push({ path: ['session', 'ttl'], message: 'must be at least 1m' });
  if (session.login_ttl !== undefined && parseDuration(session.login_ttl)! < 10_000) problems.push({ path: ['session', 'login_ttl'], message: 'must be at least 10s' });
  // The bound on how long a session ended on another worker or node still works here: kept short.
  if (session.cache_ttl !== undefined && parseDuration(session.cache_ttl)! > 60_000) problems.push({ path: ['session', 'cache_ttl'], message: 'must be at most 1m (a session ended elsewhere works here until its copy is this old)' });
  return problems;
}

export const openidConnectPlugin: Plugin<OpenidConnectConfig> = {
  name: 'openid-connect',
  // Before the other authentication plugins (1000-1004): a route uses one of them, or this.
  priority: 1005,
  schema: openidConnectSchema,
  check,
  create: (config) => createHandler(config),
};
