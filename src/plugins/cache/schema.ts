import { redisConnectionSchema } from '../../base/redis.js';
import { DURATION_PATTERN } from '../../base/duration.js';
import { headerNameSchema } from '../../base/schema-defs.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 250ms, 30s, 5m' };

export const cacheSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    store: { enum: ['memory', 'redis'] },
    memory: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /** Total bytes of bodies + headers + keys kept; least recently used entries go first. */
        max_bytes: { type: 'integer', minimum: 1024 },
      },
    },
    redis: redisConnectionSchema,
    /** Largest body stored; bigger responses are forwarded and not cached. */
    max_entry_bytes: { type: 'integer', minimum: 1 },
    /** Freshness for responses that carry none (no max-age, s-maxage or Expires). Absent: they are not cached. */
    default_ttl: duration,
    /** Upper bound on any freshness lifetime. */
    max_ttl: duration,
    statuses: { type: 'array', items: { type: 'integer', minimum: 200, maximum: 599 }, minItems: 1, uniqueItems: true },
    /** honor: request no-cache refreshes from the upstream, no-store bypasses; ignore: the client's Cache-Control is not read. */
    request_cache_control: { enum: ['honor', 'ignore'] },
    /** Cache responses to requests with Authorization and no consumer (shared between everyone who asks for the key). */
    cache_authorized: { type: 'boolean' },
    /** Cache responses to requests with Cookie (the cookie is not part of the key: shared). */
    cache_with_cookie: { type: 'boolean' },
    /** Cache responses with Set-Cookie; the stored copy never carries the cookie. */
    cache_set_cookie: { type: 'boolean' },
    key: {
      type: 'object',
      additionalProperties: false,
      properties: {
        /** One entry per consumer: the key includes the consumer id (without it, requests with a consumer are not cached). */
        consumer: { type: 'boolean' },
        /** Request headers added to the key (e.g. Accept-Version when versioning selects by header). */
        headers: { type: 'array', items: headerNameSchema },
      },
    },
    collapse: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        /** How long followers wait for the leader's response before going upstream themselves. */
        wait: duration,
      },
    },
  },
};

export interface CacheConfig {
  store?: 'memory' | 'redis';
  memory?: { max_bytes?: number };
  redis?: { url: string; prefix?: string; timeout?: string };
  max_entry_bytes?: number;
  default_ttl?: string;
  max_ttl?: string;
  statuses?: number[];
  request_cache_control?: 'honor' | 'ignore';
  cache_authorized?: boolean;
  cache_set_cookie?: boolean;
  cache_with_cookie?: boolean;
  key?: { consumer?: boolean; headers?: string[] };
  collapse?: { enabled?: boolean; wait?: string };
}

export const CACHE_DEFAULTS = {
  memoryMaxBytes: 64 * 1024 * 1024,
  maxEntryBytes: 1024 * 1024,
  maxTtl: '1d',
  statuses: [200, 203, 204, 300, 301, 308, 404, 410],
  redisPrefix: 'northgate:cache:',
  redisTimeout: '200ms',
  collapseWait: '5s',
};
