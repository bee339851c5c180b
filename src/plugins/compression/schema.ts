const mediaRange = { type: 'string', pattern: '^(\\+[a-z0-9.-]+|[a-z0-9.+-]+/(\\*|[a-z0-9.+-]+))$', 'x-message': 'must be a media type (text/html), a wildcard (text/*) or a suffix (+json)' };

export const compressionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Encodings offered, in the gateway's order of preference (used to break q-value ties). */
    encodings: { type: 'array', items: { enum: ['br', 'gzip'] }, minItems: 1, uniqueItems: true },
    /** Responses with a smaller Content-Length are sent as they are. */
    min_size: { type: 'integer', minimum: 0 },
    content_types: { type: 'array', items: mediaRange, minItems: 1 },
    gzip_level: { type: 'integer', minimum: 1, maximum: 9 },
    brotli_quality: { type: 'integer', minimum: 0, maximum: 11 },
  },
};

export interface CompressionConfig {
  encodings?: Array<'br' | 'gzip'>;
  min_size?: number;
  content_types?: string[];
  gzip_level?: number;
  brotli_quality?: number;
}

export const COMPRESSION_DEFAULTS = {
  encodings: ['br', 'gzip'] as Array<'br' | 'gzip'>,
  min_size: 1024,
  content_types: ['text/*', 'application/json', 'application/javascript', '+json', '+xml', 'image/svg+xml'],
  gzip_level: 6,
  brotli_quality: 4,
};
