// `northgate cache purge --tag T | --path P`: purges the caches a config file declares.
// Redis caches are purged in Redis directly (every gateway sharing it sees the purge); memory
// caches through the running gateway's status listener (POST /cache/purge, loopback only).
import { Redis } from 'ioredis';
import { parseAddress } from '../config/address.js';
import { loadConfigFile } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import type { RawConfig } from '../config/types.js';
import { defaultRegistry } from '../pipeline/registry.js';
import { parsePurge } from '../plugins/cache/purge-endpoint.js';
import { purgeRedis } from '../plugins/cache/redis-store.js';
import { CACHE_DEFAULTS, type CacheConfig } from '../plugins/cache/schema.js';
import type { PurgeRequest } from '../plugins/cache/store.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: northgate cache purge (--tag TAG | --path PATH)... [--config FILE] [--status URL]

Removes cached responses: by tag (the upstream's Surrogate-Key header) and/or by request
path (every query string, host and variant of it). Both flags may be repeated.

  --config FILE   the gateway's config (default ./northgate.yaml): its cache plugins say
                  where the caches are
  --status URL    the running gateway's status listener for memory caches
                  (default: listen.status of the config, e.g. http://127.0.0.1:8100)

Redis caches are purged in Redis; memory caches by POST /cache/purge on the status listener
(it accepts loopback peers only). Exits 0 when every cache was purged, 1 otherwise.
`;

/** The cache plugin configs anywhere in a config (global, services, routes). */
export function cacheConfigs(raw: RawConfig): CacheConfig[] {
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

export async function cacheCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'purge') throw new UsageError(`unknown cache command "${sub}"; see northgate cache --help`);
  const { values } = parse('cache purge', rest, {
    tag: { type: 'string', multiple: true },
    path: { type: 'string', multiple: true },
    config: { type: 'string', short: 'c' },
    status: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const req = parsePurge({ tags: values.tag ?? [], paths: values.path ?? [] });
  if (typeof req === 'string') throw new UsageError(`cache purge: ${req.replace('give at least one tag or path', 'give --tag or --path')}`);
  let raw: RawConfig;
  try {
    raw = loadConfigFile(values.config ?? 'northgate.yaml', defaultRegistry());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.lines().join('\n') + '\n');
      return 2;
    }
    throw err;
  }
  const configs = cacheConfigs(raw);
  if (configs.length === 0) {
    process.stderr.write('northgate: the config has no cache plugin: nothing to purge\n');
    return 1;
  }
  let ok = true;
  let total = 0;
  const redisTargets = new Map<string, { url: string; prefix: string }>();
  for (const c of configs) {
    if (c.store !== 'redis') continue;
    const prefix = c.redis!.prefix ?? CACHE_DEFAULTS.redisPrefix;
    redisTargets.set(`${c.redis!.url} ${prefix}`, { url: c.redis!.url, prefix });
  }
  for (const { url, prefix } of redisTargets.values()) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000, commandTimeout: 5000, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const n = await purgeRedis(redis, prefix, req);
      total += n;
      process.stdout.write(`redis ${redactUrl(url)} (${prefix}): purged ${n}\n`);
    } catch (err) {
      ok = false;
      process.stderr.write(`northgate: could not purge redis ${redactUrl(url)}: ${(err as Error).message}\n`);
    } finally {
      redis.disconnect();
    }
  }
  if (configs.some((c) => c.store !== 'redis')) {
    const n = await purgeGateway(values.status ?? statusUrl(raw), req);
    if (typeof n === 'string') {
      ok = false;
      process.stderr.write(`northgate: ${n}\n`);
    } else {
      total += n;
      process.stdout.write(`gateway memory caches: purged ${n}\n`);
    }
  }
  process.stdout.write(`purged ${total} entr${total === 1 ? 'y' : 'ies'}\n`);
  return ok ? 0 : 1;
}

function statusUrl(raw: RawConfig): string | null {
  const s = raw.listen?.status;
  if (s === null) return null;
  const a = parseAddress(s ?? '127.0.0.1:8100');
  if (typeof a === 'string') return null;
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

async function purgeGateway(base: string | null, req: PurgeRequest): Promise<number | string> {
  if (base === null) return 'memory caches need the status listener (listen.status is off); pass --status URL';
  try {
    const res = await fetch(new URL('/cache/purge', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) return `the gateway at ${base} answered ${res.status}: ${text}`;
    return (JSON.parse(text) as { purged: number }).purged;
  } catch (err) {
    return `could not reach the gateway's status listener at ${base}: ${(err as Error).message}`;
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
