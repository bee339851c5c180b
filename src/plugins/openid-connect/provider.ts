// The OpenID provider as the plugin talks to it, through openid-client: discovery (cached,
// retried after a failure), the authorization URL with PKCE (S256), state and nonce, the
// code exchange (state, nonce and the ID token checked, its signature too), refresh, the
// end-session URL, and the validation of back-channel logout tokens (jose, with the
// provider's JWKS). Every call is bounded in time and size (base/remote-document.ts).
import type * as Client from 'openid-client';
import type { JWTVerifyGetKey } from 'jose';
import { boundedFetch, DEFAULT_MAX_DOCUMENT_BYTES, RemoteDocumentError } from '../../base/remote-document.js';

/** Loaded with the first plugin instance that talks to a provider: a config without it never pays. */
let lib: Promise<typeof Client> | null = null;
const openid = (): Promise<typeof Client> => (lib ??= import('openid-client'));

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Logout tokens are signed by the provider's keys: asymmetric algorithms only. */
const LOGOUT_TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** A logout token issued longer ago than this is refused (and its jti is remembered that long). */
export const LOGOUT_TOKEN_MAX_AGE_S = 300;
const CLOCK_TOLERANCE_S = 30;
/** After a failed discovery, requests get 503 at once for this long instead of each asking again. */
const DISCOVERY_COOLDOWN_MS = 2000;

/** The provider could not be reached or did not answer usably: 503, never a pass. */
export class ProviderUnavailable extends Error {
  override name = 'ProviderUnavailable';
}

export interface Tokens {
  readonly idToken: string | null;
  readonly claims: Record<string, unknown> | null;
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** ms since the epoch; 0 when the provider did not say. */
  readonly accessExpiresAt: number;
}

export interface ProviderSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly redirectUri: string;
  readonly scope: string;
  readonly timeoutMs: number;
}

export class Provider {
  readonly #s: ProviderSettings;
  readonly #fetch: ReturnType<typeof boundedFetch>;
  #config: Promise<Client.Configuration> | null = null;
  #failedAt = -Infinity;
  #keys: JWTVerifyGetKey | null = null;

  constructor(settings: ProviderSettings) {
    this.#s = settings;
    this.#fetch = boundedFetch({ what: 'OpenID provider answer', timeoutMs: settings.timeoutMs, maxBytes: DEFAULT_MAX_DOCUMENT_BYTES });
  }

  get issuer(): string {
    return this.#s.issuer;
  }

  #discover(): Promise<Client.Configuration> {
    if (this.#config !== null) return this.#config;
    if (performance.now() - this.#failedAt < DISCOVERY_COOLDOWN_MS) return Promise.reject(new ProviderUnavailable('discovery failed recently'));
    const u = new URL(this.#s.issuer);
    const value = openid().then(async (client) => {
      const execute = [client.enableNonRepudiationChecks, ...(isLoopbackHttp(u) ? [client.allowInsecureRequests] : [])];
      // openid-client's own deadline is a second later than ours, so that ours (which says why) fires first.
      const options = { timeout: this.#s.timeoutMs / 1000 + 1, [client.customFetch]: this.#fetch, execute };
      const auth = this.#s.clientSecret === undefined ? client.None() : client.ClientSecretBasic(this.#s.clientSecret);
      return client.discovery(u, this.#s.clientId, undefined, auth, options);
    });
    value.catch(() => {
      if (this.#config === value) this.#config = null;
      this.#failedAt = performance.now();
    });
    this.#config = value;
    return value.catch((err: unknown) => {
      throw new ProviderUnavailable(messageOf(err));
    });
  }

  /** Discovery ahead of the first sign-in (start-up); a failure is retried on demand. */
  warm(): void {
    this.#discover().catch(() => undefined);
  }

  /** The URL that sends the browser to the provider, and the PKCE verifier and nonce to keep. */
  async authorizationUrl(state: string): Promise<{ url: string; verifier: string; nonce: string }> {
    const config = await this.#discover();
    const client = await openid();
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.#s.redirectUri,
      scope: this.#s.scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, verifier, nonce };
  }

  /** The code exchange; rejects with ProviderUnavailable, or another error when the provider's answer does not confirm the sign-in. */
  async exchange(callbackUrl: URL, checks: { verifier: string; state: string; nonce: string }): Promise<Tokens> {
    const config = await this.#discover();
    const client = await openid();
    try {
      const r = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: checks.verifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true });
      const tokens = tokensOf(r, null);
      const sub = tokens.claims?.['sub'];
      // Providers keep the claims of scopes such as `email` out of the ID token when they
      // issue an access token for the userinfo endpoint: read them there, once, at sign-in.
      if (typeof sub !== 'string' || config.serverMetadata().userinfo_endpoint === undefined || this.#s.scope === 'openid') return tokens;
      const info = await client.fetchUserInfo(config, tokens.accessToken, sub).catch(() => null);
      return info === null ? tokens : { ...tokens, claims: { ...info, ...tokens.claims } };
    } catch (err) {
      throw unavailableOr(err);
    }
  }

  /** A refresh; `invalid_grant` (the grant was revoked or the session ended at the provider) rejects with RefreshRefused. */
  async refresh(refreshToken: string): Promise<Tokens> {
    const config = await this.#discover();
    const client = await openid();
    try {
      return tokensOf(await client.refreshTokenGrant(config, refreshToken), refreshToken);
    } catch (err) {
      const e = unavailableOr(err);
      if (e instanceof ProviderUnavailable) throw e;
      throw new RefreshRefused((err as { error?: unknown }).error === 'invalid_grant' ? 'invalid_grant' : 'refused');
    }
  }

  /** RP-initiated logout: the provider's end-session URL, or null when it has none. */
  async endSessionUrl(idToken: string | null, postLogoutRedirectUri: string | undefined): Promise<string | null> {
    const config = await this.#discover();
    if (config.serverMetadata().end_session_endpoint === undefined) return null;
    const client = await openid();
    const params: Record<string, string> = { client_id: this.#s.clientId };
    if (idToken !== null) params['id_token_hint'] = idToken;
    if (postLogoutRedirectUri !== undefined) params['post_logout_redirect_uri'] = postLogoutRedirectUri;
    return client.buildEndSessionUrl(config, params).href;
  }

  /**
   * A back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): signed by the
   * provider, iss, aud (this client), iat recent, the logout event, a sid or a sub, a jti, no
   * nonce. Returns the claims that say what to end, or the reason it is refused.
   */
  async verifyLogoutToken(token: string): Promise<{ sid: string | null; sub: string | null; jti: string } | string> {
    const { jwtVerify, createRemoteJWKSet, customFetch } = await import('jose');
    const config = await this.#discover();
    const jwksUri = config.serverMetadata().jwks_uri;
    if (jwksUri === undefined) return 'the provider publishes no jwks_uri';
    // jose caches the keys and fetches again for an unknown kid at most once per cooldown.
    this.#keys ??= createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: this.#s.timeoutMs + 1000, cooldownDuration: 30_000, [customFetch]: this.#fetch });
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.#s.issuer,
        audience: this.#s.clientId,
        algorithms: LOGOUT_TOKEN_ALGORITHMS,
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_S,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['iat', 'jti'],
      }));
    } catch (err) {
      if (err instanceof RemoteDocumentError || (err as { code?: unknown }).code === 'ERR_JWKS_TIMEOUT') throw new ProviderUnavailable(messageOf(err));
      return `not a valid logout token (${(err as { code?: string }).code ?? 'invalid'})`;
    }
    const events = payload['events'];
    if (events === null || typeof events !== 'object' || Array.isArray(events)) return 'no events claim';
    const event = (events as Record<string, unknown>)[BACKCHANNEL_EVENT];
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return 'not a back-channel logout event';
    if ('nonce' in payload) return 'a logout token must not carry a nonce';
    const sid = typeof payload['sid'] === 'string' && payload['sid'] !== '' ? payload['sid'] : null;
    const sub = typeof payload['sub'] === 'string' && payload['sub'] !== '' ? payload['sub'] : null;
    if (sid === null && sub === null) return 'neither sid nor sub';
    if (typeof payload['jti'] !== 'string' || payload['jti'] === '') return 'no jti';
    return { sid, sub, jti: payload['jti'] };
  }
}

/** The provider refused a refresh: the session is over. */
export class RefreshRefused extends Error {
  override name = 'RefreshRefused';
}

function tokensOf(r: Client.TokenEndpointResponse & Client.TokenEndpointResponseHelpers, previousRefresh: string | null): Tokens {
  const claims = r.claims();
  const expiresIn = r.expiresIn();
  return {
    idToken: r.id_token ?? null,
    claims: claims === undefined ? null : { ...claims },
    accessToken: r.access_token,
    // A provider that does not rotate refresh tokens keeps the one it gave.
    refreshToken: r.refresh_token ?? previousRefresh,
    accessExpiresAt: expiresIn === undefined ? 0 : Date.now() + expiresIn * 1000,
  };
}

function isLoopbackHttp(u: URL): boolean {
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
}

/** Whether an issuer or redirect URL may be plain http: only on this machine (development, tests). */
export function plainHttpAllowed(url: string): boolean {
  return isLoopbackHttp(new URL(url));
}

/** Network failures and timeouts are the provider being unavailable; anything else is its answer. */
function unavailableOr(err: unknown): Error {
  const e = err as { cause?: unknown; code?: unknown; name?: unknown } | null;
  if (err instanceof ProviderUnavailable) return err;
  if (err instanceof RemoteDocumentError || e?.cause instanceof RemoteDocumentError) return new ProviderUnavailable(messageOf(err));
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'OAUTH_TIMEOUT') return new ProviderUnavailable('timed out');
  if (e?.name === 'TypeError' && e?.cause !== undefined) return new ProviderUnavailable('cannot be reached');
  return err instanceof Error ? err : new Error('refused');
}

/** Never the token or the answer: the name and, for our own fetch errors, the reason (which names URLs without queries). */
function messageOf(err: unknown): string {
  if (err instanceof RemoteDocumentError) return err.message;
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof RemoteDocumentError) return cause.message;
  return err instanceof Error ? err.name : 'error';
}
