// A real OpenID provider (oidc-provider) on 127.0.0.1 for the openid-connect plugin's tests.
// Its socket listens first (the issuer URL goes into the gateway's config); the provider is
// configured once the gateways listen (their callback URLs are its redirect_uris). The user
// signs in without forms: the interaction URL finishes login and consent as `account`.
// Keys are the test's own, so a test can sign logout tokens the gateway must accept or refuse.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { http } from './servers.js';

export const CLIENT_ID = 'web-app';
export const CLIENT_SECRET = 'web-app-secret-0123456789-0123456789';

export interface ClientOptions {
  /** Callback URLs (one per gateway). */
  readonly redirectUris: string[];
  readonly postLogoutRedirectUris?: string[];
  /** The gateway's back-channel logout URL: the provider calls it at its own logout. */
  readonly backchannelLogoutUri?: string;
  /** Access token lifetime in seconds. */
  readonly accessTokenTtl?: number;
  /** Lifetime of the access tokens a refresh_token grant issues (default: accessTokenTtl). */
  readonly refreshedAccessTokenTtl?: number;
}

export interface OidcProviderHandle {
  readonly issuer: string;
  /** Who the next sign-in is. */
  account: string;
  /** Authorization requests received (PKCE and nonce are checked by tests). */
  readonly authorizeQueries: URLSearchParams[];
  /** Token endpoint calls by grant type. */
  readonly grants: Record<string, number>;
  configure(opts: ClientOptions): Promise<void>;
  /** A logout token signed with the provider's key; `claims` override or remove (undefined) the defaults. */
  logoutToken(claims: Record<string, unknown>, opts?: { key?: 'provider' | 'other'; typ?: string }): Promise<string>;
  close(): Promise<void>;
}

type ProviderInstance = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ uid: string; prompt: { name: string; details: Record<string, unknown> }; params: Record<string, unknown>; session?: { accountId: string }; grantId?: string }>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: new (opts: { accountId: string; clientId: string }) => { addOIDCScope(s: string): void; save(): Promise<string> };
  on(event: string, fn: (...args: unknown[]) => void): void;
};

export async function startOidcProvider(): Promise<OidcProviderHandle> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let provider: ProviderInstance | null = null;

  const state: OidcProviderHandle = {
    issuer,
    account: 'alice',
    authorizeQueries: [],
    grants: {},
    async configure(opts) {
      // No types ship with oidc-provider; it is a test-only dependency.
      const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => ProviderInstance };
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
            redirect_uris: opts.redirectUris,
            post_logout_redirect_uris: opts.postLogoutRedirectUris ?? [],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            ...(opts.backchannelLogoutUri ? { backchannel_logout_uri: opts.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
          },
        ],
        jwks: { keys: [jwk] },
        pkce: { required: () => true },
        scopes: ['openid', 'email', 'offline_access'],
        claims: { openid: ['sub'], email: ['email', 'email_verified'] },
        findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, email: `${id}@example.test`, email_verified: true }) }),
        issueRefreshToken: () => true,
        ttl: {
          AccessToken: (ctx: { oidc?: { params?: { grant_type?: unknown } } } | undefined) =>
            ctx?.oidc?.params?.grant_type === 'refresh_token' ? (opts.refreshedAccessTokenTtl ?? opts.accessTokenTtl ?? 3600) : (opts.accessTokenTtl ?? 3600),
          IdToken: 3600,
          Session: 3600,
          Interaction: 600,
          Grant: 3600,
          RefreshToken: 3600,
        },
        features: {
          devInteractions: { enabled: false },
          backchannelLogout: { enabled: true },
          rpInitiatedLogout: {
            enabled: true,
            // Confirms the logout at once (the confirmation page is the provider's business, not the gateway's).
            logoutSource: (ctx: { body: string }, form: string) => {
              ctx.body = `<!DOCTYPE html><html><body>${form.replace('</form>', '<input type="hidden" name="logout" value="yes"></form>')}<script>document.forms[0].submit()</script></body></html>`;
            },
          },
        },
        interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
        cookies: { keys: ['test-only-cookie-key-0123456789'] },
      });
      provider.on('grant.success', (ctx) => {
        const grant = String((ctx as { oidc: { params: { grant_type?: unknown } } }).oidc.params.grant_type ?? '');
        state.grants[grant] = (state.grants[grant] ?? 0) + 1;
      });
      handle = provider.callback();
    },
    async logoutToken(claims, opts = {}) {
      const base: Record<string, unknown> = { iss: issuer, aud: CLIENT_ID, iat: Math.floor(Date.now() / 1000), jti: `jti-${Math.random().toString(36).slice(2)}`, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } };
      const payload: Record<string, unknown> = { ...base };
      for (const [k, v] of Object.entries(claims)) {
        if (v === undefined) delete payload[k];
        else payload[k] = v;
      }
      const key: CryptoKey = opts.key === 'other' ? other.privateKey : privateKey;
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: opts.typ ?? 'logout+jwt' }).sign(key);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handle === null || provider === null) return void res.writeHead(503).end();
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/auth') state.authorizeQueries.push(url.searchParams);
    if (url.pathname.startsWith('/interaction/')) return void finishInteraction(provider, req, res, state.account);
    handle(req, res);
  });
  return state;
}

/** Login and consent without pages: the user is `account` and grants every scope asked for. */
async function finishInteraction(provider: ProviderInstance, req: IncomingMessage, res: ServerResponse, account: string): Promise<void> {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') return await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params['client_id']) });
    grant.addOIDCScope(String(details.params['scope']));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
  }
}

export interface WebResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly setCookies: string[];
  readonly body: string;
}

/**
 * A browser without a browser, for the many attack cases: one cookie jar per origin (the
 * gateway's and the provider's), redirects followed on demand. Chromium covers the real one.
 */
export class WebClient {
  readonly jar = new Map<string, Map<string, string>>();

  cookies(origin: string): Map<string, string> {
    let m = this.jar.get(origin);
    if (m === undefined) this.jar.set(origin, (m = new Map()));
    return m;
  }

  async request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<WebResult> {
    const u = new URL(url);
    const jar = this.cookies(u.origin);
    const headers: Record<string, string> = { ...opts.headers };
    if (jar.size > 0 && headers['cookie'] === undefined) headers['cookie'] = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    // node:http, not fetch: fetch adds Sec-Fetch-Mode: cors to every request.
    const res = await http(url, { method: opts.method ?? 'GET', headers, ...(opts.body === undefined ? {} : { body: opts.body }) });
    const setCookies = res.headers['set-cookie'] ?? [];
    for (const sc of setCookies) {
      const [pair] = sc.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      if (/;\s*Max-Age=0/i.test(sc)) jar.delete(name);
      else jar.set(name, pair!.slice(eq + 1));
    }
    return { status: res.status, headers: res.headers, setCookies, body: res.body };
  }

  /** Follows redirects from `url` until one points at `stop` (returned, not requested); at most 15. */
  async followUntil(url: string, stop: (url: string) => boolean): Promise<string> {
    let next = url;
    for (let i = 0; i < 15; i++) {
      if (stop(next)) return next;
      const r = await this.request(next, { headers: { accept: 'text/html' } });
      const location = r.headers['location'];
      if (typeof location !== 'string') throw new Error(`no redirect from ${next}: ${r.status} ${r.body.slice(0, 300)}`);
      next = new URL(location, next).href;
    }
    throw new Error('too many redirects');
  }

  /** Requests `path` as a browser navigation and goes through the provider: the callback URL the provider sends back to `gateway`. */
  async callbackUrl(gateway: string, path = '/app'): Promise<string> {
    const r = await this.request(gateway + path, { headers: { accept: 'text/html' } });
    if (r.status !== 302) throw new Error(`expected a redirect to the provider, got ${r.status} ${r.body}`);
    return this.followUntil(r.headers['location'] as string, (u) => u.startsWith(gateway));
  }

  /** A whole sign-in: the callback's answer (a redirect to where the browser was going). */
  async signIn(gateway: string, path = '/app'): Promise<WebResult> {
    return this.request(await this.callbackUrl(gateway, path), { headers: { accept: 'text/html' } });
  }
}
