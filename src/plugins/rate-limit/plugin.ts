// `rate-limit`: GCRA limits per key (consumer, credential, client IP, a header, route or
// service, or a combination), in this process (`local`) or shared by every gateway node
// through Redis (`redis`). Answers 429 problem+json with Retry-After; every response of a
// limited route carries RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-09).
import { rateLimitedChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import type { Decision, Limit } from './gcra.js';
import { inClusterWorker, masterClient, processStore } from './node-store.js';
import { redactRedisUrl, redisReady, whileFirstConnecting } from '../../base/redis.js';
import { acquireRedis, checkRedis, releaseRedis } from './redis-store.js';
import { rateLimitSchema, type RateLimitConfig } from './schema.js';


const kDecision = localKey<Decision>('northgate.rate-limit');

type KeyPart = (ctx: PluginContext) => string;

/** The consumer's id; without an authenticated consumer, the client address stands in. */
const consumerId = (ctx: PluginContext): string => ctx.consumer?.id ?? `ip:${ctx.clientIp}`;

function keyPart(spec: string): KeyPart {
  switch (spec) {
    case 'consumer':
      return consumerId;
    case 'credential':
      return (ctx) => ctx.credential?.id ?? `ip:${ctx.clientIp}`;
    case 'ip':
      return (ctx) => ctx.clientIp;
    case 'route':
      return (ctx) => ctx.route?.name ?? '';
    case 'service':
      return (ctx) => ctx.route?.service.name ?? '';
    default: {
      const name = spec.slice('header:'.length).toLowerCase();
      return (ctx) => ctx.header(name) ?? '';
    }
  }
}

export const rateLimitPlugin: Plugin<RateLimitConfig> = {
  name: 'rate-limit',
  priority: 900,
  schema: rateLimitSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    if ((config.policy ?? 'local') === 'redis' && config.redis === undefined) problems.push({ path: ['redis'], message: 'policy "redis" needs redis: { url }' });
    const seen = new Set<number>();
    config.limits.forEach((l, i) => {
      const ms = parseDuration(l.per)!;
      if (ms < 1000) problems.push({ path: ['limits', i, 'per'], message: 'must be at least 1s' });
      if (seen.has(ms)) problems.push({ path: ['limits', i, 'per'], message: `two limits with the same period ${l.per}` });
      seen.add(ms);
    });
    return problems;
  },
  create(config, scope) {
    // Limits of different routes (or services) never share counters, even for the same consumer.
    return createRateLimit(config, `${scope.kind}:${scope.service ?? ''}:${scope.route ?? ''}`);
  },
};

/** A rate-limit handler whose counters are keyed under `scopeId` (plans use "plan"). */
export function createRateLimit(config: RateLimitConfig, scopeId: string): PluginHandler {
  {
    const limits: Limit[] = config.limits
      .map((l) => ({ period: parseDuration(l.per)!, max: l.max, name: l.per }))
      .sort((a, b) => a.period - b.period);
    const parts = (Array.isArray(config.key) ? config.key : [config.key ?? 'consumer']).map(keyPart);
    const policyHeader = limits.map((l) => `"${l.name}";q=${l.max};w=${l.period / 1000}`).join(', ');
    const sendHeaders = config.headers ?? true;
    const denyOnError = config.on_store_error === 'deny';
    const keyOf = (ctx: PluginContext): string => {
      let key = scopeId;
      for (let i = 0; i < parts.length; i++) key += '|' + parts[i]!(ctx);
      return key;
    };
    const respond = (ctx: PluginContext, d: Decision): RequestPhaseResult => {
      if (!d.allowed) {
        if (rateLimitedChannel.hasSubscribers) rateLimitedChannel.publish(ctx);
        const name = limits[d.limit]!.name;
        return LocalReply.error('rate-limited', `rate limit of ${limits[d.limit]!.max} per ${name} exceeded`, {
          'retry-after': String(d.retryAfter),
          'ratelimit-policy': policyHeader,
          // t: seconds until the limit is fully replenished, as on admitted requests; Retry-After says when the next one passes.
          ratelimit: `"${name}";r=0;t=${d.reset}`,
        });
      }
      if (sendHeaders) ctx.setLocal(kDecision, d);
      return undefined;
    };
    const onStoreError = (): RequestPhaseResult =>
      denyOnError ? LocalReply.error('rate-limit-unavailable', 'the rate-limit store did not answer; try again shortly', { 'retry-after': '1' }) : undefined;
    const addHeaders = (ctx: PluginContext): void => {
      const d = ctx.local(kDecision);
      if (d === undefined) return;
      ctx.responseHeaders.setLowerCase('ratelimit-policy', policyHeader);
      ctx.responseHeaders.setLowerCase('ratelimit', `"${limits[d.limit]!.name}";r=${d.remaining};t=${d.reset}`);
    };

    if ((config.policy ?? 'local') === 'local') {
      // Keyed by the limits too: a reload that keeps them keeps the counters, a change starts afresh.
      const spec = limits.map((l) => [l.period, l.max] as [number, number]);
      const localPrefix = `${spec.join(';')}|`;
      if (inClusterWorker) {
        return {
          request: (ctx) =>
            masterClient.check(localPrefix + keyOf(ctx), spec).then(
              (d) => respond(ctx, d),
              () => {
                ctx.locals.set('rate-limit:store-error', true);
                return onStoreError();
              },
            ),
          responseHeaders: sendHeaders ? addHeaders : undefined,
        };
      }
      // A one-part key (a client IP, a consumer id) maps to its store key through a small
      // memo: the request then looks up strings seen before, whose hashes V8 keeps, instead of
      // flattening and hashing a new concatenation per request. Bounded: cleared when full
      // (with more than 10,000 distinct keys in play it gives little, and costs little).
      const memo = new Map<string, string>();
      const only = parts.length === 1 ? parts[0]! : null;
      const storeKey = (ctx: PluginContext): string => {
        if (only === null) return localPrefix + keyOf(ctx);
        const part = only(ctx);
        let key = memo.get(part);
        if (key === undefined) {
          if (memo.size >= 10_000) memo.clear();
          memo.set(part, (key = `${localPrefix}${scopeId}|${part}`));
        }
        return key;
      };
      return {
        request: (ctx) => respond(ctx, processStore.check(storeKey(ctx), limits)),
        responseHeaders: sendHeaders ? addHeaders : undefined,
      };
    }

    const redisConfig = config.redis!;
    const timeoutMs = parseDuration(redisConfig.timeout ?? '50ms')!;
    const prefix = redisConfig.prefix ?? 'northgate:rl:';
    const redis = acquireRedis(redisConfig.url, timeoutMs);
    const check = (ctx: PluginContext): Promise<RequestPhaseResult> => {
      const key = keyOf(ctx);
      const keys = limits.map((_, i) => `${prefix}{${key}}:${i}`);
      return checkRedis(redis, keys, limits).then(
        (d) => respond(ctx, d),
        () => {
          ctx.locals.set('rate-limit:store-error', true);
          return onStoreError();
        },
      );
    };
    return {
      request(ctx) {
        // A new client's first connection (at start, or a reload to another Redis) is waited
        // for, up to its connect timeout: on_store_error is for Redis failing, and would
        // otherwise admit every request of a node's first moments.
        const first = whileFirstConnecting(redis);
        return first === null ? check(ctx) : first.then(() => check(ctx));
      },
      responseHeaders: sendHeaders ? addHeaders : undefined,
      close: () => releaseRedis(redis),
      ready: { store: `redis ${redactRedisUrl(redisConfig.url)}`, wait: (signal) => redisReady(redis, signal) },
    };
  }
}
