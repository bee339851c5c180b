// The config file's shape after schema validation (docs/configuration.md is the reference).
// Each section's schema and compiled form live with its feature; its raw shape lives here,
// so that this file imports nothing but the SDK's types. A plugin's config is the plugin's
// own type: here it is unknown.
import type { JwtAlgorithm } from '../sdk/consumer.js';

/** Exactly one of `url` (with `weight`) and `srv` (with `scheme`), as validate checks. */
export interface RawTarget { url?: string; weight?: number; srv?: string; scheme?: 'http' | 'https' | 'grpc' | 'grpcs' }
export interface RawUpstream {
  name: string;
  balancer?: RawBalancerName | RawBalancer;
  targets: RawTarget[];
  tls?: RawUpstreamTls;
  healthcheck?: { passive?: { consecutive_failures?: number; base_ejection?: string; max_ejection?: string; max_ejected_percent?: number }; active?: RawActiveCheck };
}
export type RawBalancerName = 'round-robin' | 'least-connections' | 'random-two-choices' | 'consistent-hash';
export interface RawBalancer { algorithm: RawBalancerName; hash_on?: 'header' | 'cookie' | 'ip' | 'consumer' | 'path' | 'query_arg'; name?: string; decay?: string; table_size?: number }
export interface RawActiveCheck {
  path?: string;
  interval?: string;
  timeout?: string;
  concurrency?: number;
  host?: string;
  healthy?: { successes?: number; statuses?: number[] };
  unhealthy?: { failures?: number; timeouts?: number; statuses?: number[] };
}
export interface RawDns { servers?: string[]; timeout?: string; attempts?: number; min_ttl?: string; max_ttl?: string; hosts_ttl?: string; error_retry?: string }
export interface RawUpstreamTls { ca?: string; servername?: string; client_cert?: string; client_key?: string; verify?: boolean; expect_san?: string }
export interface RawRoute {
  name?: string;
  paths: string[];
  hosts?: string[];
  /** What a "*." host covers: one label ("*.a.com": "x.a.com" only, as an Ingress reads it) or one or more (the default). */
  wildcard_labels?: 'one' | 'one-or-more';
  methods?: string[];
  headers?: Record<string, string[]>;
  strip_path?: boolean;
  preserve_host?: boolean;
  case_insensitive?: boolean;
  priority?: number;
  timeouts?: RawTimeouts;
  /** Query parameters the request must carry: a value, or "~REGEX" (docs/routing.md). */
  query?: Record<string, string>;
  /** Served only on the proxy listeners of these names (`listen.proxy[].name`). */
  listeners?: string[];
  /** Weighted backends instead of the service's upstream (docs/traffic.md). */
  backends?: RawBackend[];
  session_persistence?: RawSessionPersistence;
  plugins?: Record<string, unknown>;
  /** Log sinks (names from `log_sinks`) this route's requests go to, besides the global ones and its service's. */
  log_sinks?: string[];
}
export interface RawHeaderEdits { add?: Record<string, string | string[]>; set?: Record<string, string>; remove?: string[] }
export interface RawBackend {
  upstream?: string;
  url?: string;
  /** A backend that cannot be served: its share of the requests is answered 500 (neither upstream nor url). */
  invalid?: true;
  weight?: number;
  headers?: { request?: RawHeaderEdits };
  timeouts?: Omit<RawTimeouts, 'websocket_idle'>;
  retries?: RawService['retries'];
}
export interface RawSessionPersistence { type: 'cookie' | 'header'; name: string; ttl?: string }
export interface RawTimeouts { connect?: string; read?: string; total?: string; /** services only */ websocket_idle?: string }
export interface RawService {
  name: string;
  upstream?: string;
  url?: string;
  timeouts?: RawTimeouts;
  retries?: { attempts?: number; on?: Array<string | number>; backoff?: { base?: string; max?: string }; budget_percent?: number; non_idempotent?: boolean; replay_buffer?: number };
  circuit_breaker?: { failure_ratio?: number; min_requests?: number; window?: string; open_for?: string; half_open_requests?: number };
  max_concurrent?: number;
  queue?: { size?: number; timeout?: string };
  adaptive_concurrency?: { sample_window?: string; min_rtt_interval?: string; min_rtt_samples?: number; buffer_percent?: number; min_limit?: number; max_limit?: number };
  plugins?: Record<string, unknown>;
  log_sinks?: string[];
  routes?: RawRoute[];
  portal?: RawServicePortal;
  openapi?: RawServiceOpenApi;
}
/** `services[].openapi`: the service's OpenAPI document (docs/openapi.md). */
export interface RawServiceOpenApi {
  /** The document's file, relative to the config file. */
  spec: string;
  /** Generate a route per operation. */
  routes?: boolean;
  /** Gateway path prefix before the document's paths, e.g. "/orders". */
  prefix?: string;
}
export interface RawListener {
  address: string;
  /** Names the listener for `routes[].listeners`. */
  name?: string;
  /** A certificate is PEM file paths (`cert`, `key`) or the PEM text itself (`cert_pem`, `key_pem`). */
  tls?: { certificates: Array<{ cert?: string; key?: string; cert_pem?: string; key_pem?: string }>; min_version?: 'TLSv1.2' | 'TLSv1.3'; client_ca?: string; request_client_cert?: boolean };
  http2?: boolean;
  redirect_https?: boolean | number;
  /** TLS: connections whose server name matches one of these hostnames are served as the listener of that name (docs/configuration.md). */
  sni_names?: Record<string, string>;
}

/** The HTTP/1.1 implementation of the proxy listeners and the http(s) upstream pools (docs/configuration.md). */
export type Engine = 'node' | 'native';

export interface RawConfig {
  _format_version: '1';
  engine?: Engine;
  /** Modules whose default export is a Plugin or an array of them (paths relative to the config file, or packages). */
  extensions?: string[];
  portal?: RawPortal;
  listen?: { proxy?: string | Array<string | RawListener>; status?: string | null; admin?: string | null; portal?: string | null };
  mode?: 'file' | 'database';
  store?: { url: string; poll_interval?: string; node_id?: string };
  admin?: { token?: string; max_body_bytes?: number; allowed_hosts?: string[] };
  trusted_proxies?: string[];
  paths?: { escaped_slashes?: 'reject' | 'keep'; semicolons?: 'reject' | 'strip'; case_variants?: 'reject' | 'allow' };
  limits?: {
    max_header_bytes?: number;
    max_body_bytes?: number;
    header_timeout?: string;
    idle_timeout?: string;
    request_timeout?: string;
    max_connections?: number;
  };
  shutdown?: { drain_timeout?: string };
  access_log?: { enabled?: boolean; path?: string; fields?: string[] };
  metrics?: { per_consumer?: boolean };
  log_sinks?: RawLogSink[];
  tracing?: { endpoint: string; protocol?: 'http/protobuf' | 'http/json'; service_name?: string; sampling?: { ratio?: number }; headers?: Record<string, string>; flush_interval?: string };
  dns?: RawDns;
  /** The key that signs session-persistence cookies and headers (docs/traffic.md). */
  session_persistence?: { secret: string };
  upstreams?: RawUpstream[];
  services?: RawService[];
  consumers?: RawConsumer[];
  plans?: RawPlan[];
  metering?: RawMetering;
  plugins?: Record<string, unknown>;
}

/** `log_sinks[]`: one shape for every type; which keys a type takes is checked by src/observability/log-sink-config.ts. */
export interface RawLogSink {
  name: string;
  type: 'http' | 'statsd' | 'syslog' | 'otlp-logs';
  /** Every request (default), or only those of the services and routes that name the sink. */
  global?: boolean;
  fields?: string[];
  batch?: { max_events?: number; max_bytes?: number; interval?: string };
  queue?: { max_events?: number };
  retry?: { base_delay?: string; max_delay?: string };
  timeout?: string;
  /** http and otlp-logs */
  url?: string;
  format?: 'ndjson' | 'json_array';
  headers?: Record<string, string>;
  gzip?: boolean;
  /** otlp-logs */
  protocol?: 'http/protobuf' | 'http/json';
  service_name?: string;
  /** http and otlp-logs (https:// URLs), syslog (transport tls) */
  tls?: RawUpstreamTls;
  /** statsd and syslog: host:port */
  address?: string;
  /** statsd */
  prefix?: string;
  tags?: 'none' | 'dogstatsd';
  /** syslog */
  transport?: 'udp' | 'tcp' | 'tls';
  facility?: number;
  app_name?: string;
}


export interface RawKeyCredential { id?: string; key?: string; key_digest?: string; key_prefix?: string }
export interface RawBasicCredential { id?: string; username: string; password?: string; password_hash?: string }
export interface RawJwtCredential { id?: string; issuer?: string; key_id?: string; secret?: string; public_key?: string; algorithm: JwtAlgorithm }
export interface RawConsumer {
  username: string;
  id?: string;
  groups?: string[];
  plan?: string;
  credentials?: { 'key-auth'?: RawKeyCredential[]; 'basic-auth'?: RawBasicCredential[]; jwt?: RawJwtCredential[] };
}

/** `plans[]`: the limits are the rate-limit and quota plugins' configs (src/plans checks them with those plugins). */
export interface RawPlan {
  name: string;
  rate_limit?: unknown;
  quota?: unknown;
}

export interface RawMetering {
  enabled?: boolean;
  store?: string;
  table?: string;
  flush_interval?: string;
  max_rows?: number;
  /** A scheduled push of closed hourly usage buckets (src/metering/export.ts). */
  export?: { url: string; headers?: Record<string, string>; interval?: string; lookback?: string; timeout?: string; tls?: RawUpstreamTls };
}

export interface RawPortal {
  title?: string;
  brand?: { logo_url?: string; accent_color?: string };
  /** Where accounts, keys and sessions live (see portal/store/open.ts for the default). */
  store?: string;
  base_url?: string;
  url?: string;
  admins?: string[];
  self_service?: { plans?: string[] | false; sign_up?: boolean };
  session?: { ttl?: string; cookie_secure?: 'auto' | boolean };
  sign_in_limits?: { per_account?: number; per_ip?: number; window?: string };
  oidc?: { issuer: string; client_id: string; client_secret?: string; scopes?: string[]; label?: string };
}

export interface RawServicePortal {
  published?: boolean;
  title?: string;
  description?: string;
  openapi?: string;
  tags?: string[];
  versions?: string[];
}
