// The Redis connections of plugins (rate-limit, quota, cache): one client per URL and
// timeout, shared by every plugin instance of every snapshot and closed when the last one
// releases it. Clients fail fast instead of queueing while Redis is away (each plugin's
// error policy decides) and keep reconnecting in the background.
import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { lazyRequire } from '../../runtime/lazy-require.js';
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

const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

const clients = new Map<string, { redis: Redis; refs: number }>();

export function acquireRedis(url: string, timeoutMs: number): Redis {
  const key = `${url}|${timeoutMs}`;
  let entry = clients.get(key);
  if (entry === undefined) {
    const redis = new (ioredis().Redis)(url, {
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

/** Connection streams corked in this event-loop turn (uncorked together in its check phase). */
const corked: Writable[] = [];

function uncorkAll(): void {
  const streams = corked.splice(0);
  for (const stream of streams) {
    try {
      stream.uncork();
    } catch {
      // A destroyed socket (ioredis reconnects with a new one): its commands already failed.
    }
  }
}

/**
 * Coalesces this turn's commands on `redis` into one socket write: the first command of a
 * turn corks the connection, and a setImmediate uncorks it once every request the turn's
 * socket reads brought in has issued its command. Under load that is one write syscall for
 * many commands instead of one each (ioredis's own auto-pipelining batches as well, but its
 * per-batch Pipeline objects cost more CPU than the writes they save). Call before sending.
 */
export function coalesceWrites(redis: Redis): void {
  if (redis.status !== 'ready') return;
  const stream = (redis as unknown as { stream: Writable }).stream;
  if (stream.writableCorked !== 0) return;
  stream.cork();
  if (corked.push(stream) === 1) setImmediate(uncorkAll);
}
