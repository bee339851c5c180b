// The Redis connections of plugins (rate-limit, quota, cache): one client per URL and
// timeout, shared by every plugin instance of every snapshot and closed when the last one
// releases it. Clients fail fast instead of queueing while Redis is away (each plugin's
// error policy decides) and keep reconnecting in the background.
import { Redis } from 'ioredis';
import { DURATION_PATTERN } from '../../config/duration.js';

/** The `redis: { url, timeout, prefix }` block of a plugin's schema. */
export const redisConnectionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^rediss?://', 'x-message': 'must be a redis:// or rediss:// URL' },
    timeout: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 50ms' },
    prefix: { type: 'string', minLength: 1, maxLength: 100 },
  },
} as const;

const clients = new Map<string, { redis: Redis; refs: number }>();

export function acquireRedis(url: string, timeoutMs: number): Redis {
  const key = `${url}|${timeoutMs}`;
  let entry = clients.get(key);
  if (entry === undefined) {
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(1000, timeoutMs),
      retryStrategy: (times) => Math.min(50 * times, 1000),
    });
    redis.on('error', () => undefined);
    entry = { redis, refs: 0 };
    clients.set(key, entry);
  }
  entry.refs++;
  return entry.redis;
}

export function releaseRedis(redis: Redis): void {
  for (const [key, entry] of clients) {
    if (entry.redis !== redis) continue;
    if (--entry.refs === 0) {
      clients.delete(key);
      redis.disconnect();
    }
    return;
  }
}
