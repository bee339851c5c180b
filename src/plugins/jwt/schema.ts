import { DURATION_PATTERN } from '../../base/duration.js';
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../../consumers/schema.js';

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
    forward_claims: { type: 'object', propertyNames: { pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }, additionalProperties: { type: 'string', minLength: 1 } },
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
