// The config file's shape after schema validation (docs/configuration.md is the reference).
import type { RawConsumer } from '../consumers/schema.js';

export interface RawTarget { url: string; weight?: number }
export interface RawUpstream {
  name: string;
  balancer?: 'round-robin';
  targets: RawTarget[];
  healthcheck?: { passive?: { consecutive_failures?: number; base_ejection?: string; max_ejection?: string; max_ejected_percent?: number } };
}
export interface RawRoute {
  name?: string;
  paths: string[];
  hosts?: string[];
  methods?: string[];
  headers?: Record<string, string[]>;
  strip_path?: boolean;
  preserve_host?: boolean;
  priority?: number;
  plugins?: Record<string, unknown>;
}
export interface RawService {
  name: string;
  upstream?: string;
  url?: string;
  timeouts?: { connect?: string; read?: string };
  retries?: { attempts?: number; on?: string[]; backoff?: { base?: string; max?: string }; budget_percent?: number; non_idempotent?: boolean };
  plugins?: Record<string, unknown>;
  routes?: RawRoute[];
}
export interface RawListener {
  address: string;
  tls?: { certificates: Array<{ cert: string; key: string }>; min_version?: 'TLSv1.2' | 'TLSv1.3'; client_ca?: string; request_client_cert?: boolean };
}

export interface RawConfig {
  _format_version: '1';
  listen?: { proxy?: string | Array<string | RawListener>; status?: string | null };
  trusted_proxies?: string[];
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
  tracing?: { endpoint: string; service_name?: string; sampling?: { ratio?: number }; headers?: Record<string, string>; flush_interval?: string };
  upstreams?: RawUpstream[];
  services?: RawService[];
  consumers?: RawConsumer[];
  plugins?: Record<string, unknown>;
}
