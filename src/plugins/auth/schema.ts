import { basicAuthSchema, type BasicAuthConfig } from '../basic-auth/schema.js';
import { jwtSchema, type JwtConfig } from '../jwt/schema.js';
import { keyAuthSchema, type KeyAuthConfig } from '../key-auth/schema.js';
import { mtlsAuthSchema, type MtlsAuthConfig } from '../mtls-auth/schema.js';

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
