// The `consumers:` section of the config file: who may call, in which groups, with which
// credentials. Secrets may come from ${ENV}; they are hashed when the snapshot is built.
import { JWT_ALGORITHMS } from '../sdk/consumer.js';

/** Values that end up in upstream headers (X-Consumer-*): no control characters, no commas. */
const headerSafe = { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f,]+$', 'x-message': 'must be 1-256 characters without control characters or commas' };
const credentialId = headerSafe;

export const KEY_DIGEST_PATTERN = '^sha256:[A-Za-z0-9+/]{43}=$';
export const PASSWORD_HASH_PATTERN = '^scrypt:[0-9]{1,7}:[0-9]{1,2}:[0-9]{1,2}:[A-Za-z0-9+/=]{8,64}:[A-Za-z0-9+/=]{16,128}$';

export const consumerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username'],
  properties: {
    username: headerSafe,
    id: headerSafe,
    groups: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', 'x-message': 'must be a group name of letters, digits, ".", "_", ":" or "-"' } },
    plan: { type: 'string', minLength: 1 },
    credentials: {
      type: 'object',
      additionalProperties: false,
      properties: {
        'key-auth': {
          type: 'array',
          items: {
            // `key`, or the stored form `key_digest` (+ `key_prefix`) written by `northgate config dump`.
            type: 'object', additionalProperties: false,
            properties: {
              id: credentialId,
              key: { type: 'string', minLength: 8, maxLength: 1024, pattern: '^[\\u0021-\\u007e]+$', 'x-message': 'must be 8-1024 printable ASCII characters without spaces' },
              key_digest: { type: 'string', pattern: KEY_DIGEST_PATTERN, 'x-message': 'must be "sha256:" and the base64 SHA-256 of the key' },
              key_prefix: { type: 'string', maxLength: 8, pattern: '^[\\u0021-\\u007e]*$' },
            },
          },
        },
        'basic-auth': {
          type: 'array',
          items: {
            // `password`, or the stored form `password_hash` (scrypt) written by `northgate config dump`.
            type: 'object', additionalProperties: false, required: ['username'],
            properties: {
              id: credentialId,
              username: { type: 'string', minLength: 1, pattern: '^[^:\\u0000-\\u001f]+$', 'x-message': 'must not contain ":" or control characters' },
              password: { type: 'string', minLength: 1, maxLength: 1024 },
              password_hash: { type: 'string', pattern: PASSWORD_HASH_PATTERN, 'x-message': 'must be scrypt:N:r:p:SALT:HASH (base64), as written by northgate config dump' },
            },
          },
        },
        jwt: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['algorithm'],
            properties: {
              id: credentialId,
              issuer: { type: 'string', minLength: 1 },
              key_id: { type: 'string', minLength: 1 },
              secret: { type: 'string', minLength: 1 },
              public_key: { type: 'string', minLength: 1 },
              algorithm: { enum: [...JWT_ALGORITHMS] },
            },
          },
        },
      },
    },
  },
};
