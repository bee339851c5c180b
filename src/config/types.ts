// The config file's shape after schema validation (docs/configuration.md is the reference).
import type { RawConsumer } from '../consumers/schema.js';
import type { RawPortal, RawServicePortal } from '../portal/schema.js';
import type { RawPlan } from '../plans/plans.js';
import type { RawMetering } from '../metering/config.js';

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
}
export interface RawListener {
  address: string;
  tls?: { certificates: Array<{ cert: string; key: string }>; min_version?: 'TLSv1.2' | 'TLSv1.3'; client_ca?: string; request_client_cert?: boolean };
  http2?: boolean;
  redirect_https?: boolean | number;
}

export interface RawConfig {
  _format_version: '1';
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
