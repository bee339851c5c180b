// The Redis connections of plugins (rate-limit, quota, cache): one client per URL and
// timeout, shared by every plugin instance of every snapshot and closed when the last one
// releases it. Clients fail fast instead of queueing while Redis is away (each plugin's
// error policy decides) and keep reconnecting in the background — except during a new
// client's first connection, which a request that needs an answer can wait for (bounded by
// the connect timeout): a gateway just started is not a Redis outage.
import type { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { lazyRequire } from './lazy-require.js';
import { DURATION_PATTERN } from './duration.js';

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

/**
 * A new client's first connection while it is being made. Over once the client is ready,
 * or that first attempt failed (refused, timed out, closed), or a request has waited the
 * connect timeout for it; then deleted, so the hot path's check finds nothing.
 */
interface FirstConnection {
  readonly windowMs: number;
  /** Removes the client listeners that end the window. */
  readonly stopFollowing: () => void;
  /** What requests wait on: made by the first request that needs the client. */
  waiting: Promise<boolean> | null;
  settle: ((ok: boolean) => void) | null;
}

const firstConnections = new WeakMap<Redis, FirstConnection>();

export function acquireRedis(url: string, timeoutMs: number): Redis {
  const key = `${url}|${timeoutMs}`;
  let entry = clients.get(key);
  if (entry === undefined) {
    const connectTimeout = Math.max(1000, timeoutMs);
    const redis = new (ioredis().Redis)(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    });
    redis.on('error', () => undefined);
    followFirstConnection(redis, connectTimeout);
    entry = { redis, refs: 0 };
    clients.set(key, entry);
  }
  entry.refs++;
  return entry.redis;
}

function followFirstConnection(redis: Redis, windowMs: number): void {
  const onReady = () => endFirstConnection(redis, true);
  const onClose = () => endFirstConnection(redis, false);
  redis.once('ready', onReady);
  redis.once('close', onClose);
  const stopFollowing = () => {
    redis.off('ready', onReady);
    redis.off('close', onClose);
  };
  firstConnections.set(redis, { windowMs, stopFollowing, waiting: null, settle: null });
}

function endFirstConnection(redis: Redis, ok: boolean): void {
  const first = firstConnections.get(redis);
  if (first === undefined) return;
  firstConnections.delete(redis);
  first.stopFollowing();
  first.settle?.(ok);
}

/**
 * While `redis` makes its first connection: a Promise that settles when it is up (true) or
 * the attempt failed or took the connect timeout, counted from the first request that
 * waits (false): a request waits on it before its command, which would otherwise fail at
 * once (no offline queue) and let a just-started node apply on_store_error to its first
 * requests. null once that is over: commands go out now, and fail fast while Redis is away.
 */
export function whileFirstConnecting(redis: Redis): Promise<boolean> | null {
  const first = firstConnections.get(redis);
  if (first === undefined) return null;
  return (first.waiting ??= new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => endFirstConnection(redis, false), first.windowMs);
    first.settle = (ok) => {
      clearTimeout(timer);
      resolve(ok);
    };
  }));
}

/**
 * Resolves once `redis` is ready (at once if it is): the start-up readiness of the plugins
 * that use it. Rejects when `signal` aborts (the gateway stopped waiting) or the client ends.
 */
export function redisReady(redis: Redis, signal: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      redis.off('ready', onReady);
      redis.off('end', onEnd);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('the Redis client was closed'));
    const onAbort = () => done(new Error('no longer waited for'));
    if (signal.aborted) return onAbort();
    redis.once('ready', onReady);
    redis.once('end', onEnd);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A Redis URL as it may be logged: without its password. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
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
