// Who is calling: the consumers an authentication plugin finds, the credentials it found
// them by, and the directory it looks them up in. The gateway compiles the `consumers:`
// section into a directory once per config snapshot; plugins only read it.
import type { KeyObject } from 'node:crypto';

/** The JOSE algorithms a jwt credential or the jwt plugin may name (`none` is never one). */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
/** One of JWT_ALGORITHMS. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** A caller the gateway knows (or, for a JWT subject, was told about by a trusted token). */
export interface Consumer {
  /** Stable id (the config's `id`, else derived from the username); sent upstream as X-Consumer-Id. */
  readonly id: string;
  /** Unique in the config; sent upstream as X-Consumer-Username. */
  readonly username: string;
  /** The groups `acl` checks. */
  readonly groups: ReadonlySet<string>;
  /** X-Consumer-Groups as sent upstream ("" when none). */
  readonly groupsHeader: string;
  /** The consumer's plan name, or null. */
  readonly plan: string | null;
  /** `configured`: from the config's consumers; `external`: a JWT subject that is not one of them. */
  readonly kind: 'configured' | 'external';
}

/** The credential a request was authenticated with. */
export interface Credential {
  /** Stable id (the config's `id`, else `username/type/index`); sent upstream as X-Credential-Id. */
  readonly id: string;
  /** The authentication method it belongs to. */
  readonly type: 'key-auth' | 'basic-auth' | 'jwt' | 'mtls-auth';
  /** Whose credential it is. */
  readonly consumer: Consumer;
}

/** A consumer's jwt credential: the key that verifies its tokens, with the one algorithm it allows. */
export interface JwtCredential extends Credential {
  /** Always `jwt`. */
  readonly type: 'jwt';
  /** The `iss` its tokens must carry, or null (then looked up by key id). */
  readonly issuer: string | null;
  /** The `kid` its tokens name, or null (then looked up by issuer). */
  readonly keyId: string | null;
  /** The one algorithm its tokens may use. */
  readonly algorithm: JwtAlgorithm;
  /** The secret (HS*) or public key that verifies its tokens. */
  readonly key: KeyObject;
}

/**
 * The consumers of the running config and their credentials, for authentication plugins.
 * Secrets are not kept in it (keys as digests, passwords as scrypt hashes); every comparison
 * of secret material is constant-time.
 */
export interface ConsumerDirectory {
  /** Configured consumers by id. */
  readonly byId: ReadonlyMap<string, Consumer>;
  /** Configured consumers by username. */
  readonly byUsername: ReadonlyMap<string, Consumer>;
  /** Jwt credentials that name a key id. */
  readonly jwtByKeyId: ReadonlyMap<string, JwtCredential>;
  /** Jwt credentials without a key id, by issuer. */
  readonly jwtByIssuer: ReadonlyMap<string, JwtCredential>;
  /** The key-auth credential of an API key, or null. */
  findKey(key: string): Credential | null;
  /** The basic-auth credential of a username and password, or null; a Promise unless the pair was verified before (scrypt runs off the event loop). */
  verifyBasic(username: string, password: string): Credential | null | Promise<Credential | null>;
}
