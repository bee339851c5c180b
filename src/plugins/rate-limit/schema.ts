import { redisConnectionSchema } from '../../base/redis.js';
import { DURATION_PATTERN } from '../../base/duration.js';
import { HTTP_TOKEN_CHAR } from '../../base/schema-defs.js';

export const KEY_PART = `^(consumer|credential|ip|route|service|header:${HTTP_TOKEN_CHAR}+)$`;

export const rateLimitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['limits'],
  properties: {
    limits: {
      type: 'array',
      minItems: 1,
      maxItems: 8,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['per', 'max'],
        properties: {
          per: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 1s, 1m, 1h, 1d' },
          max: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
        },
      },
    },
    key: {
      anyOf: [
        { type: 'string', pattern: KEY_PART },
        { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string', pattern: KEY_PART } },
      ],
      'x-message': 'must be consumer, credential, ip, route, service or header:NAME, or a list of them',
    },
    policy: { enum: ['local', 'redis'] },
    redis: redisConnectionSchema,
    on_store_error: { enum: ['allow', 'deny'] },
    headers: { type: 'boolean' },
  },
};

export interface RateLimitConfig {
  limits: Array<{ per: string; max: number }>;
  key?: string | string[];
  policy?: 'local' | 'redis';
  redis?: { url: string; timeout?: string; prefix?: string };
  on_store_error?: 'allow' | 'deny';
  headers?: boolean;
}
