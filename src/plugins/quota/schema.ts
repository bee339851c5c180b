import { redisConnectionSchema } from '../../base/redis.js';
import { DURATION_PATTERN } from '../../base/duration.js';
import { HTTP_TOKEN_CHAR } from '../../base/schema-defs.js';

export const quotaSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['period', 'max'],
  properties: {
    period: { enum: ['day', 'month'] },
    max: { type: 'integer', minimum: 1, maximum: 1_000_000_000_000 },
    timezone: { enum: ['UTC'] },
    key: { type: 'string', pattern: `^(consumer|credential|ip|header:${HTTP_TOKEN_CHAR}+)$`, 'x-message': 'must be consumer, credential, ip or header:NAME' },
    store: { enum: ['sqlite', 'redis', 'postgres'] },
    path: { type: 'string', minLength: 1 },
    redis: redisConnectionSchema,
    postgres: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^postgres(ql)?://', 'x-message': 'must be a postgres:// URL' },
        timeout: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 500ms' },
        table: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', 'x-message': 'must be a lower-case SQL identifier' },
      },
    },
    on_store_error: { enum: ['allow', 'deny'] },
    headers: { type: 'boolean' },
  },
};

export interface QuotaConfig {
  period: 'day' | 'month';
  max: number;
  timezone?: 'UTC';
  key?: string;
  store?: 'sqlite' | 'redis' | 'postgres';
  path?: string;
  redis?: { url: string; timeout?: string; prefix?: string };
  postgres?: { url: string; timeout?: string; table?: string };
  on_store_error?: 'allow' | 'deny';
  headers?: boolean;
}

export const QUOTA_DEFAULTS = { path: 'northgate-quota.sqlite', redisTimeout: '100ms', redisPrefix: 'northgate:quota:', pgTimeout: '500ms', pgTable: 'northgate_quota' } as const;
