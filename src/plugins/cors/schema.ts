import { headerNameSchema, HTTP_TOKEN_PATTERN } from '../../base/schema-defs.js';

/** A method is a token (RFC 9110 9.1). */
const method = { type: 'string', pattern: HTTP_TOKEN_PATTERN };

export const corsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Exact origins, `*`, wildcard subdomains (`https://*.example.com`) or anchored regexes (`~^https://...$`). */
    origins: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
    /** `["*"]`: any method (with credentials, the preflight's Access-Control-Request-Method is answered back). */
    methods: { type: 'array', items: method, minItems: 1 },
    /** Allowed request headers; omitted (or `["*"]` with credentials): the preflight's Access-Control-Request-Headers is reflected. */
    headers: { type: 'array', items: headerNameSchema },
    /** `["*"]`: every response header (with credentials, the response's own header names are listed). */
    exposed_headers: { type: 'array', items: headerNameSchema },
    credentials: { type: 'boolean' },
    /** Seconds a browser may cache a preflight answer. */
    max_age: { type: 'integer', minimum: 0, maximum: 86400 },
    /** The status of a preflight the gateway answers: any 2xx is "ok" to a browser (Fetch). */
    preflight_status: { type: 'integer', enum: [200, 204] },
  },
};

export interface CorsConfig {
  origins?: string[];
  methods?: string[];
  headers?: string[];
  exposed_headers?: string[];
  credentials?: boolean;
  max_age?: number;
  preflight_status?: 200 | 204;
}

export const CORS_DEFAULTS = {
  origins: ['*'],
  methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
  preflight_status: 204,
} as const;
