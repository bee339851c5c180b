// The config schemas of the authentication plugins: key-auth, basic-auth, jwt, introspection
// and mtls-auth each on its own, and `auth`, which lists several of them under `any`.
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

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const scopeToken = { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$', 'x-message': 'must be a scope token (printable ASCII without spaces, quotes or backslashes)' };

export const introspectionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'client_id', 'client_secret'],
  properties: {
    /** The RFC 7662 introspection endpoint. */
    endpoint: httpUrl,
    /** The gateway's own client credentials at the authorization server (write the secret as ${ENV}). */
    client_id: { type: 'string', minLength: 1 },
    client_secret: { type: 'string', minLength: 1 },
    /** How the client credentials are sent: HTTP Basic (default) or in the form body. */
    client_auth: { enum: ['client_secret_basic', 'client_secret_post'] },
    token_type_hint: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', 'x-message': 'must be a token type such as access_token' },
    /** The whole exchange with the endpoint: connect, request, answer. */
    timeout: duration,
    /** A PEM file of CA certificates the endpoint's certificate must chain to (instead of the system CAs). */
    ca: { type: 'string', minLength: 1 },
    /** Every one of these must be in the token's `scope`, or 403 insufficient_scope. */
    required_scopes: { type: 'array', minItems: 1, uniqueItems: true, items: scopeToken },
    /** The token's `aud` must name one of these. */
    audience: stringOrList,
    /** The token's `iss` must be one of these. */
    issuer: stringOrList,
    /** The claim that names the consumer (a configured consumer's id or username, else an external one). */
    consumer_claim: { type: 'string', minLength: 1 },
    /** Upstream header -> claim. */
    forward_claims: { type: 'object', propertyNames: headerNameSchema, additionalProperties: { type: 'string', minLength: 1 } },
    hide_credentials: { type: 'boolean' },
    realm: { type: 'string', pattern: '^[^"\\\\\\u0000-\\u001f]*$', 'x-message': 'must not contain quotes, backslashes or control characters' },
    cache: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /** How long an active answer is reused (never past the token's exp); 0s: not cached. */
        ttl: duration,
        max_entries: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        /** How long an inactive (or refused) answer is reused; 0s: not cached. */
        inactive_ttl: duration,
      },
    },
  },
};

export interface IntrospectionConfig {
  endpoint: string;
  client_id: string;
  client_secret: string;
  client_auth?: 'client_secret_basic' | 'client_secret_post';
  token_type_hint?: string;
  timeout?: string;
  ca?: string;
  required_scopes?: string[];
  audience?: string | string[];
  issuer?: string | string[];
  consumer_claim?: string;
  forward_claims?: Record<string, string>;
  hide_credentials?: boolean;
  realm?: string;
  cache?: { ttl?: string; max_entries?: number; inactive_ttl?: string };
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
  properties: { 'key-auth': keyAuthSchema, 'basic-auth': basicAuthSchema, jwt: jwtSchema, introspection: introspectionSchema, 'mtls-auth': mtlsAuthSchema },
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

export type AuthMethodConfig = { 'key-auth': KeyAuthConfig } | { 'basic-auth': BasicAuthConfig } | { jwt: JwtConfig } | { introspection: IntrospectionConfig } | { 'mtls-auth': MtlsAuthConfig };

export interface AuthConfig {
  any: AuthMethodConfig[];
  anonymous?: string;
}
