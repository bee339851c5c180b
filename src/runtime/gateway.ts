// One gateway process, the composition root: holds the live snapshot and the proxy
// listeners, swaps snapshots on reload and drains them. What it keeps per upstream is in
// upstream-state.ts; the portal, tracing and metering follow its lifecycle as features
// (features/). In worker mode the master owns the status listener.
import { randomUUID } from 'node:crypto';
import { reloadChannel } from '../base/events.js';
import type { buildConnector } from 'undici';
import { problemBody } from '../base/errors.js';
import { formatAddress } from '../base/address.js';
import { ConfigError } from '../base/problems.js';
import type { Snapshot, ListenerSpec } from '../compiler/snapshot.js';
import type { Engine, RawConfig } from '../config/types.js';
import type { MeteringSettings } from '../metering/config.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { RequestContext } from '../proxy/context.js';
import { handleRequest, type ProxyRuntime } from '../proxy/handler.js';
import { closeTunnels, handleUpgrade } from '../proxy/websocket.js';
import type { Logger } from '../base/logger.js';
import type { Portal } from '../portal/server.js';
import type { UsageSource } from '../portal/usage.js';
import { answerClientError } from './client-error.js';
import type { Feature } from './features/feature.js';
import { MeteringFeature } from './features/metering.js';
import { PortalFeature, servesPortal } from './features/portal.js';
import { TracingFeature } from './features/tracing.js';
import { LogShippingFeature } from './features/log-shipping.js';
import type { SinkStats } from '../observability/log-shipping.js';
import { Listener } from './listeners.js';
import { followListeners } from './kubernetes-listeners.js';
import { storesReady, STORE_WAIT_MS } from './readiness.js';
import { listenFailure } from './refusal.js';
import { UpstreamState } from './upstream-state.js';

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
  /**
   * The proxy listeners follow each reload (the Kubernetes modes: a Gateway listener added or
   * removed opens or closes a port); a config without `listen.proxy` then has none. Default:
   * the listeners of the first config, for the life of the process.
   */
  readonly followListeners?: boolean;
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
  readonly #upstreams: UpstreamState;
  readonly #listeners: Listener[] = [];
  /** Listener changes run one after the other (binding is asynchronous, reloads are not). */
  #listenerChanges: Promise<void> = Promise.resolve();
  readonly #retired = new Set<Snapshot>();
  #version = 0;
  #inflight = 0;
  #draining = false;
  #drained: (() => void) | null = null;
  #connections = 0;
  #lastConfig: RawConfig | null = null;
  #proxyBound: { host: string; port: number } | null = null;
  /** The HTTP/1.1 engine of the listeners and pools, from the first config (a reload keeps it). */
  #engine: Engine = 'node';
  /** This gateway's listeners: the meter counts only their requests (tests run several gateways in one process). */
  readonly #listenerInfos = new WeakSet<object>();
  readonly #portal: PortalFeature;
  readonly #tracing: TracingFeature;
  readonly #metering: MeteringFeature;
  readonly #logShipping: LogShippingFeature;
  /** Started, updated and stopped in this order. */
  readonly #features: readonly Feature[];

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
    this.#upstreams = new UpstreamState(opts.logger, () => this.#snapshot, opts.connect);
    this.#portal = new PortalFeature(this, {
      logger: opts.logger,
      configFile: opts.configFile ?? null,
      serve: servesPortal(opts.servePortal),
      ...(opts.portal?.usage ? { usage: opts.portal.usage } : {}),
      ...(opts.portal?.pollMs !== undefined ? { pollMs: opts.portal.pollMs } : {}),
      onConsumersChange: () => this.refreshConsumers(),
    });
    this.#tracing = new TracingFeature(opts.logger);
    this.#metering = new MeteringFeature(opts.logger, opts.configFile ?? null, (ctx) => this.#listenerInfos.has(ctx.listener));
    this.#logShipping = new LogShippingFeature(opts.logger, (ctx) => this.#listenerInfos.has(ctx.listener));
    this.#features = [this.#portal, this.#tracing, this.#metering, this.#logShipping];
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
    return this.#upstreams.targets(this.#snapshot);
  }

  /** Each service with a circuit breaker and its state (0 closed, 1 open, 2 half-open). */
  circuits(): Array<{ service: string; state: number }> {
    const out: Array<{ service: string; state: number }> = [];
    for (const s of this.#snapshot.services.values()) if (s.guard?.breaker) out.push({ service: s.name, state: s.guard.breaker.state });
    return out;
  }

  /** Span export counts (null: tracing off). */
  tracingSpans(): { exported: number; dropped: number; queued: number } | null {
    return this.#tracing.spans();
  }

  /** Delivery counts of each log sink ([] without sinks). */
  logSinks(): SinkStats[] {
    return this.#logShipping.stats();
  }

  onStart(ctx: RequestContext<Snapshot>): void {
    this.#inflight++;
    ctx.snapshot.stats.inflight++;
  }

  onFinish(ctx: RequestContext<Snapshot>): void {
    this.#inflight--;
    const s = ctx.snapshot;
    if (--s.stats.inflight === 0 && this.#retired.has(s)) this.#dispose(s);
    if (this.#inflight === 0 && this.#drained !== null) this.#drained();
  }

  /** The metering store this gateway writes to (null: metering off); read at start, like the meter. */
  get metering(): MeteringSettings | null {
    return this.#metering.settings;
  }

  /** Writes the metered usage aggregated so far (no-op without metering). */
  flushUsage(): Promise<void> {
    return this.#metering.flush();
  }

  /** Loads the first config; throws ConfigError when it is invalid. */
  load(): Snapshot {
    const config = this.#opts.loadConfig();
    this.#lastConfig = config;
    const { snapshot, retain } = this.#upstreams.build(this.#portal.withConsumers(config), this.#opts.registry, ++this.#version, this.#opts.source);
    this.#snapshot = snapshot;
    this.#engine = snapshot.engine;
    retain();
    this.#upstreams.follow(snapshot);
    for (const f of this.#features) f.start(snapshot, config);
    this.#opts.onSnapshot?.(snapshot);
    return snapshot;
  }

  /** Rebuilds the snapshot from the last loaded config, so a key made or revoked in the portal (here or in another process) applies. */
  refreshConsumers(): void {
    if (this.#lastConfig === null) return;
    this.#swap(this.#lastConfig, performance.now());
  }

  /** The bound portal listener, or null when the portal is off. */
  get portalAddress(): { host: string; port: number } | null {
    return this.#portal.address;
  }

  get portal(): Portal | null {
    return this.#portal.portal;
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
    for (const f of this.#features) await f.open?.();
    // Target host names get their first DNS answer before traffic (bounded by the resolver's timeout).
    await this.#upstreams.settled();
    const bound: BoundListener[] = [];
    const specs = this.#wantedListeners(this.#snapshot);
    for (const [i, spec] of specs.entries()) {
      const listener = this.#createListener(spec);
      const port = await listener.listen().catch((err: unknown) => {
        throw listenFailure(specs.length === 1 ? 'listen.proxy' : `listen.proxy[${i}]`, formatAddress(spec.host, spec.port), err);
      });
      this.#listeners.push(listener);
      bound.push({ host: spec.host, port, ...(spec.tls !== null ? { tls: true } : {}) });
    }
    this.#proxyBound = bound[0] ?? null;
    for (const f of this.#features) await f.listen?.();
    return bound;
  }

  /**
   * Resolves once every store the config's plugins decide with answers, or after `maxWaitMs`
   * (then with a warning). Never rejects. For /readyz at start (a reload does not withdraw readiness).
   */
  storesReady(maxWaitMs = STORE_WAIT_MS): Promise<void> {
    return storesReady(this.#snapshot, this.#opts.logger, maxWaitMs);
  }

  /** Re-reads the config off the hot path and swaps it in atomically; the old one keeps serving on failure. */
  reload(): ReloadResult {
    const started = performance.now();
    let config: RawConfig;
    try {
      config = this.#opts.loadConfig();
    } catch (err) {
      return this.#failed(err, started);
    }
    try {
      const result = this.#swap(config, started);
      this.#lastConfig = config;
      return result;
    } catch (err) {
      // Compiling failed (a plugin's create() threw): nothing was swapped.
      return this.#failed(err, started);
    }
  }

  #failed(err: unknown, started: number): ReloadResult {
    const problems = err instanceof ConfigError ? err.lines() : [(err as Error).message];
    const failed = { ok: false, version: this.#snapshot.version, durationMs: performance.now() - started, problems };
    reloadChannel.publish(failed);
    return failed;
  }

  #swap(config: RawConfig, started: number): ReloadResult {
    const { snapshot, retain } = this.#upstreams.build(this.#portal.withConsumers(config), this.#opts.registry, ++this.#version, this.#opts.source);
    const old = this.#snapshot;
    this.#snapshot = snapshot;
    retain();
    this.#upstreams.retain(snapshot);
    this.#upstreams.follow(snapshot);
    for (const l of this.#listeners) l.applyLimits(snapshot.limits);
    if (this.#opts.followListeners === true) {
      const wanted = this.#wantedListeners(snapshot, config);
      this.#listenerChanges = this.#listenerChanges.then(() => this.#followListeners(wanted));
    } else {
      // Renewed certificates serve new handshakes at once (a listener keeps its place in the list).
      this.#listeners.forEach((l, i) => {
        const spec = snapshot.listeners.proxy[i];
        if (spec === undefined || spec.address !== l.spec.address) return;
        l.updateTls(spec.tls, (message) => this.#opts.logger.error({ type: 'reload' }, message));
        l.updateSniNames(spec.sniNames ?? null);
      });
    }
    this.#opts.onSnapshot?.(snapshot);
    if (old.stats.inflight === 0) this.#dispose(old);
    else this.#retired.add(old);
    if (this.#opts.followListeners !== true && listenersChanged(old, snapshot)) this.#opts.logger.warn({ type: 'reload' }, 'listener addresses changed in the config; they take effect on restart');
    if (snapshot.engine !== old.engine && snapshot.engine !== this.#engine) this.#opts.logger.warn({ type: 'reload' }, `engine changed in the config to ${snapshot.engine}; ${this.#engine} keeps serving until a restart`);
    for (const f of this.#features) f.update?.(snapshot, old);
    const result = { ok: true, version: snapshot.version, durationMs: performance.now() - started, routes: snapshot.routes.length };
    reloadChannel.publish(result);
    return result;
  }

  /** The proxy listeners a snapshot asks for: with followListeners, none when its config names none. */
  #wantedListeners(snapshot: Snapshot, config = this.#lastConfig): readonly ListenerSpec[] {
    if (this.#opts.followListeners === true && config?.listen?.proxy === undefined) return [];
    return snapshot.listeners.proxy;
  }

  /** Resolves once the listener changes of every reload so far are done (opened, closed). */
  listenersSettled(): Promise<void> {
    return this.#listenerChanges;
  }

  /** The bound addresses of the proxy listeners now open. */
  get boundListeners(): readonly BoundListener[] {
    return this.#listeners.map((l) => ({ host: l.spec.host, port: Number(l.info.portText), ...(l.spec.tls !== null ? { tls: true } : {}) }));
  }

  /** Opens and closes proxy listeners to match `wanted` (kubernetes-listeners.ts). */
  async #followListeners(wanted: readonly ListenerSpec[]): Promise<void> {
    await followListeners({ open: this.#listeners, create: (spec) => this.#createListener(spec), draining: () => this.#draining, logger: this.#opts.logger }, wanted);
    const first = this.#listeners[0];
    this.#proxyBound = first === undefined ? null : { host: first.spec.host, port: Number(first.info.portText) };
  }

  /** Stops accepting, lets in-flight requests finish until the deadline, then closes everything. */
  async drain(deadlineMs = this.#snapshot.drainTimeoutMs): Promise<{ unfinished: number }> {
    const started = Date.now();
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
    this.#upstreams.stop();
    for (const l of this.#listeners) l.closeAll();
    closeTunnels(this);
    for (const f of this.#features) await f.stop(deadlineMs - (Date.now() - started));
    await this.#upstreams.closePools();
    // Plugins release what they hold (Redis, PostgreSQL and SQLite connections).
    for (const s of [...this.#retired, this.#snapshot]) this.#dispose(s);
    return { unfinished };
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
    const listener = new Listener(spec, this.#snapshot.limits, {
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
      onListenerInfo: (info) => this.#listenerInfos.add(info),
    }, this.#engine);
    this.#listenerInfos.add(listener.info);
    return listener;
  }
}

function listenersChanged(a: Snapshot, b: Snapshot): boolean {
  const key = (s: Snapshot) => s.listeners.proxy.map((l) => l.address).join(',') + '|' + (s.listeners.status?.address ?? '');
  return key(a) !== key(b);
}
