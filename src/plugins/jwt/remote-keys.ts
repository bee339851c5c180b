// Keys from an identity provider: a JWKS URL, or an OpenID discovery document that names
// one. jose's remote JWKS caches keys and refetches on an unknown kid at most once per
// cooldown; on top of that a failed fetch also waits a cooldown, so neither a flood of
// random kids nor a down IdP turns into a flood of requests to the IdP.
import type { JWTVerifyGetKey } from 'jose';

export const FETCH_TIMEOUT_MS = 5000;

export class IdpUnavailable extends Error {}

export class RemoteKeys {
  readonly #jwksUri: string | undefined;
  readonly #discovery: string | undefined;
  readonly #issuer: readonly string[] | null;
  readonly #cooldownMs: number;
  #jwks: Promise<JWTVerifyGetKey> | null = null;
  #failedAt = -Infinity;

  constructor(opts: { jwksUri?: string; discovery?: string; issuer: readonly string[] | null; cooldownMs: number }) {
    this.#jwksUri = opts.jwksUri;
    this.#discovery = opts.discovery;
    this.#issuer = opts.issuer;
    this.#cooldownMs = opts.cooldownMs;
  }

  /** The key resolver; rejects with IdpUnavailable while the IdP is failing (within a cooldown of the last failure). */
  resolver(): Promise<JWTVerifyGetKey> {
    if (performance.now() - this.#failedAt < this.#cooldownMs) return Promise.reject(new IdpUnavailable('identity provider failed recently'));
    return (this.#jwks ??= this.#create().catch((err: unknown) => {
      this.failed();
      this.#jwks = null;
      throw err;
    }));
  }

  failed(): void {
    this.#failedAt = performance.now();
  }

  async #create(): Promise<JWTVerifyGetKey> {
    const uri = this.#jwksUri ?? (await this.#discover());
    const { createRemoteJWKSet } = await import('jose');
    return createRemoteJWKSet(new URL(uri), { cooldownDuration: this.#cooldownMs, timeoutDuration: FETCH_TIMEOUT_MS, cacheMaxAge: 10 * 60_000 });
  }

  async #discover(): Promise<string> {
    const res = await fetch(this.#discovery!, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } }).catch((err: unknown) => {
      throw new IdpUnavailable(`discovery failed: ${String(err)}`);
    });
    if (res.status !== 200) throw new IdpUnavailable(`discovery answered ${res.status}`);
    const doc = (await res.json().catch(() => null)) as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (doc === null || typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) throw new IdpUnavailable('discovery document has no jwks_uri');
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the expected one.
    if (this.#issuer !== null && (typeof doc.issuer !== 'string' || !this.#issuer.includes(doc.issuer))) throw new IdpUnavailable('discovery document names another issuer');
    return doc.jwks_uri;
  }
}
