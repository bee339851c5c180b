import { headerNameSchema } from '../../base/schema-defs.js';
const isoDate = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$', 'x-message': 'must be an ISO 8601 date such as 2026-12-31 or 2026-12-31T00:00:00Z' };
const versionName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', 'x-message': 'must be letters, digits, ".", "_" or "-" (at most 63)' };

export const versioningSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['versions'],
  properties: {
    by: { enum: ['path_prefix', 'header', 'query'] },
    header: headerNameSchema,
    query: { type: 'string', minLength: 1, pattern: '^[^&=#\\u0000-\\u001f]+$' },
    /** path_prefix: remove the version segment from the upstream path. */
    strip_prefix: { type: 'boolean' },
    default: versionName,
    versions: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: versionName,
          /** Another service of the config that serves this version (default: the route's own). */
          service: { type: 'string', minLength: 1 },
          deprecated: {
            type: 'object',
            additionalProperties: false,
            required: ['date'],
            properties: {
              /** When the version was (or will be) deprecated: the Deprecation header (RFC 9745). */
              date: isoDate,
              /** When it stops answering: the Sunset header (RFC 8594). */
              sunset: isoDate,
              /** Its successor: Link: <link>; rel="successor-version". */
              link: { type: 'string', minLength: 1, pattern: '^[^<>\\s"]+$', 'x-message': 'must be a URI (no spaces, <, > or quotes)' },
            },
          },
        },
      },
    },
  },
};

export interface VersionConfig {
  name: string;
  service?: string;
  deprecated?: { date: string; sunset?: string; link?: string };
}

export interface VersioningConfig {
  by?: 'path_prefix' | 'header' | 'query';
  header?: string;
  query?: string;
  strip_prefix?: boolean;
  default?: string;
  versions: VersionConfig[];
}
