// Purging every cache a config names, for the admin API (`POST /cache/purge`) and
// `northgate cache purge`: each distinct Redis cache in Redis (shared by every node), and the
// memory caches through a function the caller gives (this node's workers, or a running
// gateway's status listener).
import { redactRedisUrl } from '../../base/redis.js';
import { purgeRedis } from './redis-store.js';
import { CACHE_DEFAULTS, type CacheConfig } from './schema.js';
import type { PurgeRequest } from './store.js';

export interface PurgeReport {
  /** Entries removed in all. */
  purged: number;
  /** Memory caches: entries removed, an error, or null when no cache of the config is in memory. */
  memory: { purged: number } | { error: string } | null;
  redis: Array<{ url: string; prefix: string; purged?: number; error?: string }>;
}

/** The plugin maps of a config document (a RawConfig): global, per service, per route. */
type PluginMaps = Record<string, unknown> | undefined;
interface ConfigPlugins {
  readonly plugins?: PluginMaps;
  readonly services?: ReadonlyArray<{ readonly plugins?: PluginMaps; readonly routes?: ReadonlyArray<{ readonly plugins?: PluginMaps }> }>;
}

/** The cache plugin configs anywhere in a config (global, services, routes). */
export function cacheConfigs(raw: ConfigPlugins): CacheConfig[] {
  const out: CacheConfig[] = [];
  const take = (plugins: Record<string, unknown> | undefined) => {
    if (plugins?.['cache'] !== undefined) out.push(plugins['cache'] as CacheConfig);
  };
  take(raw.plugins);
  for (const s of raw.services ?? []) {
    take(s.plugins);
    for (const r of s.routes ?? []) take(r.plugins);
  }
  return out;
}

/** A Redis URL as it may be shown: without its password. */
export const redactUrl = redactRedisUrl;

/**
 * Purges the caches of `raw`'s cache plugins. Each Redis cache gets its own short-lived
 * client (bounded connect and command timeouts), so a purge never waits on or disturbs the
 * clients serving requests. A failure is reported per cache; the others are still purged.
 */
export async function purgeCaches(raw: ConfigPlugins, req: PurgeRequest, memory: (req: PurgeRequest) => Promise<number | string>): Promise<PurgeReport> {
  const configs = cacheConfigs(raw);
  const report: PurgeReport = { purged: 0, memory: null, redis: [] };
  const redisTargets = new Map<string, { url: string; prefix: string }>();
  for (const c of configs) {
    if (c.store !== 'redis') continue;
    const prefix = c.redis!.prefix ?? CACHE_DEFAULTS.redisPrefix;
    redisTargets.set(`${c.redis!.url} ${prefix}`, { url: c.redis!.url, prefix });
  }
  for (const { url, prefix } of redisTargets.values()) {
    const { Redis } = await import('ioredis'); // loaded only when a config has a Redis cache
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, commandTimeout: 5000, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const n = await purgeRedis(redis, prefix, req);
      report.purged += n;
      report.redis.push({ url: redactUrl(url), prefix, purged: n });
    } catch (err) {
      report.redis.push({ url: redactUrl(url), prefix, error: (err as Error).message });
    } finally {
      redis.disconnect();
    }
  }
  if (configs.some((c) => c.store !== 'redis')) {
    const n = await memory(req);
    if (typeof n === 'string') report.memory = { error: n };
    else {
      report.memory = { purged: n };
      report.purged += n;
    }
  }
  return report;
}

