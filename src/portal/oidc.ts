// Sign-in through an external OpenID Connect provider (`portal.oidc`): authorization code
// flow with PKCE (S256), state and nonce, through openid-client. The verifier, state and
// nonce wait in the visitor's server-side session; the callback finds the account by the
// provider's subject, or by a verified email, or creates one.
import type * as Client from 'openid-client';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_DOCUMENT_BYTES, boundedFetch } from '../base/remote-document.js';
import { DirectoryConflict, type PortalAccount, type PortalDirectory } from './directory.js';
import { PortalError } from './http.js';
import type { Session, SessionStore } from './sessions.js';
import type { PortalSettings } from './settings.js';

type Oidc = NonNullable<PortalSettings['oidc']>;

export const CALLBACK_PATH = '/portal/oidc/callback';

/** Each answer from the provider: whole within this time, at most this large, no redirects. */
export const PROVIDER_TIMEOUT_MS = 10_000;
export const PROVIDER_MAX_BYTES = DEFAULT_MAX_DOCUMENT_BYTES;
const providerFetch = boundedFetch({ what: 'OpenID provider answer', timeoutMs: PROVIDER_TIMEOUT_MS, maxBytes: PROVIDER_MAX_BYTES });

/** Loaded on the first OIDC sign-in: a gateway without `portal.oidc` never pays for it. */
let lib: Promise<typeof Client> | null = null;
const openid = (): Promise<typeof Client> => (lib ??= import('openid-client'));

export class OidcSignIn {
  #config: { key: string; value: Promise<Client.Configuration> } | null = null;

  #discover(oidc: Oidc): Promise<Client.Configuration> {
    const key = `${oidc.issuer}|${oidc.clientId}|${oidc.clientSecret ?? ''}`;
    if (this.#config?.key !== key) {
      const u = new URL(oidc.issuer);
      // Plain http only for a provider on this machine (development and tests).
      const loopback = u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
      // Every request to the provider (discovery, token, userinfo, its JWKS) is bounded: the
      // limits fire before openid-client's own deadline, a second later, so the log says why.
      const value = openid().then((client) =>
        client.discovery(u, oidc.clientId, oidc.clientSecret ?? undefined, undefined, {
          timeout: PROVIDER_TIMEOUT_MS / 1000 + 1,
          [client.customFetch]: providerFetch,
          ...(loopback ? { execute: [client.allowInsecureRequests] } : {}),
        }),
      );
      // A failed discovery is retried on the next sign-in.
      value.catch(() => {
        if (this.#config?.value === value) this.#config = null;
      });
      this.#config = { key, value };
    }
    return this.#config.value;
  }

  redirectUri(settings: PortalSettings, req: IncomingMessage): string {
    return (settings.url ?? `http://${req.headers.host ?? 'localhost'}`) + CALLBACK_PATH;
  }

  /** Redirects the browser to the provider. */
  async start(settings: PortalSettings, session: Session, sessions: SessionStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const oidc = settings.oidc!;
    const config = await this.#discover(oidc).catch(() => {
      throw new PortalError('auth-unavailable', 'the identity provider cannot be reached');
    });
    const client = await openid();
    const verifier = client.randomPKCECodeVerifier();
    session.oidc = { verifier, state: client.randomState(), nonce: client.randomNonce() };
    await sessions.save(session);
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(settings, req),
      scope: oidc.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: session.oidc.state,
      nonce: session.oidc.nonce,
    });
    res.writeHead(302, { location: url.href, 'cache-control': 'no-store' });
    res.end();
  }

  /** Checks the provider's answer (state, PKCE, nonce, ID token) and returns the account to sign in. */
  async callback(settings: PortalSettings, session: Session, sessions: SessionStore, req: IncomingMessage, directory: PortalDirectory): Promise<PortalAccount> {
    const oidc = settings.oidc!;
    const pending = session.oidc;
    session.oidc = null;
    // One use: a replayed callback finds nothing pending.
    if (pending !== null) await sessions.save(session);
    if (pending === null) throw new PortalError('bad-request', 'no sign-in in progress in this session; start again');
    const config = await this.#discover(oidc).catch(() => {
      throw new PortalError('auth-unavailable', 'the identity provider cannot be reached');
    });
    const client = await openid();
    const current = new URL(req.url ?? '/', this.redirectUri(settings, req));
    let claims: Client.IDToken | undefined;
    let profile: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
      claims = tokens.claims();
      if (claims === undefined) throw new Error('no ID token');
      // Providers that keep scope claims out of the ID token give them at the userinfo endpoint.
      profile = typeof claims['email'] === 'string' ? claims : { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
    } catch {
      throw new PortalError('unauthorized', 'the identity provider did not confirm the sign-in');
    }
    const subject = `${claims.iss}|${claims.sub}`;
    const bySubject = await directory.findAccountBySubject(subject);
    if (bySubject !== null) return bySubject;
    const email = typeof profile['email'] === 'string' ? profile['email'].toLowerCase() : null;
    if (email === null || profile['email_verified'] !== true) throw new PortalError('forbidden', 'the identity provider did not share a verified email address');
    const byEmail = await directory.findAccountByEmail(email);
    // An existing password account is not taken over by an identity it was never linked to.
    if (byEmail !== null) throw new PortalError('conflict', 'an account with this email exists; sign in with its password');
    try {
      return await directory.createAccount({ email, role: settings.admins.has(email) ? 'admin' : 'developer', passwordHash: null, oidcSubject: subject });
    } catch (err) {
      if (err instanceof DirectoryConflict) throw new PortalError('conflict', 'an account with this email exists');
      throw err;
    }
  }
}
