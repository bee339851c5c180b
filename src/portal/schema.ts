// The `portal:` section and `services[].portal` of the config file (docs/portal.md).
import { DURATION_PATTERN } from '../base/duration.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 30m, 12h, 1d' };
const url = { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' };
const tag = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$', 'x-message': 'must be a tag of letters, digits, spaces, ".", "_" or "-" (max 64)' };
// An https URL (the page's CSP allows images from its origin only) or a path on the portal's own origin.
const logoUrl = {
  type: 'string',
  maxLength: 2048,
  pattern: '^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\s\\u0000-\\u001f\\u007f"\'<>\\\\`]*)?|/(?!/)[^\\s\\u0000-\\u001f\\u007f"\'<>\\\\`]*)$',
  'x-message': 'must be an https:// URL or a path on the portal starting with "/" (no spaces, quotes, "<", ">" or "\\")',
};
// A CSS hex colour only: the value is written into a stylesheet, so nothing else may pass.
const hexColour = { type: 'string', pattern: '^#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$', 'x-message': 'must be a CSS hex colour such as "#1d5fa8"' };
const planName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', 'x-message': 'must be a plan name' };

export const portalSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    title: { type: 'string', minLength: 1, maxLength: 200 },
    brand: {
      type: 'object',
      additionalProperties: false,
      properties: {
        logo_url: logoUrl,
        accent_color: hexColour,
      },
    },
    store: { type: 'string', minLength: 1, pattern: '^(sqlite:.+|postgres(ql)?://.+|[^:]+)$', 'x-message': 'must be a SQLite file (optionally "sqlite:PATH", relative to the config file) or a postgres:// URL' },
    base_url: url,
    url,
    admins: { type: 'array', items: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', 'x-message': 'must be an email address' } },
    self_service: {
      type: 'object',
      additionalProperties: false,
      properties: {
        plans: { anyOf: [{ const: false }, { type: 'array', minItems: 1, items: planName }], 'x-message': 'must be a list of plan names, or false (access must be approved)' },
        sign_up: { type: 'boolean' },
      },
    },
    session: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ttl: duration,
        cookie_secure: { enum: ['auto', true, false] },
      },
    },
    sign_in_limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        per_account: { type: 'integer', minimum: 1, maximum: 1000 },
        per_ip: { type: 'integer', minimum: 1, maximum: 100000 },
        window: duration,
      },
    },
    oidc: {
      type: 'object',
      additionalProperties: false,
      required: ['issuer', 'client_id'],
      properties: {
        issuer: url,
        client_id: { type: 'string', minLength: 1 },
        client_secret: { type: 'string', minLength: 1 },
        scopes: { type: 'array', items: { type: 'string', minLength: 1 } },
        label: { type: 'string', minLength: 1, maxLength: 100 },
      },
    },
  },
};

export const servicePortalSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    published: { type: 'boolean' },
    title: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 10000 },
    openapi: { type: 'string', minLength: 1 },
    tags: { type: 'array', maxItems: 32, items: tag },
    versions: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 64 } },
  },
};
