// The cluster-wide store: one round trip per request, one Lua script that reads, decides
// and writes every limit of the request atomically, with the time taken from Redis TIME so
// that skewed gateway clocks cannot split or stretch a window. All keys of one request share
// a hash tag ({...}), so the script also runs on Redis Cluster.
import type { Redis } from 'ioredis';
import { acquireRedis as acquireShared, coalesceWrites, releaseRedis } from '../../base/redis.js';
import type { Decision, Limit } from './gcra.js';

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local n = #KEYS
local retry = 0
local worst = 1
local worstRem = -1
local tats = {}
local newtats = {}
for i = 1, n do
  local period = tonumber(ARGV[2 * i - 1])
  local max = tonumber(ARGV[2 * i])
  local interval = period / max
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  tats[i] = tat
  local newtat = tat + interval
  local allowAt = newtat - period
  if allowAt > now then
    if allowAt - now > retry then
      retry = allowAt - now
      worst = i
    end
  else
    newtats[i] = newtat
    local rem = math.floor((period - (newtat - now)) / interval + 1e-9)
    if retry == 0 and (worstRem < 0 or rem < worstRem) then
      worstRem = rem
      worst = i
    end
  end
end
if retry > 0 then
  return {0, 0, tostring(tats[worst] - now), tostring(retry), worst - 1}
end
for i = 1, n do
  redis.call('SET', KEYS[i], tostring(newtats[i]), 'PX', math.ceil(newtats[i] - now) + 1)
end
return {1, worstRem, tostring(newtats[worst] - now), '0', worst - 1}
`;

interface ScriptedRedis extends Redis {
  northgateRateLimit(numKeys: number, ...args: Array<string | number>): Promise<[number, number, string, string, number]>;
}

/** The shared connection for this URL, with the rate-limit script defined on it. */
export function acquireRedis(url: string, timeoutMs: number): ScriptedRedis {
  const redis = acquireShared(url, timeoutMs) as ScriptedRedis;
  if (typeof redis.northgateRateLimit !== 'function') redis.defineCommand('northgateRateLimit', { lua: SCRIPT });
  return redis;
}

export { releaseRedis };

export async function checkRedis(redis: ScriptedRedis, keys: string[], limits: readonly Limit[]): Promise<Decision> {
  const args: Array<string | number> = [...keys];
  for (const l of limits) args.push(l.period, l.max);
  coalesceWrites(redis);
  const [allowed, remaining, resetMs, retryMs, limit] = await redis.northgateRateLimit(keys.length, ...args);
  return {
    allowed: allowed === 1,
    remaining,
    reset: Math.max(0, Math.ceil(Number(resetMs) / 1000)),
    retryAfter: allowed === 1 ? 0 : Math.max(1, Math.ceil(Number(retryMs) / 1000)),
    limit,
  };
}
