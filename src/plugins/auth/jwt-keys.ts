// Keys from an identity provider: a JWKS URL, or an OpenID discovery document that names
// one. jose's remote JWKS caches keys and refetches on an unknown kid at most once per
// cooldown; on top of that a failed fetch also waits a cooldown, so neither a flood of
// random kids nor a down IdP turns into a flood of requests to the IdP. Both documents are
// fetched with limits (remote-document.ts): a time limit for the whole answer, a size
// limit, no redirects, JSON only.
import type { JWTVerifyGetKey } from 'jose';
import { DEFAULT_MAX_DOCUMENT_BYTES, boundedFetch, fetchDocument, type FetchLimits } from '../../base/remote-document.js';

export const FETCH_TIMEOUT_MS = 5000;
export const MAX_DOCUMENT_BYTES = DEFAULT_MAX_DOCUMENT_BYTES;

export class IdpUnavailable extends Error {}

export class RemoteKeys {
  readonly #jwksUri: string | undefined;
  readonly #discovery: string | undefined;
  readonly #issuer: readonly string[] | null;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  #jwks: Promise<JWTVerifyGetKey> | null = null;
  #failedAt = -Infinity;

  constructor(opts: { jwksUri?: string; discovery?: string; issuer: readonly string[] | null; cooldownMs: number; timeoutMs?: number; maxBytes?: number }) {
    this.#jwksUri = opts.jwksUri;
    this.#discovery = opts.discovery;
    this.#issuer = opts.issuer;
    this.#cooldownMs = opts.cooldownMs;
    this.#timeoutMs = opts.timeoutMs ?? FETCH_TIMEOUT_MS;
    this.#maxBytes = opts.maxBytes ?? MAX_DOCUMENT_BYTES;
  }

  #limits(what: string, check: (doc: unknown) => string | null): FetchLimits {
    return { what, timeoutMs: this.#timeoutMs, maxBytes: this.#maxBytes, document: true, check };
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
    const { createRemoteJWKSet, customFetch } = await import('jose');
    // jose's own deadline is a second later than ours, so that ours (which says why) fires first.
    return createRemoteJWKSet(new URL(uri), { cooldownDuration: this.#cooldownMs, timeoutDuration: this.#timeoutMs + 1000, cacheMaxAge: 10 * 60_000, [customFetch]: boundedFetch(this.#limits('JWKS', jwksProblem)) });
  }

  async #discover(): Promise<string> {
    const doc = (await fetchDocument(this.#discovery!, this.#limits('OpenID discovery document', (d) => this.#discoveryProblem(d))).catch((err: unknown) => {
      throw new IdpUnavailable((err as Error).message);
    })) as { jwks_uri: string };
    return doc.jwks_uri;
  }

  #discoveryProblem(doc: unknown): string | null {
    const d = doc as { issuer?: unknown; jwks_uri?: unknown } | null;
    if (d === null || typeof d !== 'object' || typeof d.jwks_uri !== 'string' || !/^https?:\/\//.test(d.jwks_uri)) return 'has no http(s) jwks_uri';
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the expected one.
    if (this.#issuer !== null && (typeof d.issuer !== 'string' || !this.#issuer.includes(d.issuer))) return 'names another issuer';
    return null;
  }
}

function jwksProblem(doc: unknown): string | null {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  return Array.isArray(keys) ? null : 'is not a JSON Web Key Set (no "keys" list)';
}
