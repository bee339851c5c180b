// The config file's shape after schema validation (docs/configuration.md is the reference).
// Each section's schema and compiled form live with its feature; its raw shape lives here,
// so that this file imports nothing but the SDK's types. A plugin's config is the plugin's
// own type: here it is unknown.
import type { JwtAlgorithm } from '../sdk/consumer.js';

export interface RawTarget { url: string; weight?: number }
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
  methods?: string[];
  headers?: Record<string, string[]>;
  strip_path?: boolean;
  preserve_host?: boolean;
  case_insensitive?: boolean;
  priority?: number;
  timeouts?: RawTimeouts;
  plugins?: Record<string, unknown>;
}
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
  tls?: { certificates: Array<{ cert: string; key: string }>; min_version?: 'TLSv1.2' | 'TLSv1.3'; client_ca?: string; request_client_cert?: boolean };
  http2?: boolean;
  redirect_https?: boolean | number;
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
  tracing?: { endpoint: string; protocol?: 'http/protobuf' | 'http/json'; service_name?: string; sampling?: { ratio?: number }; headers?: Record<string, string>; flush_interval?: string };
  dns?: RawDns;
  upstreams?: RawUpstream[];
  services?: RawService[];
  consumers?: RawConsumer[];
  plans?: RawPlan[];
  metering?: RawMetering;
  plugins?: Record<string, unknown>;
}

/** The JWS algorithms a JWT credential may name. */

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
