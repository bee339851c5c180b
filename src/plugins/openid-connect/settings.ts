// A config compiled once per plugin instance: numbers, lower-case names, the paths the
// plugin answers. Nothing here is computed per request.
import { parseDuration } from '../../base/duration.js';
import type { CookieSettings } from './cookies.js';
import { DEFAULTS, type OpenidConnectConfig } from './schema.js';

export interface Settings {
  readonly cookies: CookieSettings;
  readonly callbackPath: string;
  readonly redirectUri: string;
  readonly loginPath: string | null;
  readonly logoutPath: string | null;
  readonly frontchannelPath: string | null;
  readonly backchannelPath: string | null;
  readonly postLogoutRedirectUri: string | undefined;
  readonly ttlMs: number;
  /** session.cache_ttl: how old a process's copy of a session may be (0: none is used). */
  readonly cacheTtlMs: number;
  readonly loginTtlMs: number;
  readonly refreshBeforeMs: number;
  readonly timeoutMs: number;
  readonly consumerClaim: string;
  /** [lower-case header, claim]. */
  readonly claimHeaders: ReadonlyArray<readonly [string, string]>;
  readonly idTokenHeader: string | null;
  readonly forwardAccessToken: boolean;
  readonly maxSessions: number;
  readonly maxPendingLogins: number;
}

export function compileSettings(config: OpenidConnectConfig): Settings {
  const c = config.cookie;
  const name = c.name ?? DEFAULTS.cookieName;
  const s = config.session ?? {};
  return {
    cookies: { name, loginName: `${name}_login`, path: c.path ?? DEFAULTS.cookiePath, secure: c.dangerously_allow_plain_http !== true, secret: c.secret },
    callbackPath: new URL(config.redirect_uri).pathname,
    redirectUri: config.redirect_uri,
    loginPath: config.login_path ?? null,
    logoutPath: config.logout_path ?? null,
    frontchannelPath: config.frontchannel_logout_path ?? null,
    backchannelPath: config.backchannel_logout_path ?? null,
    postLogoutRedirectUri: config.post_logout_redirect_uri,
    ttlMs: parseDuration(s.ttl ?? DEFAULTS.ttl)!,
    cacheTtlMs: parseDuration(s.cache_ttl ?? DEFAULTS.cacheTtl)!,
    loginTtlMs: parseDuration(s.login_ttl ?? DEFAULTS.loginTtl)!,
    refreshBeforeMs: parseDuration(config.refresh_before ?? DEFAULTS.refreshBefore)!,
    timeoutMs: parseDuration(config.timeout ?? DEFAULTS.timeout)!,
    consumerClaim: config.consumer_claim ?? DEFAULTS.consumerClaim,
    claimHeaders: Object.entries(config.claim_headers ?? {}).map(([h, claim]) => [h.toLowerCase(), claim] as const),
    idTokenHeader: config.id_token_header?.toLowerCase() ?? null,
    forwardAccessToken: config.forward_access_token === true,
    maxSessions: s.max_sessions ?? DEFAULTS.maxSessions,
    maxPendingLogins: s.max_pending_logins ?? DEFAULTS.maxPendingLogins,
  };
}
