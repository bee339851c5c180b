// `quota`: at most `max` requests per consumer per calendar day or month (UTC), counted in
// a durable store so that a restart does not reset it. A used-up quota answers 429
// problem+json `quota-exceeded` with Retry-After = seconds until the period resets, and
// every response of the route says how much is left and when it resets (X-Quota-*).
import { quotaExceededChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import { acquireRedis, redactRedisUrl, releaseRedis } from '../../base/redis.js';
import { clock } from '../../base/clock.js';
import { periodTracker, type Period } from './period.js';
import { QUOTA_DEFAULTS, quotaSchema, type QuotaConfig } from './schema.js';
import { postgresQuotaStore, redisQuotaStore, sqliteQuotaStore, type QuotaStore } from './stores.js';


const kQuota = localKey<{ remaining: number; reset: number }>('northgate.quota');

function keyPart(spec: string): (ctx: PluginContext) => string {
  if (spec === 'consumer') return (ctx) => ctx.consumer?.id ?? `ip:${ctx.clientIp}`;
  if (spec === 'credential') return (ctx) => ctx.credential?.id ?? `ip:${ctx.clientIp}`;
  if (spec === 'ip') return (ctx) => `ip:${ctx.clientIp}`;
  const name = spec.slice('header:'.length).toLowerCase();
  return (ctx) => `h:${ctx.header(name) ?? ''}`;
}

export const quotaPlugin: Plugin<QuotaConfig> = {
  name: 'quota',
  // After rate-limit (900): a request refused by a rate limit does not use up quota.
  priority: 890,
  schema: quotaSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    const store = config.store ?? 'sqlite';
    if (store === 'redis' && config.redis === undefined) problems.push({ path: ['redis'], message: 'store "redis" needs redis: { url }' });
    if (store === 'postgres' && config.postgres === undefined) problems.push({ path: ['postgres'], message: 'store "postgres" needs postgres: { url }' });
    if (store !== 'sqlite' && config.path !== undefined) problems.push({ path: ['path'], message: 'path is the SQLite file; it does not apply to store "' + store + '"' });
    return problems;
  },
  create(config, scope) {
    return createQuota(config, `${scope.kind}:${scope.service ?? ''}:${scope.route ?? ''}`);
  },
};

/** A PostgreSQL URL as it may be logged: without its password. */
const redactPostgresUrl = (url: string): string => url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');

function openQuotaStore(config: QuotaConfig): QuotaStore {
  const kind = config.store ?? 'sqlite';
  if (kind === 'redis') {
    const r = config.redis!;
    const timeoutMs = parseDuration(r.timeout ?? QUOTA_DEFAULTS.redisTimeout)!;
    const redis = acquireRedis(r.url, timeoutMs);
    return redisQuotaStore(redis, r.prefix ?? QUOTA_DEFAULTS.redisPrefix, timeoutMs, () => releaseRedis(redis));
  }
  if (kind === 'postgres') {
    const p = config.postgres!;
    return postgresQuotaStore(p.url, p.table ?? QUOTA_DEFAULTS.pgTable, parseDuration(p.timeout ?? QUOTA_DEFAULTS.pgTimeout)!);
  }
  return sqliteQuotaStore(config.path ?? QUOTA_DEFAULTS.path);
}

export interface QuotaUsage {
  readonly limit: number;
  readonly used: number;
  readonly left: number;
  readonly period: 'day' | 'month';
  /** ISO 8601 instant of the next period. */
  readonly resetAt: string;
}

/**
 * The read side of the quota counters (usage pages): how much of a quota `subject` used in
 * the current period, from the store the quota counts in. `scopeId` as in createQuota
 * ("plan" for plans); `subject` is what the config's `key` names for the request (a
 * consumer id for the default `key: consumer`). Never counts a request.
 */
export async function quotaUsage(config: QuotaConfig, scopeId: string, subject: string, now = clock.now()): Promise<QuotaUsage> {
  const period = periodTracker(config.period)(now);
  const store = openQuotaStore(config);
  try {
    const used = Math.min(config.max, await store.used(`${scopeId}|${subject}`, period.id));
    return { limit: config.max, used, left: config.max - used, period: config.period, resetAt: new Date(period.end).toISOString() };
  } finally {
    store.release();
  }
}

/** A quota handler whose counters are keyed under `scopeId` (plans use "plan"). */
export function createQuota(config: QuotaConfig, scopeId: string): PluginHandler {
  const max = config.max;
  const key = keyPart(config.key ?? 'consumer');
  const current = periodTracker(config.period);
  const sendHeaders = config.headers ?? true;
  const denyOnError = config.on_store_error === 'deny';
  const limitText = String(max);
  // Opened on the first request, so that `validate`, `routes` or the master of a cluster
  // (which compile the config too) never touch the store.
  let store: QuotaStore | null = null;
  const open = (): QuotaStore => openQuotaStore(config);
  const kind = config.store ?? 'sqlite';
  const storeName = kind === 'redis' ? `redis ${redactRedisUrl(config.redis!.url)}` : kind === 'postgres' ? `postgres ${redactPostgresUrl(config.postgres!.url)}` : null;

  const decide = (ctx: PluginContext, used: number, period: Period, now: number): RequestPhaseResult => {
    if (used < 0) {
      if (quotaExceededChannel.hasSubscribers) quotaExceededChannel.publish(ctx);
      const seconds = Math.max(1, Math.ceil((period.end - now) / 1000));
      const resetAt = new Date(period.end).toISOString();
      return LocalReply.error('quota-exceeded', `quota of ${max} requests per ${config.period} used up; it resets at ${resetAt}`, {
        'retry-after': String(seconds),
        'x-quota-limit': limitText,
        'x-quota-remaining': '0',
        'x-quota-reset': resetAt,
      });
    }
    if (sendHeaders) ctx.setLocal(kQuota, { remaining: max - used, reset: period.end });
    return undefined;
  };
  const onStoreError = (): RequestPhaseResult =>
    denyOnError ? LocalReply.error('quota-unavailable', 'the quota store did not answer; try again shortly', { 'retry-after': '1' }) : undefined;

  return {
    request(ctx) {
      const now = clock.now();
      const period = current(now);
      let used: number | Promise<number>;
      try {
        used = (store ??= open()).consume(`${scopeId}|${key(ctx)}`, period.id, max, period.end);
      } catch {
        return onStoreError();
      }
      if (typeof used === 'number') return decide(ctx, used, period, now);
      return used.then((n) => decide(ctx, n, period, now), onStoreError);
    },
    responseHeaders: sendHeaders
      ? (ctx) => {
          const q = ctx.local(kQuota);
          if (q === undefined) return;
          ctx.responseHeaders.set('x-quota-limit', limitText);
          ctx.responseHeaders.set('x-quota-remaining', String(q.remaining));
          ctx.responseHeaders.set('x-quota-reset', new Date(q.reset).toISOString());
        }
      : undefined,
    close: () => store?.release(),
    // A remote store is opened at start by the gateway's readiness wait (never by validate or a cluster's master).
    ready: storeName === null ? undefined : { store: storeName, wait: (signal) => (store ??= open()).ready!(signal) },
  };
}
