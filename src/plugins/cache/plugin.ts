// `cache`: GET/HEAD responses kept in memory (LRU by bytes) or Redis and answered from
// there in the request phase, honouring Cache-Control, Vary, ETag/If-None-Match and Age.
// A miss captures the upstream body as it streams (observing only: Content-Length stays)
// and stores it at the end. Concurrent misses for one key collapse onto one upstream
// request; its followers are answered from the entry it stores, or go upstream themselves.
import { parseDuration } from '../../base/duration.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import { hitFormOf } from './hit.js';
import { acquireMemoryStore } from './memory-store.js';
import { etagMatches, freshnessSeconds, parseCacheControl, surrogateKeys, varyNames } from './policy.js';
import { RedisStore } from './redis-store.js';
import { redactRedisUrl, redisReady } from '../../base/redis.js';
import { CACHE_DEFAULTS, cacheSchema, type CacheConfig } from './schema.js';
import { isEntry, type CacheEntry, type CacheStore, type Stored } from './store.js';

/**
 * The captured body in a buffer of its own and of its exact size: a chunk from the socket is
 * a view of a larger read buffer, which the entry would otherwise keep alive (and a pooled
 * copy would share a slab with other entries, alive as long as any of them is).
 */
function ownCopy(chunks: readonly Buffer[], size: number): Buffer {
  const body = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const c of chunks) at += c.copy(body, at);
  return body;
}

/** Headers kept out of a stored response: per-request, recomputed, or private. */
const NOT_STORED = new Set(['x-request-id', 'age', 'x-cache', 'set-cookie']);

type Resolve = (entry: CacheEntry | null) => void;

interface Flight {
  readonly waiters: Resolve[];
  readonly timer: NodeJS.Timeout;
}

interface Capture {
  readonly head: Omit<CacheEntry, 'body'>;
  readonly chunks: Buffer[];
  size: number;
}

interface State {
  mode: 'hit' | 'miss' | 'bypass';
  /** The response may be stored. */
  store: boolean;
  primary: string;
  flight: Flight | null;
  capture: Capture | null;
}

const kState = localKey<State>('cache.state');

/** The state of every request the cache leaves alone (never changed: it stores nothing, leads no flight). */
const BYPASS: State = Object.freeze({ mode: 'bypass', store: false, primary: '', flight: null, capture: null }) as State;

function bypass(ctx: PluginContext): undefined {
  ctx.setLocal(kState, BYPASS);
  return undefined;
}

/**
 * How the request reached the gateway, as the upstream will be told: the Host as the client
 * sent it (case, port and trailing dot kept; it is the upstream's Host with preserve_host)
 * and the X-Forwarded-Host, -Port, -Proto and Forwarded values as they are forwarded. An
 * upstream may reflect any of them (absolute links, redirects), so each spelling keys its own
 * entry. Read from the upstream header list, so the key follows whatever the core forwards.
 */
function forwardedPart(ctx: PluginContext): string {
  let out = ctx.hostHeader;
  const raw = ctx.upstreamHeaders.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    // forwarded (9), x-forwarded-host/-port (16), x-forwarded-proto (17): other names cost a
    // length check; the core writes these names in lower case, so case folding is rare.
    const len = n.length;
    if (len !== 16 && len !== 17 && len !== 9) continue;
    const tag = FORWARDED_TAGS.get(n) ?? FORWARDED_TAGS.get(n.toLowerCase());
    if (tag !== undefined) out += tag + raw[i + 1]!;
  }
  return out;
}

/** The forwarded headers keyed, each with a short tag of its own in the key. */
const FORWARDED_TAGS = new Map([
  ['x-forwarded-host', '\nh:'],
  ['x-forwarded-port', '\np:'],
  ['x-forwarded-proto', '\ns:'],
  ['forwarded', '\nf:'],
]);

function varyValues(ctx: PluginContext, names: readonly string[]): string {
  let out = '';
  for (const n of names) out += '\n' + (ctx.header(n) ?? '');
  return out;
}

export const cachePlugin: Plugin<CacheConfig> = {
  name: 'cache',
  priority: 100,
  schema: cacheSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    if (config.store === 'redis' && config.redis === undefined) problems.push({ path: ['redis'], message: 'store: redis needs redis: { url }' });
    if (config.store !== 'redis' && config.redis !== undefined) problems.push({ path: ['redis'], message: 'only used with store: redis' });
    if (config.store === 'redis' && config.memory !== undefined) problems.push({ path: ['memory'], message: 'only used with store: memory' });
    for (const h of config.key?.headers ?? []) if (h.toLowerCase() === 'authorization' || h.toLowerCase() === 'cookie') problems.push({ path: ['key', 'headers'], message: `"${h}" would make one entry per client; use key.consumer` });
    return problems;
  },
  create(config, scope) {
    const maxEntry = config.max_entry_bytes ?? CACHE_DEFAULTS.maxEntryBytes;
    const defaultTtl = config.default_ttl === undefined ? undefined : parseDuration(config.default_ttl)! / 1000;
    const maxTtl = parseDuration(config.max_ttl ?? CACHE_DEFAULTS.maxTtl)! / 1000;
    const statuses = new Set(config.statuses ?? CACHE_DEFAULTS.statuses);
    const honorRequest = (config.request_cache_control ?? 'honor') === 'honor';
    const cacheAuthorized = config.cache_authorized === true;
    const cacheSetCookie = config.cache_set_cookie === true;
    const cacheWithCookie = config.cache_with_cookie === true;
    const byConsumer = config.key?.consumer === true;
    const keyHeaders = (config.key?.headers ?? []).map((h) => h.toLowerCase());
    const collapse = config.collapse?.enabled ?? true;
    const collapseWaitMs = parseDuration(config.collapse?.wait ?? CACHE_DEFAULTS.collapseWait)!;
    const store: CacheStore =
      config.store === 'redis'
        ? new RedisStore(config.redis!.url, config.redis!.prefix ?? CACHE_DEFAULTS.redisPrefix, parseDuration(config.redis!.timeout ?? CACHE_DEFAULTS.redisTimeout)!)
        : acquireMemoryStore(`${scope.kind}|${scope.service ?? ''}|${scope.route ?? ''}`, config.memory?.max_bytes ?? CACHE_DEFAULTS.memoryMaxBytes);
    const flights = new Map<string, Flight>();

    // The route (routes may share a host and path and differ by method or header, and a
    // global or Redis store is shared by routes), what the upstream is told of the request's
    // origin, the path and the query as forwarded.
    const keyOf = (ctx: PluginContext): string => {
      let key = (ctx.route?.name ?? '') + '\n' + forwardedPart(ctx) + '\n' + ctx.path + ctx.query;
      if (byConsumer) key += '\nconsumer:' + (ctx.consumer?.id ?? '-');
      for (const h of keyHeaders) key += '\n' + h + ':' + (ctx.header(h) ?? '');
      return key;
    };

    const land = (st: State, entry: CacheEntry | null): void => {
      const flight = st.flight;
      if (flight === null) return;
      st.flight = null;
      if (flights.get(st.primary) === flight) flights.delete(st.primary);
      clearTimeout(flight.timer);
      for (const w of flight.waiters) w(entry);
    };

    /** The answer from a stored entry: its prebuilt headers with this request's Age, or a 304. */
    const hit = (ctx: PluginContext, entry: CacheEntry): LocalReply => {
      const inm = ctx.header('if-none-match');
      const ims = ctx.header('if-modified-since');
      const notModified =
        inm !== undefined
          ? entry.etag !== undefined && etagMatches(inm, entry.etag)
          : ims !== undefined && entry.lastModified !== undefined && Date.parse(entry.lastModified) <= Date.parse(ims);
      return hitFormOf(entry).reply(Date.now(), notModified && entry.status === 200);
    };

    /** A hit for a request that already has state (a collapsed follower, a Vary variant). */
    const hitWith = (ctx: PluginContext, st: State, entry: CacheEntry): LocalReply => {
      st.mode = 'hit';
      st.store = false;
      return hit(ctx, entry);
    };

    /** No usable entry: lead a flight, follow one, or just go upstream. */
    const miss = (ctx: PluginContext, st: State): RequestPhaseResult | Promise<RequestPhaseResult> => {
      if (!collapse || !st.store) return undefined;
      const flight = flights.get(st.primary);
      if (flight === undefined) {
        const waiters: Resolve[] = [];
        const f: Flight = { waiters, timer: setTimeout(() => land(st, null), collapseWaitMs) };
        f.timer.unref();
        flights.set(st.primary, f);
        st.flight = f;
        return undefined;
      }
      return new Promise<RequestPhaseResult>((resolve) => {
        flight.waiters.push((entry) => {
          // The leader's variant only serves followers that would select the same one.
          if (entry !== null && varyValues(ctx, entry.vary) === entry.varyValues) resolve(hitWith(ctx, st, entry));
          else resolve(undefined);
        });
      });
    };

    const afterLookup = (ctx: PluginContext, st: State, found: Stored | undefined): RequestPhaseResult | Promise<RequestPhaseResult> => {
      if (found === undefined) return miss(ctx, st);
      if (isEntry(found)) return hitWith(ctx, st, found);
      const variant = store.get(st.primary + varyValues(ctx, found.vary));
      const pick = (s: Stored | undefined) => (s !== undefined && isEntry(s) ? hitWith(ctx, st, s) : miss(ctx, st));
      return variant instanceof Promise ? variant.then(pick) : pick(variant);
    };

    const handler: PluginHandler = {
      observesBodyOnly: true,
      request(ctx) {
        const get = ctx.method === 'GET';
        if (!get && ctx.method !== 'HEAD') return bypass(ctx);
        // Auth plugins ran before (priority 1000+ against 100): a request with a consumer (any
        // credential of any auth plugin, or the anonymous consumer) is only cached per consumer.
        const headers = ctx.headers;
        if (ctx.consumer !== null) {
          if (!byConsumer) return bypass(ctx);
        } else if (!cacheAuthorized && headers.authorization !== undefined) return bypass(ctx);
        if (!cacheWithCookie && headers.cookie !== undefined) return bypass(ctx);
        let refresh = false;
        if (honorRequest) {
          const cc = ctx.header('cache-control');
          if (cc !== undefined) {
            const d = parseCacheControl(cc);
            if (d.noStore) return bypass(ctx);
            refresh = d.noCache;
          } else if (ctx.header('pragma')?.toLowerCase().includes('no-cache') === true) refresh = true;
        }
        const primary = keyOf(ctx);
        const found = refresh ? undefined : store.get(primary);
        // The hit path: a synchronous lookup (memory store) found a fresh entry; no state kept.
        if (found !== undefined && !(found instanceof Promise) && isEntry(found)) return hit(ctx, found);
        // HEAD is answered from a stored GET, never stored itself (it has no body).
        const st: State = { mode: refresh ? 'bypass' : 'miss', store: get, primary, flight: null, capture: null };
        ctx.setLocal(kState, st);
        if (refresh) return undefined;
        return found instanceof Promise ? found.then((s) => afterLookup(ctx, st, s)) : afterLookup(ctx, st, found);
      },
      responseHeaders(ctx) {
        const st = ctx.local(kState);
        if (st === undefined || st.mode === 'hit') return;
        const h = ctx.responseHeaders;
        if (st.store) st.capture = captureOf(ctx);
        if (st.capture === null) land(st, null);
        h.set('X-Cache', st.mode === 'miss' ? 'MISS' : 'BYPASS');
      },
      responseChunk(ctx, chunk) {
        const st = ctx.local(kState);
        const c = st?.capture;
        if (c == null) return chunk;
        c.size += chunk.length;
        if (c.size > maxEntry) {
          st!.capture = null;
          land(st!, null);
        } else c.chunks.push(chunk);
        return chunk;
      },
      responseEnd(ctx) {
        const st = ctx.local(kState);
        const c = st?.capture;
        if (c == null) return undefined;
        st!.capture = null;
        const entry: CacheEntry = { ...c.head, body: ownCopy(c.chunks, c.size) };
        const varied = entry.vary.length > 0;
        const stored = store.set(varied ? st!.primary + entry.varyValues : st!.primary, entry, varied ? st!.primary : null);
        land(st!, entry);
        if (stored instanceof Promise) stored.catch(() => undefined);
        return undefined;
      },
      log(ctx) {
        const st = ctx.local(kState);
        if (st !== undefined) land(st, null);
      },
      close() {
        for (const f of flights.values()) clearTimeout(f.timer);
        store.release();
      },
      ready: store instanceof RedisStore ? { store: `redis ${redactRedisUrl(config.redis!.url)}`, wait: (signal) => redisReady(store.redis, signal) } : undefined,
    };

    /** Whether the response may be stored, and what of it; null when not. */
    function captureOf(ctx: PluginContext): Capture | null {
      if (!statuses.has(ctx.responseStatus)) return null;
      const h = ctx.responseHeaders;
      if (!cacheSetCookie && h.has('set-cookie')) return null;
      const d = parseCacheControl(h.getAll('cache-control').join(','));
      if (d.noStore || d.private || d.noCache) return null;
      const vary = varyNames(h.getAll('vary'));
      if (vary === null) return null;
      let ttl = freshnessSeconds(d, h.get('expires'), h.get('date'), defaultTtl);
      if (ttl === undefined) return null;
      ttl = Math.min(ttl, maxTtl);
      const ageText = h.get('age');
      const initialAge = ageText !== undefined && /^[0-9]+$/.test(ageText) ? Number(ageText) : 0;
      if (ttl <= initialAge) return null;
      const length = h.get('content-length');
      if (length !== undefined && Number(length) > maxEntry) return null;
      const headers: string[] = [];
      const raw = h.raw;
      for (let i = 0; i < raw.length; i += 2) if (!NOT_STORED.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
      const now = Date.now();
      return {
        head: {
          status: ctx.responseStatus,
          headers,
          storedAt: now,
          expiresAt: now + (ttl - initialAge) * 1000,
          initialAge,
          etag: h.get('etag'),
          lastModified: h.get('last-modified'),
          vary,
          varyValues: varyValues(ctx, vary),
          tags: surrogateKeys(h.get('surrogate-key')),
          path: ctx.path,
        },
        chunks: [],
        size: 0,
      };
    }
    return handler;
  },
};
