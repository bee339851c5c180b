// Turns a validated config into an immutable Snapshot: routes indexed, plugin chains
// built per route, upstreams resolved to pooled targets, durations in milliseconds.
import { Chain, type ChainEntry } from '../pipeline/chain.js';
import type { PluginHandler, PluginScope } from '../sdk/plugin.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { parsePathPattern, type PathPattern } from '../router/path-pattern.js';
import { Router } from '../router/router.js';
import { ListenerHosts } from '../router/listener-hosts.js';
import { ROUND_ROBIN } from '../upstream/balancer.js';
import { activeCheckPolicy, balancerSpec, dnsPolicy } from '../upstream/config.js';
import { DEFAULT_OUTLIER, HealthRegistry, type OutlierPolicy } from '../upstream/health.js';
import { buildUpstream, NO_DNS_ANSWERS, type DnsAnswers, type TargetSpec, type Upstream } from '../upstream/upstream.js';
import type { PoolRegistry, UpstreamPool } from '../upstream/pools.js';
import { GuardRegistry } from '../upstream/guard.js';
import { serviceGuard } from '../upstream/resilience-config.js';
import { compileUpstreamTls } from '../upstream/tls.js';
import { parseAddress, formatAddress } from '../base/address.js';
import { parseDuration } from '../base/duration.js';
import type { ListenerSpec, Snapshot } from './snapshot.js';
import type { CompiledRoute, RouteBackend, RouteEntry } from '../proxy/route.js';
import type { Limits } from '../proxy/snapshot.js';
import type { RetryCondition, RetryPolicy } from '../upstream/retry.js';
import type { Service } from '../upstream/service.js';
import type { RawBackend, RawConfig, RawHeaderEdits, RawService, RawSessionPersistence, RawUpstream, RawListener, RawTimeouts, RawTarget } from '../config/types.js';
import { BackendStates, stableId, WeightedBackends, type HeaderEdits } from '../upstream/backends.js';
import { compileQueryConditions } from '../router/query-match.js';
import { UpstreamCopyClient } from '../upstream/copy-client.js';
import type { CopyClient, CopyClientOptions } from '../sdk/copy-client.js';
import type { SessionPersistence } from '../proxy/session.js';
import { buildBlockList } from '../base/cidr.js';
import { ConsumerIndex } from '../consumers/index.js';
import { compilePortal } from '../portal/settings.js';
import { compileAccessLog, queryRedactor, redactionFor } from '../observability/access-log-format.js';
import { keyNamesIn } from '../plugins/auth/key-auth.js';
import { compileLogShipping } from '../observability/log-sink-config.js';
import { CompiledPlans } from '../plans/plans.js';
import { meteringSettings } from '../metering/config.js';
import { contractFor } from '../openapi/contracts.js';
import { DEFAULTS } from '../config/defaults.js';

export { DEFAULTS };

const ms = (text: string | undefined, fallback: string): number => parseDuration(text ?? fallback)!;

export interface CompileOptions {
  readonly registry: PluginRegistry;
  readonly pools: PoolRegistry;
  /** Target health that survives reloads; a fresh registry when absent (validate, routes, explain). */
  readonly health?: HealthRegistry;
  /** Circuit breakers and concurrency limiters that survive reloads; fresh ones when absent. */
  readonly guards?: GuardRegistry;
  /** The last good DNS answers for target host names and SRV services (none: names are dialled as written, services give no target). */
  readonly answers?: DnsAnswers;
  /** Weighted backends' round-robin progress that survives reloads; fresh state when absent. */
  readonly backendStates?: BackendStates;
  readonly version: number;
  readonly source: string;
}

export function compileConfig(config: RawConfig, opts: CompileOptions): { snapshot: Snapshot; pools: Set<UpstreamPool> } {
  const usedPools = new Set<UpstreamPool>();
  const handlers: Array<Pick<PluginHandler, 'close' | 'ready'>> = [];

  const health = opts.health ?? new HealthRegistry();
  const guards = opts.guards ?? new GuardRegistry();
  const backendStates = opts.backendStates ?? new BackendStates();
  const upstreamContext = { pools: opts.pools, health, usedPools, answers: opts.answers ?? NO_DNS_ANSWERS };

  const rawUpstreams = new Map((config.upstreams ?? []).map((u) => [u.name, u]));
  const upstreams = new Map<string, Upstream>();
  const services = new Map<string, Service>();

  /** The implicit upstreams of services declared with `url:` (not listed in snapshot.upstreams). */
  const serviceUpstreams = new Map<string, Upstream>();
  /** The services of routes' weighted backends: their upstreams are live like the services'. */
  const backendServices: Service[] = [];
  const upstreamFor = (s: Pick<RawService, 'name' | 'url' | 'upstream'>, connectTimeoutMs: number, urlName = `service:${s.name}`): Upstream => {
    if (s.url !== undefined) {
      const u = new URL(s.url);
      const name = urlName;
      const key = `${name}|${connectTimeoutMs}`;
      let up = serviceUpstreams.get(key);
      if (!up) {
        // URL has no origin for grpc:// (not a special scheme): scheme://host[:port] by hand.
        up = buildUpstream({ ...upstreamContext, name, targets: [{ url: `${u.protocol}//${u.host}` }], connectTimeoutMs, balancer: ROUND_ROBIN, outlier: DEFAULT_OUTLIER, activeCheck: null, tls: null });
        serviceUpstreams.set(key, up);
      }
      return up;
    }
    const key = `${s.upstream}|${connectTimeoutMs}`;
    let u = upstreams.get(key);
    if (!u) {
      const raw = rawUpstreams.get(s.upstream!)!;
      u = buildUpstream({ ...upstreamContext, name: raw.name, targets: raw.targets.map(targetSpec), connectTimeoutMs, balancer: balancerSpec(raw), outlier: outlierPolicy(raw), activeCheck: activeCheckPolicy(raw.healthcheck?.active), tls: compileUpstreamTls(raw.tls) });
      upstreams.set(key, u);
    }
    return u;
  };
  /** The upstreams plugins send copies of requests to (their targets' health, DNS and checks are kept like the services'). */
  const copyUpstreams = new Set<Upstream>();
  const openCopyClient = (o: CopyClientOptions): CopyClient => {
    const connectTimeoutMs = ms(undefined, DEFAULTS.connectTimeout);
    let upstream: Upstream;
    if ('upstream' in o.to) {
      const raw = rawUpstreams.get(o.to.upstream);
      // validate.ts refuses these for request-mirror; an extension learns it from create().
      if (raw === undefined) throw new Error(`no upstream named "${o.to.upstream}"`);
      if (raw.targets.some((t) => /^grpcs?(:|$)/i.test(t.url ?? t.scheme ?? 'http'))) throw new Error(`upstream "${raw.name}" has grpc targets; copies are HTTP/1.1 requests`);
      upstream = upstreamFor({ name: 'copies', upstream: raw.name }, connectTimeoutMs);
    } else {
      const origin = new URL(o.to.url).origin;
      upstream = upstreamFor({ name: 'copies', url: origin }, connectTimeoutMs, origin);
    }
    copyUpstreams.add(upstream);
    return new UpstreamCopyClient(upstream, o);
  };

  const plans = config.plans && config.plans.length > 0 ? new CompiledPlans(config.plans) : null;
  if (plans !== null) handlers.push(...plans.handlers);
  const chainFor = (scopes: Array<[PluginScope, Record<string, unknown> | undefined]>, withPlans = false): Chain => {
    // The most specific scope's config of a plugin wins (route over service over global).
    const chosen = new Map<string, [PluginScope, unknown]>();
    for (const [scope, map] of scopes) for (const [name, cfg] of Object.entries(map ?? {})) chosen.set(name, [scope, cfg]);
    if (chosen.size === 0 && !(withPlans && plans !== null)) return Chain.EMPTY;
    const entries: ChainEntry[] = [];
    for (const [name, [scope, cfg]] of chosen) {
      const plugin = opts.registry.get(name)!;
      let handler: PluginHandler;
      try {
        handler = plugin.create(cfg, { ...scope, openCopyClient });
      } catch (err) {
        // No snapshot will own the handlers made so far (their connections, timers): close them.
        for (const h of handlers) h.close?.();
        throw err;
      }
      handlers.push(handler);
      entries.push({ plugin, handler, scope: scope.kind });
    }
    if (withPlans && plans !== null) plans.apply(entries, chosen);
    return entries.length === 0 ? Chain.EMPTY : new Chain(entries);
  };

  const globalChain = chainFor([[{ kind: 'global' }, config.plugins]]);
  const entries: RouteEntry[] = [];
  let routeIndex = 0;
  (config.services ?? []).forEach((s, si) => {
    const connectTimeoutMs = ms(s.timeouts?.connect, DEFAULTS.connectTimeout);
    const service: Service = {
      name: s.name,
      upstream: upstreamFor(s, connectTimeoutMs),
      basePath: s.url !== undefined ? new URL(s.url).pathname.replace(/\/+$/, '') : '',
      connectTimeoutMs,
      readTimeoutMs: ms(s.timeouts?.read, DEFAULTS.readTimeout),
      websocketIdleMs: ms(s.timeouts?.websocket_idle, DEFAULTS.websocketIdleTimeout),
      retries: retryPolicy(s),
      totalTimeoutMs: s.timeouts?.total !== undefined ? parseDuration(s.timeouts.total)! : 0,
      guard: serviceGuard(s, guards),
      stats: { inflight: 0, retries: 0 },
    };
    services.set(s.name, service);
    const contract = contractFor(s.openapi);
    const openapi = contract !== null ? { openapi: contract } : {};
    (s.routes ?? []).forEach((r, ri) => {
      const name = r.name ?? `${s.name}-${ri}`;
      const chain = chainFor([
        [{ kind: 'global', ...openapi }, config.plugins],
        [{ kind: 'service', service: s.name, ...openapi }, s.plugins],
        [{ kind: 'route', service: s.name, route: name, ...openapi }, r.plugins],
      ], true);
      const declared: CompiledRoute = {
        name,
        index: routeIndex++,
        service: r.timeouts === undefined ? service : withRouteTimeouts(service, s, r.timeouts, upstreamFor),
        priority: r.priority ?? 0,
        methods: r.methods ? new Set(r.methods) : null,
        headers: r.headers && Object.keys(r.headers).length > 0 ? Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v] as const) : null,
        query: queryConditions(r.query),
        listeners: r.listeners !== undefined ? new Set(r.listeners) : null,
        backends: null,
        session: sessionPersistence(r.session_persistence, config.session_persistence?.secret),
        stripPath: r.strip_path ?? false,
        preserveHost: r.preserve_host ?? false,
        caseInsensitive: r.case_insensitive ?? false,
        ...(r.wildcard_labels === 'one' ? { oneLabelWildcard: true } : {}),
        chain,
        configPath: `services[${si}].routes[${ri}]`,
      };
      const route = r.backends === undefined ? declared : withBackends(declared, r.backends, backendStates, (b, connectMs) => upstreamFor({ name: s.name, ...b }, connectMs, b.url));
      for (const b of route.backends?.list ?? []) if (b.invalid !== true) backendServices.push(b.service);
      const patterns = r.paths.map((p) => parsePathPattern(p) as PathPattern);
      for (const host of r.hosts ?? [null]) for (const pattern of patterns) entries.push({ route, host, pattern });
    });
  });

  const router = new Router(entries, { caseVariants: config.paths?.case_variants ?? 'reject' });
  const limits: Limits = {
    maxHeaderBytes: config.limits?.max_header_bytes ?? DEFAULTS.maxHeaderBytes,
    maxBodyBytes: config.limits?.max_body_bytes ?? DEFAULTS.maxBodyBytes,
    headerTimeoutMs: ms(config.limits?.header_timeout, DEFAULTS.headerTimeout),
    idleTimeoutMs: ms(config.limits?.idle_timeout, DEFAULTS.idleTimeout),
    requestTimeoutMs: ms(config.limits?.request_timeout, DEFAULTS.requestTimeout),
    maxConnections: config.limits?.max_connections ?? DEFAULTS.maxConnections,
  };
  // Key-auth key names anywhere in the config: redacted in the access log and in traces.
  const keyNames = [config.plugins, ...(config.services ?? []).flatMap((s) => [s.plugins, ...(s.routes ?? []).map((r) => r.plugins)])].flatMap(keyNamesIn);
  const snapshot: Snapshot = {
    version: opts.version,
    loadedAt: new Date(),
    source: opts.source,
    listeners: { proxy: proxyListeners(config), status: statusListener(config) },
    limits,
    paths: { escapedSlashes: config.paths?.escaped_slashes ?? 'reject', semicolons: config.paths?.semicolons ?? 'reject' },
    trustedProxies: config.trusted_proxies && config.trusted_proxies.length > 0 ? buildBlockList(config.trusted_proxies) : null,
    router,
    routes: router.ordered,
    services,
    backendServices,
    copyUpstreams: [...copyUpstreams],
    upstreams: new Map([...upstreams.values()].map((u) => [u.name, u])),
    dns: dnsPolicy(config.dns),
    globalChain,
    consumers: config.consumers && config.consumers.length > 0 ? new ConsumerIndex(config.consumers) : ConsumerIndex.EMPTY,
    accessLog: compileAccessLog(config.access_log, keyNames),
    logShipping: compileLogShipping(config, keyNames),
    redactQuery: queryRedactor(redactionFor(keyNames).queryParams),
    metricsPerConsumer: config.metrics?.per_consumer ?? false,
    metering: meteringSettings(config.metering),
    tracing: config.tracing
      ? {
          endpoint: config.tracing.endpoint,
          protocol: config.tracing.protocol ?? 'http/protobuf',
          serviceName: config.tracing.service_name ?? 'northgate',
          ratio: config.tracing.sampling?.ratio ?? 1,
          headers: config.tracing.headers ?? {},
          flushIntervalMs: ms(config.tracing.flush_interval, '1s'),
        }
      : null,
    drainTimeoutMs: ms(config.shutdown?.drain_timeout, DEFAULTS.drainTimeout),
    engine: config.engine ?? DEFAULTS.engine,
    portal: compilePortal(config),
    stats: { inflight: 0 },
    dispose() {
      for (const h of handlers) h.close?.();
    },
    stores: handlers.flatMap((h) => (h.ready === undefined ? [] : [h.ready])),
  };
  return { snapshot, pools: usedPools };
}

/**
 * A route's own timeouts: a copy of its service with those timeouts (and, for another connect
 * timeout, the pools that have it) that shares the service's stats, retry policy and guard.
 */
function withRouteTimeouts(service: Service, s: RawService, t: RawTimeouts, upstreamFor: (s: RawService, connectMs: number) => Upstream): Service {
  const connectTimeoutMs = t.connect !== undefined ? parseDuration(t.connect)! : service.connectTimeoutMs;
  return {
    ...service,
    upstream: connectTimeoutMs === service.connectTimeoutMs ? service.upstream : upstreamFor(s, connectTimeoutMs),
    connectTimeoutMs,
    readTimeoutMs: t.read !== undefined ? parseDuration(t.read)! : service.readTimeoutMs,
    totalTimeoutMs: t.total !== undefined ? parseDuration(t.total)! : service.totalTimeoutMs,
  };
}

function queryConditions(raw: Record<string, string> | undefined): CompiledRoute['query'] {
  if (raw === undefined || Object.keys(raw).length === 0) return null;
  const compiled = compileQueryConditions(raw);
  // validate.ts reports a pattern that does not compile, at its position.
  if (!Array.isArray(compiled)) throw new Error(`query.${compiled.name}: ${compiled.message}`);
  return compiled;
}

function sessionPersistence(raw: RawSessionPersistence | undefined, secret: string | undefined): SessionPersistence | null {
  if (raw === undefined) return null;
  // validate.ts requires session_persistence.secret when a route uses it.
  return { type: raw.type, name: raw.type === 'cookie' ? raw.name : raw.name.toLowerCase(), ttlMs: raw.ttl === undefined ? 0 : parseDuration(raw.ttl)!, secret: Buffer.from(secret!) };
}

/**
 * A route with weighted backends: each backend is the route's service with the backend's
 * upstream (or URL, whose path becomes the base path), its own timeouts and retries when it
 * sets them, and the service's guard and retry budget.
 */
function withBackends(route: CompiledRoute, raw: RawBackend[], states: BackendStates, upstreamFor: (b: RawBackend, connectMs: number) => Upstream): CompiledRoute {
  const base = route.service;
  const seen = new Map<string, number>();
  const list: RouteBackend[] = raw.map((b) => {
    const name = b.upstream ?? b.url ?? 'invalid';
    const occurrence = seen.get(name) ?? 0;
    seen.set(name, occurrence + 1);
    if (b.invalid === true) return { name, id: stableId(`${name}#${occurrence}`), weight: b.weight ?? 1, service: base, requestHeaders: null, invalid: true, route };
    const t = b.timeouts;
    const connectTimeoutMs = t?.connect !== undefined ? parseDuration(t.connect)! : base.connectTimeoutMs;
    const service: Service = {
      ...base,
      upstream: upstreamFor(b, connectTimeoutMs),
      basePath: b.url !== undefined ? new URL(b.url).pathname.replace(/\/+$/, '') : '',
      connectTimeoutMs,
      readTimeoutMs: t?.read !== undefined ? parseDuration(t.read)! : base.readTimeoutMs,
      totalTimeoutMs: t?.total !== undefined ? parseDuration(t.total)! : base.totalTimeoutMs,
      retries: b.retries !== undefined ? retryPolicy(b) : base.retries,
    };
    return { name, id: stableId(`${name}#${occurrence}`), weight: b.weight ?? 1, service, requestHeaders: headerEdits(b.headers?.request), route: { ...route, service } };
  });
  return { ...route, backends: new WeightedBackends(list, states.stateFor(route.name, list)) };
}

function headerEdits(e: RawHeaderEdits | undefined): HeaderEdits | null {
  if (e === undefined) return null;
  const add: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(e.add ?? {})) for (const value of Array.isArray(v) ? v : [v]) add.push([k.toLowerCase(), value]);
  const edits = { remove: (e.remove ?? []).map((n) => n.toLowerCase()), set: Object.entries(e.set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const), add };
  return edits.remove.length + edits.set.length + edits.add.length === 0 ? null : edits;
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

function retryPolicy(s: Pick<RawService, 'retries'>): RetryPolicy {
  const r = s.retries;
  const on = (r?.on ?? ['connect-failure']).map(String) as RetryCondition[];
  return {
    attempts: r?.attempts ?? 2,
    on: new Set(on),
    statuses: new Set(on.filter((c) => /^[0-9]+$/.test(c)).map(Number)),
    backoffBaseMs: parseDuration(r?.backoff?.base ?? '25ms')!,
    backoffMaxMs: parseDuration(r?.backoff?.max ?? '250ms')!,
    budgetPercent: r?.budget_percent ?? 20,
    nonIdempotent: r?.non_idempotent ?? false,
    replayBufferBytes: r?.replay_buffer ?? DEFAULTS.replayBuffer,
  };
}

function listenerSpec(address: string, raw?: RawListener): ListenerSpec {
  const a = parseAddress(address);
  if (typeof a === 'string') throw new Error(`invalid address ${address}: ${a}`);
  const t = raw?.tls;
  // File paths are read by the listener when it builds its SNI table (at start and on reload); PEM text is used as it is.
  const tls = t
    ? { certificates: t.certificates.map((c) => (c.cert_pem !== undefined ? { cert: c.cert_pem, key: c.key_pem!, inline: true } : { cert: c.cert!, key: c.key! })), minVersion: t.min_version ?? ('TLSv1.2' as const), clientCa: t.client_ca ?? null, requestCert: t.request_client_cert ?? t.client_ca !== undefined }
    : null;
  return { host: a.host, port: a.port, address: formatAddress(a.host, a.port), ...(raw?.name !== undefined ? { name: raw.name } : {}), tls, http2: raw?.http2 ?? false, redirectHttps: raw?.redirect_https === true ? 443 : (raw?.redirect_https ?? false), ...(raw?.sni_names !== undefined && tls !== null ? { sniNames: new ListenerHosts(Object.entries(raw.sni_names)) } : {}) };
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

/** A validated raw target: exactly one of url and srv. */
function targetSpec(t: RawTarget): TargetSpec {
  return t.srv !== undefined ? { srv: t.srv, ...(t.scheme !== undefined ? { scheme: t.scheme } : {}) } : { url: t.url!, ...(t.weight !== undefined ? { weight: t.weight } : {}) };
}
