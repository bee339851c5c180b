// Turns a validated config into an immutable Snapshot: routes indexed, plugin chains
// built per route, upstreams resolved to pooled targets, durations in milliseconds.
import type { Pool } from 'undici';
import { Chain, type ChainEntry } from '../pipeline/chain.js';
import type { PluginScope } from '../pipeline/plugin.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { parsePathPattern, type PathPattern } from '../router/path-pattern.js';
import { Router } from '../router/router.js';
import { RoundRobin } from '../upstream/balancer.js';
import { DEFAULT_OUTLIER, HealthRegistry, type OutlierPolicy } from '../upstream/health.js';
import type { PoolRegistry } from '../upstream/pools.js';
import { parseAddress, formatAddress } from './address.js';
import { parseDuration } from './duration.js';
import type { CompiledRoute, Limits, ListenerSpec, RouteEntry, Service, Snapshot, Target, Upstream, RetryCondition, RetryPolicy } from './snapshot.js';
import type { RawConfig, RawTarget, RawService, RawUpstream, RawListener } from './types.js';
import { buildBlockList } from './validate.js';
import { ConsumerIndex } from '../consumers/index.js';
import { compileAccessLog } from '../observability/access-log-format.js';

export const DEFAULTS = {
  proxy: '0.0.0.0:8000',
  status: '127.0.0.1:8100',
  maxHeaderBytes: 16_384,
  maxBodyBytes: 10 * 1024 * 1024,
  headerTimeout: '10s',
  idleTimeout: '60s',
  requestTimeout: '5m',
  maxConnections: 16_384,
  connectTimeout: '2s',
  readTimeout: '30s',
  drainTimeout: '30s',
} as const;

const ms = (text: string | undefined, fallback: string): number => parseDuration(text ?? fallback)!;

export interface CompileOptions {
  readonly registry: PluginRegistry;
  readonly pools: PoolRegistry;
  /** Target health that survives reloads; a fresh registry when absent (validate, routes, explain). */
  readonly health?: HealthRegistry;
  readonly version: number;
  readonly source: string;
}

export function compileConfig(config: RawConfig, opts: CompileOptions): { snapshot: Snapshot; pools: Set<Pool> } {
  const usedPools = new Set<Pool>();
  const handlers: Array<{ close?(): void }> = [];

  const health = opts.health ?? new HealthRegistry();
  const makeTargets = (upstreamName: string, targets: RawTarget[], connectTimeoutMs: number): Target[] =>
    targets.map((t) => {
      const u = new URL(t.url);
      const pool = opts.pools.acquire(u.origin, { connectTimeoutMs });
      usedPools.add(pool);
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      return { url: t.url, origin: u.origin, hostname: u.hostname, port, weight: t.weight ?? 1, dispatcher: pool, health: health.get(upstreamName, t.url) };
    });

  const rawUpstreams = new Map((config.upstreams ?? []).map((u) => [u.name, u]));
  const upstreams = new Map<string, Upstream>();
  const services = new Map<string, Service>();

  const chainFor = (scopes: Array<[PluginScope, Record<string, unknown> | undefined]>): Chain => {
    // The most specific scope's config of a plugin wins (route over service over global).
    const chosen = new Map<string, [PluginScope, unknown]>();
    for (const [scope, map] of scopes) for (const [name, cfg] of Object.entries(map ?? {})) chosen.set(name, [scope, cfg]);
    if (chosen.size === 0) return Chain.EMPTY;
    const entries: ChainEntry[] = [];
    for (const [name, [scope, cfg]] of chosen) {
      const plugin = opts.registry.get(name)!;
      const handler = plugin.create(cfg, scope);
      handlers.push(handler);
      entries.push({ plugin, handler, scope: scope.kind });
    }
    return new Chain(entries);
  };

  const globalChain = chainFor([[{ kind: 'global' }, config.plugins]]);
  const entries: RouteEntry[] = [];
  let routeIndex = 0;
  (config.services ?? []).forEach((s, si) => {
    const connectTimeoutMs = ms(s.timeouts?.connect, DEFAULTS.connectTimeout);
    let upstream: Upstream;
    let basePath = '';
    if (s.url !== undefined) {
      const u = new URL(s.url);
      basePath = u.pathname.replace(/\/+$/, '');
      const name = `service:${s.name}`;
      const targets = makeTargets(name, [{ url: u.origin }], connectTimeoutMs);
      upstream = { name, targets, balancer: new RoundRobin(targets), outlier: DEFAULT_OUTLIER };
    } else {
      const key = `${s.upstream}|${connectTimeoutMs}`;
      let u = upstreams.get(key);
      if (!u) {
        const raw = rawUpstreams.get(s.upstream!)!;
        const targets = makeTargets(raw.name, raw.targets, connectTimeoutMs);
        u = { name: raw.name, targets, balancer: new RoundRobin(targets), outlier: outlierPolicy(raw) };
        upstreams.set(key, u);
      }
      upstream = u;
    }
    const service: Service = {
      name: s.name,
      upstream,
      basePath,
      connectTimeoutMs,
      readTimeoutMs: ms(s.timeouts?.read, DEFAULTS.readTimeout),
      retries: retryPolicy(s),
      stats: { inflight: 0, retries: 0 },
    };
    services.set(s.name, service);
    (s.routes ?? []).forEach((r, ri) => {
      const name = r.name ?? `${s.name}-${ri}`;
      const chain = chainFor([
        [{ kind: 'global' }, config.plugins],
        [{ kind: 'service', service: s.name }, s.plugins],
        [{ kind: 'route', service: s.name, route: name }, r.plugins],
      ]);
      const route: CompiledRoute = {
        name,
        index: routeIndex++,
        service,
        priority: r.priority ?? 0,
        methods: r.methods ? new Set(r.methods) : null,
        headers: r.headers && Object.keys(r.headers).length > 0 ? Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v] as const) : null,
        stripPath: r.strip_path ?? false,
        preserveHost: r.preserve_host ?? false,
        chain,
        configPath: `services[${si}].routes[${ri}]`,
      };
      const patterns = r.paths.map((p) => parsePathPattern(p) as PathPattern);
      for (const host of r.hosts ?? [null]) for (const pattern of patterns) entries.push({ route, host, pattern });
    });
  });

  const router = new Router(entries);
  const limits: Limits = {
    maxHeaderBytes: config.limits?.max_header_bytes ?? DEFAULTS.maxHeaderBytes,
    maxBodyBytes: config.limits?.max_body_bytes ?? DEFAULTS.maxBodyBytes,
    headerTimeoutMs: ms(config.limits?.header_timeout, DEFAULTS.headerTimeout),
    idleTimeoutMs: ms(config.limits?.idle_timeout, DEFAULTS.idleTimeout),
    requestTimeoutMs: ms(config.limits?.request_timeout, DEFAULTS.requestTimeout),
    maxConnections: config.limits?.max_connections ?? DEFAULTS.maxConnections,
  };
  const snapshot: Snapshot = {
    version: opts.version,
    loadedAt: new Date(),
    source: opts.source,
    listeners: { proxy: proxyListeners(config), status: statusListener(config) },
    limits,
    trustedProxies: config.trusted_proxies && config.trusted_proxies.length > 0 ? buildBlockList(config.trusted_proxies) : null,
    router,
    routes: router.ordered,
    services,
    upstreams: new Map([...upstreams.values()].map((u) => [u.name, u])),
    globalChain,
    consumers: config.consumers && config.consumers.length > 0 ? new ConsumerIndex(config.consumers) : ConsumerIndex.EMPTY,
    accessLog: compileAccessLog(config.access_log),
    metricsPerConsumer: config.metrics?.per_consumer ?? false,
    tracing: config.tracing
      ? {
          endpoint: config.tracing.endpoint,
          serviceName: config.tracing.service_name ?? 'northgate',
          ratio: config.tracing.sampling?.ratio ?? 1,
          headers: config.tracing.headers ?? {},
          flushIntervalMs: ms(config.tracing.flush_interval, '1s'),
        }
      : null,
    drainTimeoutMs: ms(config.shutdown?.drain_timeout, DEFAULTS.drainTimeout),
    stats: { inflight: 0 },
    dispose() {
      for (const h of handlers) h.close?.();
    },
  };
  return { snapshot, pools: usedPools };
}

function outlierPolicy(u: RawUpstream): OutlierPolicy {
  const p = u.healthcheck?.passive;
  return {
    consecutiveFailures: p?.consecutive_failures ?? DEFAULT_OUTLIER.consecutiveFailures,
    baseEjectionMs: p?.base_ejection ? parseDuration(p.base_ejection)! : DEFAULT_OUTLIER.baseEjectionMs,
    maxEjectionMs: p?.max_ejection ? parseDuration(p.max_ejection)! : DEFAULT_OUTLIER.maxEjectionMs,
    maxEjectedPercent: p?.max_ejected_percent ?? DEFAULT_OUTLIER.maxEjectedPercent,
  };
}

function retryPolicy(s: RawService): RetryPolicy {
  const r = s.retries;
  return {
    attempts: r?.attempts ?? 2,
    on: new Set((r?.on ?? ['connect-failure']) as RetryCondition[]),
    backoffBaseMs: parseDuration(r?.backoff?.base ?? '25ms')!,
    backoffMaxMs: parseDuration(r?.backoff?.max ?? '250ms')!,
    budgetPercent: r?.budget_percent ?? 20,
    nonIdempotent: r?.non_idempotent ?? false,
  };
}

function listenerSpec(address: string, raw?: RawListener): ListenerSpec {
  const a = parseAddress(address);
  if (typeof a === 'string') throw new Error(`invalid address ${address}: ${a}`);
  const t = raw?.tls;
  // One certificate per listener for now (SNI selection arrives with the protocols issue).
  const tls = t
    ? { cert: t.certificates[0]!.cert, key: t.certificates[0]!.key, minVersion: t.min_version ?? ('TLSv1.2' as const), clientCa: t.client_ca ?? null, requestCert: t.request_client_cert ?? t.client_ca !== undefined }
    : null;
  return { host: a.host, port: a.port, address: formatAddress(a.host, a.port), tls };
}

function proxyListeners(c: RawConfig): ListenerSpec[] {
  const p = c.listen?.proxy ?? DEFAULTS.proxy;
  if (typeof p === 'string') return [listenerSpec(p)];
  return p.map((l) => (typeof l === 'string' ? listenerSpec(l) : listenerSpec(l.address, l)));
}

function statusListener(c: RawConfig): ListenerSpec | null {
  const s = c.listen?.status;
  if (s === null) return null;
  return listenerSpec(s ?? DEFAULTS.status);
}
