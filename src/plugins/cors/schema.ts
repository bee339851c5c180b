import { headerNameSchema, HTTP_TOKEN_PATTERN } from '../../base/schema-defs.js';

/** A method is a token (RFC 9110 9.1). */
const method = { type: 'string', pattern: HTTP_TOKEN_PATTERN };

export const corsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Exact origins, `*`, wildcard subdomains (`https://*.example.com`) or anchored regexes (`~^https://...$`). */
    origins: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    methods: { type: 'array', items: method, minItems: 1 },
    /** Allowed request headers; omitted: the preflight's Access-Control-Request-Headers is reflected. */
    headers: { type: 'array', items: headerNameSchema },
    exposed_headers: { type: 'array', items: headerNameSchema },
    credentials: { type: 'boolean' },
    /** Seconds a browser may cache a preflight answer. */
    max_age: { type: 'integer', minimum: 0, maximum: 86400 },
  },
};

export interface CorsConfig {
  origins?: string[];
  methods?: string[];
  headers?: string[];
  exposed_headers?: string[];
  credentials?: boolean;
  max_age?: number;
}

export const CORS_DEFAULTS = {
  origins: ['*'],
  methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
} as const;
