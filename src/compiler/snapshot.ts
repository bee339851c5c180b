// The compiled, immutable form of a configuration. A reload builds a new Snapshot and
// swaps one reference; requests in flight keep the one they started with.
import type { PathPolicy } from '../proxy/request-path.js';
import type { BlockList } from 'node:net';
import type { Chain } from '../pipeline/chain.js';
import type { StoreReadiness } from '../sdk/plugin.js';
import type { Router } from '../router/router.js';
import type { PathPattern } from '../router/path-pattern.js';
import type { Balancer } from '../upstream/balancer.js';
import type { OutlierPolicy, TargetHealth } from '../upstream/health.js';
import type { ActiveCheckPolicy } from '../upstream/active-health.js';
import type { UpstreamDns } from '../upstream/upstream.js';
import type { DnsPolicy } from '../upstream/dns.js';
import type { Dispatcher } from 'undici';
import type { TracingConfig } from '../observability/tracing.js';
import type { AccessLogSpec } from '../observability/access-log-format.js';
import type { ConsumerIndex } from '../consumers/index.js';
import type { PortalSettings } from '../portal/settings.js';
import type { MeteringSettings } from '../metering/config.js';
import type { ServiceGuard } from '../upstream/guard.js';

export interface Target {
  readonly url: string;
  /** scheme://host:port, the key of its connection pool. */
  readonly origin: string;
  /** Host name and port of the origin, parsed once (for trace attributes). */
  readonly hostname: string;
  readonly port: number;
  readonly weight: number;
  readonly dispatcher: Dispatcher;
  /** Health and load (in flight, latency), kept across reloads. */
  readonly health: TargetHealth;
  /** τ of the latency EWMA its balancer reads (0: latency not tracked). */
  readonly rttDecayMs: number;
  /** The Host header for a target resolved from a host name ("name:port"), null otherwise. */
  readonly hostHeader: string | null;
}

export interface Upstream {
  readonly name: string;
  /** The live target set: DNS re-resolution replaces it, and the balancer, between reloads. */
  targets: readonly Target[];
  balancer: Balancer;
  readonly outlier: OutlierPolicy;
  /** Active health checks, null when off. */
  readonly activeCheck: ActiveCheckPolicy | null;
  /** Targets named by host name (resolved through DNS), null when every target is an IP address. */
  readonly dns: UpstreamDns | null;
}

export type RetryCondition = 'connect-failure' | 'reset' | 'timeout' | '502' | '503' | '504';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  readonly on: ReadonlySet<RetryCondition>;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Retries in flight may be at most this share of the service's requests in flight. */
  readonly budgetPercent: number;
  /** Retry non-idempotent methods (POST, PATCH) too. */
  readonly nonIdempotent: boolean;
  /** A request body up to this size is kept so that a retry can resend it (0: bodies are never retried). */
  readonly replayBufferBytes: number;
}

export interface Service {
  readonly name: string;
  readonly upstream: Upstream;
  /** Path prefix from the service URL ("" when none), without a trailing slash. */
  readonly basePath: string;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** A WebSocket tunnel with no frame either way for this long is closed. */
  readonly websocketIdleMs: number;
  readonly retries: RetryPolicy;
  /** Deadline across all attempts and backoffs, from the first attempt (0: none). A route may override it. */
  readonly totalTimeoutMs: number;
  /** Circuit breaker and concurrency limiter, or null when neither is configured. */
  readonly guard: ServiceGuard | null;
  /** Requests and retries in flight, for the retry budget (per snapshot). */
  readonly stats: { inflight: number; retries: number };
}

/** A route as declared: one per `routes[]` item, shared by its router entries. */
export interface CompiledRoute {
  readonly name: string;
  /** Declaration index across the whole file, the last tie-breaker. */
  readonly index: number;
  readonly service: Service;
  readonly priority: number;
  readonly methods: ReadonlySet<string> | null;
  readonly headers: ReadonlyArray<readonly [name: string, values: readonly string[]]> | null;
  readonly stripPath: boolean;
  readonly preserveHost: boolean;
  /** Literal path segments (and regexes) match in any letter case (docs/routing.md). */
  readonly caseInsensitive: boolean;
  readonly chain: Chain;
  /** Where in the file the route was declared, e.g. services[0].routes[1]. */
  readonly configPath: string;
}

/** One (host pattern × path pattern) of a route: what the router indexes and orders. */
export interface RouteEntry {
  readonly route: CompiledRoute;
  /** "api.example.com", "*.example.com", or null for any host. */
  readonly host: string | null;
  readonly pattern: PathPattern;
}

export interface Limits {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

export interface ListenerSpec {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** PEM file paths for a TLS listener, null for plain HTTP. */
  readonly tls: ListenerTls | null;
  /** HTTP/2: ALPN h2 beside HTTP/1.1 on TLS, h2c with prior knowledge beside HTTP/1.1 on plain HTTP. */
  readonly http2: boolean;
  /** A plain listener that answers every request with a 308 to https:// — false, or the port (443 is left out of the URL). */
  readonly redirectHttps: false | number;
}

export interface ListenerTls {
  /** The first is the default; the others are chosen by SNI from their SAN/CN names. */
  readonly certificates: ReadonlyArray<{ readonly cert: string; readonly key: string }>;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly clientCa: string | null;
  readonly requestCert: boolean;
}

export interface Snapshot {
  readonly version: number;
  readonly loadedAt: Date;
  readonly source: string;
  readonly listeners: { readonly proxy: readonly ListenerSpec[]; readonly status: ListenerSpec | null };
  readonly limits: Limits;
  /** How request paths are normalized before routing (src/proxy/request-path.ts). */
  readonly paths: PathPolicy;
  readonly trustedProxies: BlockList | null;
  readonly router: Router;
  /** Every route entry in match order (what `northgate routes` prints). */
  readonly routes: readonly RouteEntry[];
  readonly services: ReadonlyMap<string, Service>;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** How target host names are resolved (the gateway's DnsResolver follows it). */
  readonly dns: DnsPolicy;
  readonly globalChain: Chain;
  /** Consumers and their credentials (digests and hashes only), for auth plugins. */
  readonly consumers: ConsumerIndex;
  /** The compiled access log (fields → serializer, output), or null when it is off. */
  readonly accessLog: AccessLogSpec | null;
  /** Query text with the values of credential parameters (key-auth key names, access_token) [redacted]: for traces. */
  readonly redactQuery?: (text: string | undefined) => string | undefined;
  /** Label request counts with the consumer's username (opt-in: one series per consumer). */
  readonly metricsPerConsumer: boolean;
  /** Usage metering (docs/rate-limiting.md), or null when off. Read at start; a change needs a restart. */
  readonly metering: MeteringSettings | null;
  /** OpenTelemetry export, or null when tracing is off. Read at start; a change needs a restart. */
  readonly tracing: TracingConfig | null;
  readonly drainTimeoutMs: number;
  /** The developer portal (`portal:`), or null when it is off. */
  readonly portal: PortalSettings | null;
  /** Requests currently using this snapshot (the one mutable field: it decides when a retired snapshot is disposed). */
  readonly stats: { inflight: number };
  /** Called once the snapshot is retired and no request uses it any more. */
  dispose(): void;
  /** The stores its plugins decide with (PluginHandler.ready): /readyz waits for them at start. */
  readonly stores: readonly StoreReadiness[];
}
