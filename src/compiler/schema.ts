// The JSON Schema of the config file. Plugin configs are validated by each plugin's own
// schema, composed in here so that every problem carries its full path.
import type { Plugin } from '../sdk/plugin.js';
import { DURATION_PATTERN } from '../base/duration.js';
import { consumerSchema } from '../consumers/schema.js';
import { portalSchema, servicePortalSchema } from '../portal/schema.js';
import { planSchema } from '../plans/plans.js';
import { meteringSchema } from '../metering/config.js';
import { resilienceSchema } from '../upstream/resilience-config.js';
import { headerNameSchema, headerValueSchema } from '../base/schema-defs.js';
import { logSinksSchema, sinkNamesSchema } from '../observability/log-sink-config.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 250ms, 2s, 1m' };
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', 'x-message': 'must be a name of letters, digits, ".", "_" or "-" (max 128)' };
const address = { type: 'string', minLength: 1, 'x-message': 'must be an address such as "0.0.0.0:8000" or "[::1]:8000"' };
const url = { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' };
/** An SRV service name (RFC 2782): _service._proto.domain. */
const srvName = {
  type: 'string',
  maxLength: 253,
  pattern: '^_[A-Za-z0-9-]{1,62}\\._(tcp|udp|TCP|UDP)(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)+\\.?$',
  'x-message': 'must be an SRV name such as _http._tcp.orders.example',
};
const targetUrl = { type: 'string', pattern: '^(https?|grpcs?)://', 'x-message': 'must be an http://, https://, grpc:// or grpcs:// URL' };
const pemFile = { type: 'string', minLength: 1 };

export function pluginMapSchema(plugins: Iterable<Plugin>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const p of plugins) properties[p.name] = p.schema;
  return { type: 'object', properties, additionalProperties: false };
}

/**
 * `shared: true` (the validator's form) states the plugin map once under `$defs` and refers to
 * it from routes, services and the global section, so that ajv compiles each plugin's schema
 * once instead of three times (with `inlineRefs: false`); the OpenAPI document keeps the
 * inline form.
 */
export function buildConfigSchema(plugins: Iterable<Plugin>, opts: { shared?: boolean } = {}): Record<string, unknown> {
  const pluginDefs = pluginMapSchema(plugins);
  const pluginMap = opts.shared === true ? { $ref: '#/$defs/plugins' } : pluginDefs;
  const timeouts = { type: 'object', additionalProperties: false, properties: { connect: duration, read: duration, total: duration } };
  const retries = {
    type: 'object',
    additionalProperties: false,
    properties: {
      attempts: { type: 'integer', minimum: 1, maximum: 10 },
      // Response statuses 400–599 as YAML numbers (502) or strings ("502"): compile reads both as text.
      on: {
        type: 'array',
        items: { type: ['string', 'integer'], pattern: '^(connect-failure|reset|timeout|[45][0-9][0-9])$', minimum: 400, maximum: 599, 'x-message': 'must be connect-failure, reset, timeout or a response status 400–599' },
      },
      backoff: { type: 'object', additionalProperties: false, properties: { base: duration, max: duration } },
      budget_percent: { type: 'integer', minimum: 0, maximum: 100 },
      non_idempotent: { type: 'boolean' },
      replay_buffer: { type: 'integer', minimum: 0, maximum: 16777216 },
    },
  };
  const headerEdits = {
    type: 'object',
    additionalProperties: false,
    properties: {
      add: { type: 'object', propertyNames: headerNameSchema, additionalProperties: { anyOf: [headerValueSchema, { type: 'array', items: headerValueSchema }] } },
      set: { type: 'object', propertyNames: headerNameSchema, additionalProperties: headerValueSchema },
      remove: { type: 'array', items: headerNameSchema },
    },
  };
  const backend = {
    type: 'object',
    additionalProperties: false,
    properties: {
      upstream: { type: 'string' },
      url: targetUrl,
      invalid: { const: true, 'x-message': 'must be true (a backend that is answered 500), or left out' },
      weight: { type: 'integer', minimum: 0, maximum: 1000000 },
      headers: { type: 'object', additionalProperties: false, properties: { request: headerEdits } },
      timeouts,
      retries,
    },
  };
  const route = {
    type: 'object',
    additionalProperties: false,
    required: ['paths'],
    properties: {
      name,
      paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      hosts: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      wildcard_labels: { enum: ['one', 'one-or-more'] },
      methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Z]+$', 'x-message': 'must be an upper-case HTTP method such as GET' } },
      headers: {
        type: 'object',
        propertyNames: headerNameSchema,
        additionalProperties: { type: 'array', minItems: 1, items: { type: 'string' } },
      },
      strip_path: { type: 'boolean' },
      preserve_host: { type: 'boolean' },
      case_insensitive: { type: 'boolean' },
      priority: { type: 'integer', minimum: -1000000, maximum: 1000000 },
      timeouts,
      query: { type: 'object', propertyNames: { type: 'string', minLength: 1 }, additionalProperties: { type: 'string' } },
      backends: { type: 'array', minItems: 1, maxItems: 64, items: backend },
      listeners: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
      session_persistence: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'name'],
        properties: {
          type: { enum: ['cookie', 'header'] },
          // A cookie name and a header name are both HTTP tokens (RFC 6265 4.1.1).
          name: headerNameSchema,
          ttl: duration,
        },
      },
      plugins: pluginMap,
      log_sinks: sinkNamesSchema,
    },
  };
  const service = {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name,
      upstream: { type: 'string' },
      url: targetUrl,
      timeouts: { ...timeouts, properties: { ...timeouts.properties, websocket_idle: duration } },
      retries,
      ...resilienceSchema(duration),
      plugins: pluginMap,
      log_sinks: sinkNamesSchema,
      routes: { type: 'array', items: route },
      portal: servicePortalSchema,
      openapi: {
        type: 'object',
        additionalProperties: false,
        required: ['spec'],
        properties: {
          spec: { type: 'string', minLength: 1 },
          routes: { type: 'boolean' },
          prefix: { type: 'string', pattern: '^(/[A-Za-z0-9._~-]+)+$', 'x-message': 'must be a path prefix such as /orders (no trailing slash, no parameters)' },
        },
      },
    },
  };
  const upstream = {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'targets'],
    properties: {
      name,
      balancer: {
        // A name, or an object whose `algorithm` is one (pattern applies to strings only, properties to objects only).
        type: ['string', 'object'],
        pattern: '^(round-robin|least-connections|random-two-choices|consistent-hash)$',
        'x-message': 'must be round-robin, least-connections, random-two-choices or consistent-hash, or an object with "algorithm"',
        additionalProperties: false,
        required: ['algorithm'],
        properties: {
          algorithm: { enum: ['round-robin', 'least-connections', 'random-two-choices', 'consistent-hash'] },
          hash_on: { enum: ['header', 'cookie', 'ip', 'consumer', 'path', 'query_arg'] },
          name: { type: 'string', minLength: 1, maxLength: 256 },
          decay: duration,
          table_size: { type: 'integer', minimum: 257, maximum: 1000003 },
        },
      },
      targets: {
        // Empty: every request to the upstream is answered 503 (a Kubernetes Service without ready endpoints).
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          // Exactly one of url and srv: checked with the other cross-field rules (validate.ts).
          properties: { url: targetUrl, weight: { type: 'integer', minimum: 1, maximum: 1000 }, srv: srvName, scheme: { enum: ['http', 'https', 'grpc', 'grpcs'] } },
        },
      },
      tls: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ca: pemFile,
          servername: { type: 'string', minLength: 1 },
          client_cert: pemFile,
          client_key: pemFile,
          verify: { type: 'boolean' },
          expect_san: { type: 'string', minLength: 1 },
        },
      },
      healthcheck: {
        type: 'object',
        additionalProperties: false,
        properties: {
          passive: {
            type: 'object',
            additionalProperties: false,
            properties: {
              consecutive_failures: { type: 'integer', minimum: 0, maximum: 1000 },
              base_ejection: duration,
              max_ejection: duration,
              max_ejected_percent: { type: 'integer', minimum: 0, maximum: 100 },
            },
          },
          active: {
            type: 'object',
            additionalProperties: false,
            properties: {
              path: { type: 'string', pattern: '^/', 'x-message': 'must be a path starting with "/"' },
              interval: duration,
              timeout: duration,
              concurrency: { type: 'integer', minimum: 1, maximum: 100 },
              host: { type: 'string', minLength: 1 },
              healthy: {
                type: 'object',
                additionalProperties: false,
                properties: { successes: { type: 'integer', minimum: 1, maximum: 255 }, statuses: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 } } },
              },
              unhealthy: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  failures: { type: 'integer', minimum: 0, maximum: 255 },
                  timeouts: { type: 'integer', minimum: 0, maximum: 255 },
                  statuses: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 } },
                },
              },
            },
          },
        },
      },
    },
  };
  return {
    ...(opts.shared === true ? { $defs: { plugins: pluginDefs } } : {}),
    type: 'object',
    additionalProperties: false,
    required: ['_format_version'],
    properties: {
      _format_version: { const: '1', 'x-message': 'must be "1" (quoted)' },
      engine: { enum: ['node', 'native'], 'x-message': 'must be node (node:http and undici) or native (Northgate\'s HTTP/1.1 engine)' },
      extensions: { type: 'array', items: { type: 'string', minLength: 1, 'x-message': 'must be a module: a path relative to the config file, or a package name' } },
      listen: {
        type: 'object',
        additionalProperties: false,
        properties: {
          proxy: {
            type: ['string', 'array'],
            minItems: 1,
            items: {
              type: ['string', 'object'],
              additionalProperties: false,
              required: ['address'],
              properties: {
                address,
                name,
                tls: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['certificates'],
                  properties: {
                    certificates: {
                      type: 'array',
                      minItems: 1,
                      items: {
                        type: 'object',
                        additionalProperties: false,
                        // Files (cert + key) or PEM text (cert_pem + key_pem): checked in validate.ts.
                        properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 }, cert_pem: { type: 'string', minLength: 1 }, key_pem: { type: 'string', minLength: 1 } },
                      },
                    },
                    min_version: { enum: ['TLSv1.2', 'TLSv1.3'] },
                    client_ca: { type: 'string', minLength: 1 },
                    request_client_cert: { type: 'boolean' },
                  },
                },
                http2: { type: 'boolean' },
                sni_names: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, 'x-message': 'must map host names to listener names' },
                redirect_https: { type: ['boolean', 'integer'], minimum: 1, maximum: 65535, 'x-message': 'must be true, false or the HTTPS port to redirect to' },
              },
            },
            'x-message': 'must be an address or a list of listeners',
          },
          status: { type: ['string', 'null'], 'x-message': 'must be an address, or null to turn the status listener off' },
          portal: { type: ['string', 'null'], 'x-message': 'must be an address, or null to turn the developer portal off' },
          admin: { type: ['string', 'null'], 'x-message': 'must be an address, or null to turn the admin API off' },
        },
      },
      mode: { enum: ['file', 'database'] },
      store: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^(sqlite:|postgres://|postgresql://)', 'x-message': 'must be sqlite:PATH or postgres://...' },
          poll_interval: duration,
          node_id: { type: 'string', minLength: 1, maxLength: 128 },
        },
      },
      admin: {
        type: 'object',
        additionalProperties: false,
        properties: {
          token: { type: 'string', minLength: 16, 'x-message': 'must be at least 16 characters (use a random value from ${ENV})' },
          max_body_bytes: { type: 'integer', minimum: 1024, maximum: 104857600 },
          allowed_hosts: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
      },
      portal: portalSchema,
      trusted_proxies: { type: 'array', items: { type: 'string', minLength: 1 } },
      paths: {
        type: 'object',
        additionalProperties: false,
        properties: {
          escaped_slashes: { enum: ['reject', 'keep'] },
          semicolons: { enum: ['reject', 'strip'] },
          case_variants: { enum: ['reject', 'allow'] },
        },
      },
      limits: {
        type: 'object',
        additionalProperties: false,
        properties: {
          max_header_bytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
          max_body_bytes: { type: 'integer', minimum: 0 },
          header_timeout: duration,
          idle_timeout: duration,
          request_timeout: duration,
          max_connections: { type: 'integer', minimum: 1 },
        },
      },
      shutdown: { type: 'object', additionalProperties: false, properties: { drain_timeout: duration } },
      access_log: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean' },
          path: { type: 'string', minLength: 1 },
          fields: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
        },
      },
      metrics: { type: 'object', additionalProperties: false, properties: { per_consumer: { type: 'boolean' } } },
      log_sinks: logSinksSchema,
      tracing: {
        type: 'object',
        additionalProperties: false,
        required: ['endpoint'],
        properties: {
          endpoint: url,
          protocol: { enum: ['http/protobuf', 'http/json'] },
          service_name: { type: 'string', minLength: 1 },
          sampling: { type: 'object', additionalProperties: false, properties: { ratio: { type: 'number', minimum: 0, maximum: 1 } } },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          flush_interval: duration,
        },
      },
      dns: {
        type: 'object',
        additionalProperties: false,
        properties: {
          servers: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          timeout: duration,
          attempts: { type: 'integer', minimum: 1, maximum: 10 },
          min_ttl: duration,
          max_ttl: duration,
          hosts_ttl: duration,
          error_retry: duration,
        },
      },
      session_persistence: { type: 'object', additionalProperties: false, required: ['secret'], properties: { secret: { type: 'string', minLength: 32, 'x-message': 'must be at least 32 characters (use ${ENV})' } } },
      upstreams: { type: 'array', items: upstream },
      services: { type: 'array', items: service },
      consumers: { type: 'array', items: consumerSchema },
      plans: { type: 'array', items: planSchema },
      metering: meteringSchema,
      plugins: pluginMap,
    },
  };
}
