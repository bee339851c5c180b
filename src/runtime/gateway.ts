// One gateway process: holds the live snapshot, the proxy listeners and the pools, and
// swaps snapshots on reload. In worker mode the master owns the status listener.
import { randomUUID } from 'node:crypto';
import { reloadChannel } from '../base/events.js';
import cluster from 'node:cluster';
import type { Socket } from 'node:net';
import type { buildConnector, Pool } from 'undici';
import { ERRORS, problemBody, type ErrorCode } from '../base/errors.js';
import { buildSnapshot } from '../compiler/load.js';
import { formatAddress } from '../base/address.js';
import { ConfigError } from '../base/problems.js';
import type { Snapshot, ListenerSpec } from '../compiler/snapshot.js';
import type { RawConfig } from '../config/types.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { RequestContext } from '../proxy/context.js';
import { handleRequest, type ProxyRuntime } from '../proxy/handler.js';
import { PoolRegistry } from '../upstream/pools.js';
import { HealthRegistry } from '../upstream/health.js';
import { GuardRegistry } from '../upstream/guard.js';
import { ActiveHealthChecks } from '../upstream/active-health.js';
import { DnsResolver } from '../upstream/dns.js';
import type { Upstream } from '../compiler/snapshot.js';
import { Tracing } from '../observability/tracing.js';
import { Meter } from '../metering/meter.js';
import { effectiveMetering, type MeteringSettings } from '../metering/config.js';
import { closeTunnels, handleUpgrade } from '../proxy/websocket.js';
import { CONNECT_REFUSED, Listener } from './listeners.js';
import { listenFailure, StartFailure } from './refusal.js';
import type { Logger } from '../base/logger.js';
import type { Portal } from '../portal/server.js';
import type { PortalData } from '../portal/store/open.js';
import type { UsageSource } from '../portal/usage.js';

export interface GatewayOptions {
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  /** Produces the config to (re)load: reads and validates the file, or returns the embedded one. */
  readonly loadConfig: () => RawConfig;
  readonly source: string;
  /** The config file (the portal's default SQLite file sits next to it); null or absent: the working directory. */
  readonly configFile?: string | null;
  /** Whether this process serves the portal listener (default: unless a cluster worker; the master picks one worker). */
  readonly servePortal?: boolean;
  /** A stand-in for the portal's usage source (tests); how often the portal's version is polled. */
  readonly portal?: { readonly usage?: UsageSource; readonly pollMs?: number };
  /** Called with each snapshot put in service (first load and every successful reload). */
  readonly onSnapshot?: (snapshot: Snapshot) => void;
  /** Opens upstream connections instead of TCP/TLS (northgate/testing's in-process upstreams). */
  readonly connect?: buildConnector.connector;
}

export interface ReloadResult {
  ok: boolean;
  version: number;
  durationMs: number;
  routes?: number;
  problems?: string[];
}

/** A bound proxy listener, as the start-up summary announces it. */
export interface BoundListener {
  readonly host: string;
  readonly port: number;
  /** A TLS listener (announced as https://). */
  readonly tls?: boolean;
}

export class Gateway implements ProxyRuntime {
  #snapshot!: Snapshot;
  readonly #opts: GatewayOptions;
  readonly #pools: PoolRegistry;
  /** Target health survives reloads (an ejected target stays ejected). */
  readonly #health = new HealthRegistry();
  /** Circuit breakers and concurrency limiters survive reloads when their config is unchanged. */
  readonly #guards = new GuardRegistry();
  readonly #listeners: Listener[] = [];
  readonly #retired = new Set<Snapshot>();
  #version = 0;
  #inflight = 0;
  #draining = false;
  #drained: (() => void) | null = null;
  #connections = 0;
  #tracing: Tracing | null = null;
  /** The developer portal's listener, in the one process that serves it. */
  #portal: Portal | null = null;
  /** The portal's accounts, keys and sessions (every process when `portal:` is configured): its accounts and keys are merged into the consumers. */
  #portalData: PortalData | null = null;
  #portalBound: { host: string; port: number } | null = null;
  #lastConfig: RawConfig | null = null;
  #proxyBound: { host: string; port: number } | null = null;
  #meter: Meter | null = null;
  /** What the meter writes to: `metering:`, or the portal's default store (effectiveMetering). */
  #metering: MeteringSettings | null = null;
  /** This gateway's listeners: the meter counts only their requests (tests run several gateways in one process). */
  readonly #listenerInfos = new WeakSet<object>();
  /** Background work per upstream that follows the live snapshot: DNS re-resolution and active health checks. */
  readonly #dns: DnsResolver;
  readonly #checks: ActiveHealthChecks;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
    this.#pools = new PoolRegistry(opts.connect !== undefined ? { connect: opts.connect } : {});
    this.#dns = new DnsResolver(opts.logger, () => this.#retainLive());
    this.#checks = new ActiveHealthChecks(opts.logger);
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get openConnections(): number {
    return this.#connections;
  }

  /** Every target of the live config, with whether it may receive traffic. */
  targets(): Array<{ upstream: string; target: string; healthy: boolean }> {
    const seen = new Set<string>();
    const out: Array<{ upstream: string; target: string; healthy: boolean }> = [];
    const now = Date.now();
    for (const u of this.#liveUpstreams()) {
      for (const t of u.targets) {
        const key = `${u.name}|${t.url}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ upstream: u.name, target: t.url, healthy: t.health.available(now) });
      }
    }
    return out;
  }

  /** Each service with a circuit breaker and its state (0 closed, 1 open, 2 half-open). */
  circuits(): Array<{ service: string; state: number }> {
    const out: Array<{ service: string; state: number }> = [];
    for (const s of this.#snapshot.services.values()) if (s.guard?.breaker) out.push({ service: s.name, state: s.guard.breaker.state });
    return out;
  }

  /** Span export counts (null: tracing off). */
  tracingSpans(): { exported: number; dropped: number; queued: number } | null {
    const e = this.#tracing?.exporter;
    return e === undefined ? null : { exported: e.exported, dropped: e.dropped, queued: e.queued };
  }

  onStart(ctx: RequestContext): void {
    this.#inflight++;
    ctx.snapshot.stats.inflight++;
  }

  onFinish(ctx: RequestContext): void {
    this.#inflight--;
    const s = ctx.snapshot;
    if (--s.stats.inflight === 0 && this.#retired.has(s)) this.#dispose(s);
    if (this.#inflight === 0 && this.#drained !== null) this.#drained();
  }

  /** The metering store this gateway writes to (null: metering off); read at start, like the meter. */
  get metering(): MeteringSettings | null {
    return this.#metering;
  }

  /** Writes the metered usage aggregated so far (no-op without metering). */
  flushUsage(): Promise<void> {
    return this.#meter?.flush() ?? Promise.resolve();
  }

  /** Loads the first config; throws ConfigError when it is invalid. */
  load(): Snapshot {
    const config = this.#opts.loadConfig();
    this.#lastConfig = config;
    const { snapshot, pools } = buildSnapshot(this.#withPortal(config), this.#opts.registry, this.#pools, ++this.#version, this.#opts.source, this.#health, this.#dns.addresses, this.#guards);
    this.#snapshot = snapshot;
    this.#pools.retain(pools);
    this.#followSnapshot();
    if (snapshot.tracing !== null) this.#tracing = new Tracing(snapshot.tracing, this.#opts.logger);
    this.#metering = effectiveMetering(config, this.#opts.configFile ?? null);
    if (this.#metering !== null) this.#meter = new Meter(this.#metering, this.#opts.logger, (ctx) => this.#listenerInfos.has(ctx.listener));
    this.#opts.onSnapshot?.(snapshot);
    return snapshot;
  }

  /** The portal's accounts and keys are consumers too (kept in the portal's database, see docs/portal.md). */
  #withPortal(config: RawConfig): RawConfig {
    if (this.#portalData === null) return config;
    return { ...config, consumers: [...(config.consumers ?? []), ...this.#portalData.directory.consumers()] };
  }

  /** Rebuilds the snapshot from the last loaded config, so a key made or revoked in the portal (here or in another process) applies. */
  refreshConsumers(): void {
    if (this.#lastConfig === null) return;
    this.#swap(this.#lastConfig, performance.now());
  }

  /** The bound portal listener, or null when the portal is off. */
  get portalAddress(): { host: string; port: number } | null {
    return this.#portalBound;
  }

  get portal(): Portal | null {
    return this.#portal;
  }

  owns(ctx: RequestContext): boolean {
    return this.#listenerInfos.has(ctx.listener);
  }

  proxyUrl(): string | null {
    const b = this.#proxyBound;
    if (b === null) return null;
    const host = b.host === '0.0.0.0' ? '127.0.0.1' : b.host === '::' ? '[::1]' : b.host.includes(':') ? `[${b.host}]` : b.host;
    return `${this.#snapshot.listeners.proxy[0]?.tls ? 'https' : 'http'}://${host}:${b.port}`;
  }

  /** Binds every proxy listener of the current snapshot. Resolves with their bound addresses. */
  async listen(): Promise<Array<BoundListener>> {
    if (this.#snapshot.portal !== null) await this.#openPortal();
    // Target host names get their first DNS answer before traffic (bounded by the resolver's timeout).
    await this.#dns.settled();
    const bound: BoundListener[] = [];
    const specs = this.#snapshot.listeners.proxy;
    for (const [i, spec] of specs.entries()) {
      const listener = this.#createListener(spec);
      const port = await listener.listen().catch((err: unknown) => {
        throw listenFailure(specs.length === 1 ? 'listen.proxy' : `listen.proxy[${i}]`, formatAddress(spec.host, spec.port), err);
      });
      this.#listeners.push(listener);
      bound.push({ host: spec.host, port, ...(spec.tls !== null ? { tls: true } : {}) });
    }
    this.#proxyBound = bound[0] ?? null;
    if (this.#portal !== null) {
      const p = await this.#portal.listen().catch((err: unknown) => {
        throw listenFailure('listen.portal', this.#lastConfig?.listen?.portal ?? 'listen.portal', err);
      });
      this.#portalBound = p;
      this.#opts.logger.info({ type: 'portal', url: `http://${formatAddress(p.host, p.port)}` }, 'developer portal listening');
    }
    return bound;
  }

  /**
   * Resolves once every store the config's plugins decide with answers (a rate limit's Redis,
   * a quota's PostgreSQL), or after `maxWaitMs`, then with a warning naming those that did not:
   * the node is ready anyway, and their plugins' on_store_error applies until they answer.
   * Never rejects. For /readyz at start (a reload does not withdraw readiness).
   */
  async storesReady(maxWaitMs = STORE_WAIT_MS): Promise<void> {
    const stores = this.#snapshot.stores;
    if (stores.length === 0) return;
    const started = performance.now();
    const abort = new AbortController();
    const outstanding = new Set(stores);
    const all = Promise.all(stores.map((s) => s.wait(abort.signal).then(() => void outstanding.delete(s), () => undefined)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    clearTimeout(timer);
    abort.abort();
    if (outstanding.size === 0) return;
    const names = [...new Set([...outstanding].map((s) => s.store))];
    this.#opts.logger.warn(
      { type: 'readiness', stores: names, waited_ms: Math.round(performance.now() - started) },
      `ready without ${names.join(', ')}: no answer within ${maxWaitMs / 1000} s; the plugins using it apply on_store_error until it answers`,
    );
  }

  /** Re-reads the config off the hot path and swaps it in atomically; the old one keeps serving on failure. */
  reload(): ReloadResult {
    const started = performance.now();
    let config: RawConfig;
    try {
      config = this.#opts.loadConfig();
    } catch (err) {
      const problems = err instanceof ConfigError ? err.lines() : [(err as Error).message];
      const failed = { ok: false, version: this.#snapshot.version, durationMs: performance.now() - started, problems };
      reloadChannel.publish(failed);
      return failed;
    }
    this.#lastConfig = config;
    return this.#swap(config, started);
  }

  #swap(config: RawConfig, started: number): ReloadResult {
    const { snapshot, pools } = buildSnapshot(this.#withPortal(config), this.#opts.registry, this.#pools, ++this.#version, this.#opts.source, this.#health, this.#dns.addresses, this.#guards);
    const old = this.#snapshot;
    this.#snapshot = snapshot;
    this.#pools.retain(pools);
    this.#health.retain(new Set([...snapshot.services.values()].flatMap((s) => s.upstream.targets.map((t) => t.health))));
    this.#guards.retain([...snapshot.services.values()].flatMap((s) => (s.guard === null ? [] : [s.guard])));
    this.#followSnapshot();
    this.#applyLimits();
    // Renewed certificates serve new handshakes at once (a listener keeps its place in the list).
    this.#listeners.forEach((l, i) => {
      const spec = snapshot.listeners.proxy[i];
      if (spec !== undefined && spec.address === l.spec.address) l.updateTls(spec.tls, (message) => this.#opts.logger.error({ type: 'reload' }, message));
    });
    this.#opts.onSnapshot?.(snapshot);
    if (old.stats.inflight === 0) this.#dispose(old);
    else this.#retired.add(old);
    const changed = listenersChanged(old, snapshot);
    if (changed) this.#opts.logger.warn({ type: 'reload' }, 'listener addresses changed in the config; they take effect on restart');
    if (JSON.stringify(old.metering) !== JSON.stringify(snapshot.metering)) this.#opts.logger.warn({ type: 'reload' }, 'metering settings changed in the config; they take effect on restart');
    if (JSON.stringify(old.tracing) !== JSON.stringify(snapshot.tracing)) this.#opts.logger.warn({ type: 'reload' }, 'tracing settings changed in the config; they take effect on restart');
    const result = { ok: true, version: snapshot.version, durationMs: performance.now() - started, routes: snapshot.routes.length };
    reloadChannel.publish(result);
    return result;
  }

  /** Stops accepting, lets in-flight requests finish until the deadline, then closes everything. */
  async drain(deadlineMs = this.#snapshot.drainTimeoutMs): Promise<{ unfinished: number }> {
    this.#draining = true;
    for (const l of this.#listeners) l.close();
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const unfinished = this.#inflight;
    this.#checks.stopAll();
    this.#dns.stop();
    for (const l of this.#listeners) l.closeAll();
    closeTunnels(this);
    await this.#portal?.close();
    await this.#portalData?.close().catch((err: unknown) => this.#opts.logger.error({ err, type: 'portal' }, 'closing the portal store failed'));
    await this.#pools.closeAll();
    // Export the spans still queued (bounded by the exporter's own timeout).
    await this.#tracing?.shutdown().catch(() => undefined);
    // Write the usage of the last interval (bounded by the meter's own deadline).
    await this.#meter?.close();
    // Plugins release what they hold (Redis, PostgreSQL and SQLite connections).
    for (const s of [...this.#retired, this.#snapshot]) this.#dispose(s);
    return { unfinished };
  }

  /**
   * Every process opens the portal's store and follows it (its keys are consumers here);
   * one process serves the listener. Loaded only when configured: a gateway without a
   * portal never imports it. Done before the proxy listens, so that the first request
   * knows the keys and the portal's usage count sees every request.
   */
  async #openPortal(): Promise<void> {
    const { openPortalData, portalStoreUrl } = await import('../portal/store/open.js');
    const url = portalStoreUrl(this.#lastConfig!, this.#opts.configFile ?? null);
    try {
      this.#portalData = await openPortalData(url, {
        ...(this.#opts.portal?.pollMs !== undefined ? { pollMs: this.#opts.portal.pollMs } : {}),
        onError: (err) => this.#opts.logger.error({ err, type: 'portal' }, 'portal store error; the keys known so far keep working'),
      });
    } catch (err) {
      throw new StartFailure(`cannot open the portal store ${url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@')}: ${(err as Error).message}`, { cause: err });
    }
    this.#portalData.directory.onChange(() => this.refreshConsumers());
    this.refreshConsumers();
    if (!(this.#opts.servePortal ?? !cluster.isWorker)) return;
    const { Portal } = await import('../portal/server.js');
    this.#portal = new Portal(this, this.#opts.logger, { directory: this.#portalData.directory, sessions: this.#portalData.sessions, ...(this.#opts.portal?.usage ? { usage: this.#opts.portal.usage } : {}) });
  }

  /** The distinct upstreams of the live snapshot (services defined by `url:` included). */
  #liveUpstreams(): Upstream[] {
    return [...new Set([...this.#snapshot.services.values()].map((s) => s.upstream))];
  }

  /** DNS and active checks follow the live snapshot: new upstreams start, gone ones stop, unchanged ones keep running. */
  #followSnapshot(): void {
    const upstreams = this.#liveUpstreams();
    this.#dns.configure(this.#snapshot.dns);
    this.#dns.track(upstreams);
    this.#checks.sync(upstreams);
  }

  /** DNS changed some targets: close the pools and forget the state of addresses no longer used. */
  #retainLive(): void {
    const targets = this.#liveUpstreams().flatMap((u) => u.targets);
    this.#pools.retain(new Set(targets.map((t) => t.dispatcher as Pool)));
    this.#health.retain(new Set(targets.map((t) => t.health)));
  }

  #dispose(s: Snapshot): void {
    this.#retired.delete(s);
    try {
      s.dispose();
    } catch (err) {
      this.#opts.logger.error({ err }, 'error while disposing a retired config');
    }
  }

  #createListener(spec: ListenerSpec): Listener {
    const listener = this.#newListener(spec);
    this.#listenerInfos.add(listener.info);
    return listener;
  }

  #newListener(spec: ListenerSpec): Listener {
    return new Listener(spec, this.#snapshot.limits, {
      onRequest: (listener, req, res) => {
        try {
          handleRequest(this, listener, req, res);
        } catch (err) {
          // A bug in the core must cost one request, never the process.
          this.#opts.logger.error({ err }, 'uncaught error in request handling');
          if (res.headersSent) res.destroy();
          else res.writeHead(500, { 'content-type': 'application/problem+json' }).end(problemBody('internal-error', undefined, randomUUID()));
        }
      },
      onUpgrade: (listener, req, socket, head) => {
        try {
          handleUpgrade(this, listener, req, socket, head);
        } catch (err) {
          this.#opts.logger.error({ err }, 'uncaught error in upgrade handling');
          socket.destroy();
        }
      },
      onConnection: (socket) => {
        this.#connections++;
        socket.once('close', () => this.#connections--);
      },
      onClientError: answerClientError,
    });
  }

  #applyLimits(): void {
    const limits = this.#snapshot.limits;
    for (const l of this.#listeners) l.applyLimits(limits);
  }
}

/** How long readiness waits at start for the stores of the config's plugins. */
export const STORE_WAIT_MS = 5000;


function listenersChanged(a: Snapshot, b: Snapshot): boolean {
  const key = (s: Snapshot) => s.listeners.proxy.map((l) => l.address).join(',') + '|' + (s.listeners.status?.address ?? '');
  return key(a) !== key(b);
}

/**
 * A request line ending in a well-formed HTTP version other than 1.0 and 1.1 (RFC 9112 §2.3):
 * not supported (505) rather than malformed (400). With 1.0 or 1.1 the fault is elsewhere
 * (`PRI / HTTP/1.1`: llhttp wants PRI with 2.0 only).
 */
const WELL_FORMED_VERSION = / HTTP\/(?!1\.[01]$)[0-9]\.[0-9]$/;

/** The first line node's parser got (up to LF, without its CR); '' when unknown. */
function requestLine(err: NodeJS.ErrnoException): string {
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  if (!Buffer.isBuffer(raw)) return '';
  let end = raw.indexOf(10);
  if (end === -1) end = Math.min(raw.length, 8192);
  if (end > 0 && raw[end - 1] === 13) end--;
  return raw.subarray(0, end).toString('latin1');
}

/** Parser-level errors (malformed request, oversized head, slow head) answered as problem+json. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // A body that turns malformed after its response started (an upstream answering before it
  // read everything): an error head now would land inside that response. Cut it instead.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  let code: ErrorCode = 'bad-request';
  if (err.code === 'HPE_HEADER_OVERFLOW') code = 'headers-too-large';
  else if (err.code === 'HPE_INVALID_VERSION' && WELL_FORMED_VERSION.test(requestLine(err))) code = 'http-version-not-supported';
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') code = 'request-timeout';
  const spec = ERRORS[code];
  const detail = err.code === CONNECT_REFUSED ? 'CONNECT is not supported: the gateway is a reverse proxy' : code === 'bad-request' ? 'malformed HTTP request' : undefined;
  const body = problemBody(code, detail, randomUUID());
  socket.end(
    `HTTP/1.1 ${spec.status} ${spec.title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
