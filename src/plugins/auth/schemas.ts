// The config schemas of the authentication plugins: key-auth, basic-auth, jwt and mtls-auth
// each on its own, and `auth`, which lists several of them under `any`.
import { DURATION_PATTERN } from '../../base/duration.js';
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../../sdk/consumer.js';
import { headerNameSchema } from '../../base/schema-defs.js';

const headerName = { ...headerNameSchema, 'x-message': 'must be a header / query parameter name' };

export const keyAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Header and query-parameter names that may carry the key, tried in this order. */
    key_names: { type: 'array', minItems: 1, items: headerName },
    in: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['header', 'query'] } },
    /** Remove the key from what the upstream receives. */
    hide_credentials: { type: 'boolean' },
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
  },
};

export interface KeyAuthConfig {
  key_names?: string[];
  in?: Array<'header' | 'query'>;
  hide_credentials?: boolean;
  realm?: string;
}

export const basicAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
    /** Remove the Authorization header from what the upstream receives. */
    hide_credentials: { type: 'boolean' },
  },
};

export interface BasicAuthConfig {
  realm?: string;
  hide_credentials?: boolean;
}

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 250ms, 2s, 1m' };
const httpUrl = { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' };
const stringOrList = { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }] };

export const jwtSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Expected `iss` (one or several). A consumer credential with its own issuer overrides it. */
    issuer: stringOrList,
    /** Accepted `aud` values: the token must name one of them. */
    audiences: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...JWT_ALGORITHMS] } },
    jwks_uri: httpUrl,
    /** OpenID configuration URL; its jwks_uri is fetched on the first request. */
    discovery: httpUrl,
    /** After a JWKS fetch, an unknown kid waits this long before it may trigger another one. */
    jwks_cooldown: duration,
    /** The whole fetch of the discovery document or the JWKS (connect, head, body). */
    jwks_timeout: duration,
    /** Largest discovery document or JWKS accepted, in bytes (after decompression). */
    jwks_max_bytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024 },
    clock_skew: duration,
    required_claims: { type: 'array', items: { type: 'string', minLength: 1 } },
    /** The claim naming the consumer for tokens verified with a JWKS key. */
    consumer_claim: { type: 'string', minLength: 1 },
    /** Upstream header -> claim. */
    forward_claims: { type: 'object', propertyNames: headerNameSchema, additionalProperties: { type: 'string', minLength: 1 } },
    hide_credentials: { type: 'boolean' },
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
  },
};

export interface JwtConfig {
  issuer?: string | string[];
  audiences?: string[];
  algorithms?: JwtAlgorithm[];
  jwks_uri?: string;
  discovery?: string;
  jwks_cooldown?: string;
  jwks_timeout?: string;
  jwks_max_bytes?: number;
  clock_skew?: string;
  required_claims?: string[];
  consumer_claim?: string;
  forward_claims?: Record<string, string>;
  hide_credentials?: boolean;
  realm?: string;
}

export const mtlsAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Which part of the verified client certificate names the consumer (its username). */
    consumer_by: { enum: ['subject_cn', 'san_uri', 'san_dns'] },
    /** A PEM file: the certificate must also be issued by this CA (on top of the listener's client_ca). */
    ca: { type: 'string', minLength: 1 },
    realm: { type: 'string', minLength: 1 },
  },
};

export interface MtlsAuthConfig {
  consumer_by?: 'subject_cn' | 'san_uri' | 'san_dns';
  ca?: string;
  realm?: string;
}

/** One method: an object with exactly one key, the method's name, holding that plugin's config. */
const method = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  properties: { 'key-auth': keyAuthSchema, 'basic-auth': basicAuthSchema, jwt: jwtSchema, 'mtls-auth': mtlsAuthSchema },
  'x-message': 'must be one method, e.g. { key-auth: {} }',
};

export const authSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['any'],
  properties: {
    any: { type: 'array', minItems: 1, items: method },
    /** Username of a configured consumer given to requests that carry no credential at all. */
    anonymous: { type: 'string', minLength: 1 },
  },
};

export type AuthMethodConfig = { 'key-auth': KeyAuthConfig } | { 'basic-auth': BasicAuthConfig } | { jwt: JwtConfig } | { 'mtls-auth': MtlsAuthConfig };

export interface AuthConfig {
  any: AuthMethodConfig[];
  anonymous?: string;
}
