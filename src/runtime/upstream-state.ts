// What the gateway keeps per upstream across reloads: connection pools, target health,
// circuit breakers and concurrency limiters (kept when their config is unchanged), and the
// background work that follows the live snapshot (DNS re-resolution, active health checks).
import type { buildConnector, Pool } from 'undici';
import type { Logger } from '../base/logger.js';
import { buildSnapshot } from '../compiler/load.js';
import type { Snapshot } from '../compiler/snapshot.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Engine, RawConfig } from '../config/types.js';
import { DEFAULTS } from '../config/defaults.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { ActiveHealthChecks } from '../upstream/active-health.js';
import { DnsResolver } from '../upstream/dns.js';
import { GuardRegistry } from '../upstream/guard.js';
import { BackendStates } from '../upstream/backends.js';
import { HealthRegistry } from '../upstream/health.js';
import { PoolRegistry } from '../upstream/pools.js';

export class UpstreamState {
  readonly #pools: PoolRegistry;
  /** Target health survives reloads (an ejected target stays ejected). */
  readonly #health = new HealthRegistry();
  readonly #guards = new GuardRegistry();
  /** Weighted backends' round-robin progress (kept while a route's backends are unchanged). */
  readonly #backendStates = new BackendStates();
  readonly #dns: DnsResolver;
  readonly #checks: ActiveHealthChecks;
  readonly #live: () => Snapshot;
  #engine: Engine | null = null;

  /**
   * `live`: the snapshot in service (DNS changes are applied to its targets); `connect`
   * opens upstream connections instead of TCP/TLS (northgate/testing's in-process upstreams).
   */
  constructor(logger: Logger, live: () => Snapshot, connect?: buildConnector.connector) {
    this.#live = live;
    this.#pools = new PoolRegistry(connect !== undefined ? { connect } : {});
    this.#dns = new DnsResolver(logger, () => this.#retainLive());
    this.#checks = new ActiveHealthChecks(logger);
  }

  /** Compiles `config` onto the pools, health and guards kept so far. */
  build(config: RawConfig, registry: PluginRegistry, version: number, source: string): { snapshot: Snapshot; retain(): void } {
    // The pools keep the engine of the first config: the listeners are built with it too.
    if (this.#engine === null) this.#pools.engine = this.#engine = config.engine ?? DEFAULTS.engine;
    const { snapshot, pools } = buildSnapshot(config, registry, this.#pools, version, source, this.#health, this.#dns, this.#guards, this.#backendStates);
    return { snapshot, retain: () => this.#pools.retain(pools) };
  }

  /** `next` is in service: forget the state of what it no longer uses. */
  retain(next: Snapshot): void {
    const services = [...next.services.values(), ...next.backendServices];
    this.#backendStates.retain();
    this.#health.retain(new Set(liveUpstreams(next).flatMap((u) => u.targets.map((t) => t.health))));
    this.#guards.retain(services.flatMap((s) => (s.guard === null ? [] : [s.guard])));
  }

  /** DNS and active checks follow the live snapshot: new upstreams start, gone ones stop, unchanged ones keep running. */
  follow(snapshot: Snapshot): void {
    const upstreams = liveUpstreams(snapshot);
    this.#dns.configure(snapshot.dns);
    this.#dns.track(upstreams);
    this.#checks.sync(upstreams);
  }

  /** Target host names get their first DNS answer (bounded by the resolver's timeout). */
  settled(): Promise<void> {
    return this.#dns.settled();
  }

  /** Every target of `snapshot`, with whether it may receive traffic. */
  targets(snapshot: Snapshot): Array<{ upstream: string; target: string; healthy: boolean }> {
    const seen = new Set<string>();
    const out: Array<{ upstream: string; target: string; healthy: boolean }> = [];
    const now = Date.now();
    for (const u of liveUpstreams(snapshot)) {
      for (const t of u.targets) {
        const key = `${u.name}|${t.url}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ upstream: u.name, target: t.url, healthy: t.health.available(now) });
      }
    }
    return out;
  }

  /** Stops the background work (at drain). */
  stop(): void {
    this.#checks.stopAll();
    this.#dns.stop();
  }

  closePools(): Promise<void> {
    return this.#pools.closeAll();
  }

  /** DNS changed some targets: close the pools and forget the state of addresses no longer used. */
  #retainLive(): void {
    const targets = liveUpstreams(this.#live()).flatMap((u) => u.targets);
    this.#pools.retain(new Set(targets.map((t) => t.dispatcher as Pool)));
    this.#health.retain(new Set(targets.map((t) => t.health)));
  }
}

/** The distinct upstreams of a snapshot (services defined by `url:` and those copies go to included). */
function liveUpstreams(snapshot: Snapshot): Upstream[] {
  return [...new Set([...[...snapshot.services.values(), ...snapshot.backendServices].map((s) => s.upstream), ...snapshot.copyUpstreams])];
}
