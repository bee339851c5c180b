// The compiled, immutable form of a configuration. A reload builds a new Snapshot and
// swaps one reference; requests in flight keep the one they started with. Each domain
// defines the part it reads (the proxy's ProxySnapshot, the access log's, the portal's, …);
// the Snapshot is all of them at once.
import type { StoreReadiness } from '../sdk/plugin.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Service } from '../upstream/service.js';
import type { DnsPolicy } from '../upstream/dns.js';
import type { TracingConfig } from '../observability/tracing.js';
import type { AccessLogSnapshot } from '../observability/access-log.js';
import type { MetricsSnapshot } from '../observability/metrics.js';
import type { TracingSnapshot } from '../observability/tracing.js';
import type { LogShippingSnapshot } from '../observability/log-shipping.js';
import type { PortalSnapshot } from '../portal/server.js';
import type { MeteringSettings } from '../metering/config.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import type { RouteEntry } from '../proxy/route.js';
import type { Engine } from '../config/types.js';
import type { ListenerHosts } from '../router/listener-hosts.js';

export interface ListenerSpec {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** `listen.proxy[].name` (absent: unnamed). */
  readonly name?: string;
  /** PEM file paths or PEM text for a TLS listener, null for plain HTTP. */
  readonly tls: ListenerTls | null;
  /** HTTP/2: ALPN h2 beside HTTP/1.1 on TLS, h2c with prior knowledge beside HTTP/1.1 on plain HTTP. */
  readonly http2: boolean;
  /** A plain listener that answers every request with a 308 to https:// — false, or the port (443 is left out of the URL). */
  readonly redirectHttps: false | number;
  /** TLS: listener names by server name (`sni_names`); null: every connection is `name`. */
  readonly sniNames?: ListenerHosts | null;
}

export interface ListenerTls {
  /** The first is the default; the others are chosen by SNI from their SAN/CN names. */
  readonly certificates: ReadonlyArray<{ readonly cert: string; readonly key: string; /** cert and key are the PEM text, not file paths */ readonly inline?: boolean }>;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly clientCa: string | null;
  readonly requestCert: boolean;
}

export interface Snapshot extends ProxySnapshot, AccessLogSnapshot, MetricsSnapshot, TracingSnapshot, PortalSnapshot, LogShippingSnapshot {
  readonly version: number;
  readonly loadedAt: Date;
  readonly source: string;
  readonly listeners: { readonly proxy: readonly ListenerSpec[]; readonly status: ListenerSpec | null };
  /** Every route entry in match order (what `northgate routes` prints). */
  readonly routes: readonly RouteEntry[];
  readonly upstreams: ReadonlyMap<string, Upstream>;
  /** The services of routes' weighted backends (their upstreams' health, DNS and checks are kept like the services'). */
  readonly backendServices: readonly Service[];
  /** The upstreams plugins send copies of requests to (PluginScope.openCopyClient): live like the services' upstreams. */
  readonly copyUpstreams: readonly Upstream[];
  /** How target host names are resolved (the gateway's DnsResolver follows it). */
  readonly dns: DnsPolicy;
  /** Usage metering (docs/rate-limiting.md), or null when off. Read at start; a change needs a restart. */
  readonly metering: MeteringSettings | null;
  /** OpenTelemetry export, or null when tracing is off. Read at start; a change needs a restart. */
  readonly tracing: TracingConfig | null;
  readonly drainTimeoutMs: number;
  /** The HTTP/1.1 engine the config asks for. Read at start (listeners and pools are built with it); a change needs a restart. */
  readonly engine: Engine;
  /** Requests currently using this snapshot (the one mutable field: it decides when a retired snapshot is disposed). */
  readonly stats: { inflight: number };
  /** Called once the snapshot is retired and no request uses it any more. */
  dispose(): void;
  /** The stores its plugins decide with (PluginHandler.ready): /readyz waits for them at start. */
  readonly stores: readonly StoreReadiness[];
}
