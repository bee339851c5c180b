// The `log_sinks:` section (docs/log-shipping.md): its schema, the checks the schema cannot
// express (which keys each type takes, names, references from services and routes, field
// lists, addresses, TLS files) and its compiled form — each sink's settings, and for every
// route (by its index in the snapshot) the names of the sinks its requests go to.
import { existsSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { parseAddress } from '../base/address.js';
import { DURATION_PATTERN, parseDuration } from '../base/duration.js';
import { didYouMean, type ConfigProblem } from '../base/problems.js';
import type { RawConfig, RawLogSink } from '../config/types.js';
import { compileUpstreamTls } from '../upstream/tls.js';
import { compileAccessLine, compileRecordFromLine, DEFAULT_ACCESS_LOG_FIELDS, fieldProblems, redactionFor, type AccessLineFn, type RecordFromLineFn } from './access-log-format.js';
import type { DeliveryOptions } from './delivery-queue.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 250ms, 2s, 1m' };
const sinkName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', 'x-message': 'must be a name of letters, digits, ".", "_" or "-" (max 128)' };

/** `services[].log_sinks` and `routes[].log_sinks`: names from `log_sinks`. */
export const sinkNamesSchema = { type: 'array', uniqueItems: true, items: sinkName };

export const logSinksSchema = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'type'],
    properties: {
      name: sinkName,
      type: { enum: ['http', 'statsd', 'syslog', 'otlp-logs'] },
      global: { type: 'boolean' },
      fields: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
      batch: { type: 'object', additionalProperties: false, properties: { max_events: { type: 'integer', minimum: 1, maximum: 10_000 }, max_bytes: { type: 'integer', minimum: 1024, maximum: 67_108_864 }, interval: duration } },
      queue: { type: 'object', additionalProperties: false, properties: { max_events: { type: 'integer', minimum: 1, maximum: 1_000_000 } } },
      retry: { type: 'object', additionalProperties: false, properties: { base_delay: duration, max_delay: duration } },
      timeout: duration,
      url: { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' },
      format: { enum: ['ndjson', 'json_array'] },
      headers: { type: 'object', propertyNames: { pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", 'x-message': 'must be an HTTP header name' }, additionalProperties: { type: 'string' } },
      gzip: { type: 'boolean' },
      tls: {
        type: 'object',
        additionalProperties: false,
        properties: { ca: { type: 'string', minLength: 1 }, servername: { type: 'string', minLength: 1 }, client_cert: { type: 'string', minLength: 1 }, client_key: { type: 'string', minLength: 1 }, verify: { type: 'boolean' } },
      },
      address: { type: 'string', minLength: 1, 'x-message': 'must be host:port, e.g. "127.0.0.1:8125"' },
      prefix: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', 'x-message': 'must be letters, digits, "_", "." or "-" (max 64)' },
      tags: { enum: ['none', 'dogstatsd'] },
      transport: { enum: ['udp', 'tcp', 'tls'] },
      facility: { type: 'integer', minimum: 0, maximum: 23 },
      protocol: { enum: ['http/protobuf', 'http/json'] },
      service_name: { type: 'string', minLength: 1, maxLength: 256 },
      app_name: { type: 'string', pattern: '^[!-~]{1,48}$', 'x-message': 'must be 1-48 printable ASCII characters without spaces (RFC 5424 APP-NAME)' },
    },
  },
};

/** The keys each type takes besides the common ones. */
const TYPE_KEYS: Record<RawLogSink['type'], readonly string[]> = {
  http: ['url', 'format', 'headers', 'gzip', 'tls', 'fields'],
  statsd: ['address', 'prefix', 'tags'],
  syslog: ['address', 'transport', 'facility', 'app_name', 'tls', 'fields'],
  'otlp-logs': ['url', 'protocol', 'service_name', 'headers', 'tls', 'fields'],
};
const COMMON_KEYS = ['name', 'type', 'global', 'batch', 'queue', 'retry', 'timeout'];

/**
 * What a sink ships of a request when `fields` is not set: the access log's defaults, in
 * their order, then the trace, the consumer and its credential. With the default access log
 * the record is then one run of the line's text and a short tail (access-log-format.ts,
 * compileRecordFromLine): about half the work of a record whose fields are split in two runs.
 */
export const DEFAULT_SINK_FIELDS: readonly string[] = [
  ...DEFAULT_ACCESS_LOG_FIELDS,
  'trace_id',
  'consumer',
  'credential',
  'upstream_header_ms',
];

const DEFAULTS = { batchSize: 1000, maxBytes: 512 * 1024, interval: '1s', maxQueue: 10_000, baseDelay: '250ms', maxDelay: '30s', timeout: '10s', prefix: 'northgate', facility: 16, appName: 'northgate' } as const;

interface SinkSettings {
  readonly name: string;
  /** Ships every request, else only those of services and routes that name it. */
  readonly global: boolean;
  readonly delivery: DeliveryOptions;
  readonly timeoutMs: number;
}

/** How a sink's record is made: field by field, or (when the access log is on and shares fields with it) from the request's access line. */
interface RecordSerializers {
  readonly record: AccessLineFn;
  readonly fromLine: RecordFromLineFn | null;
}

export interface HttpSinkSpec extends SinkSettings, RecordSerializers {
  readonly type: 'http';
  readonly url: string;
  readonly format: 'ndjson' | 'json_array';
  readonly headers: Readonly<Record<string, string>>;
  readonly gzip: boolean;
  readonly tls: ConnectionOptions | null;
}

export interface StatsdSinkSpec extends SinkSettings {
  readonly type: 'statsd';
  readonly host: string;
  readonly port: number;
  readonly prefix: string;
  readonly dogstatsd: boolean;
}

export interface SyslogSinkSpec extends SinkSettings, RecordSerializers {
  readonly type: 'syslog';
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly facility: number;
  readonly appName: string;
  readonly tls: ConnectionOptions | null;
}

export interface OtlpLogsSinkSpec extends SinkSettings, RecordSerializers {
  readonly type: 'otlp-logs';
  readonly url: string;
  readonly protocol: 'http/protobuf' | 'http/json';
  readonly serviceName: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: ConnectionOptions | null;
}

export type SinkSpec = HttpSinkSpec | StatsdSinkSpec | SyslogSinkSpec | OtlpLogsSinkSpec;

export interface LogShippingSpec {
  readonly sinks: readonly SinkSpec[];
  /** The sinks by name: a record is made with the field list and redaction of the request's own config. */
  readonly byName: ReadonlyMap<string, SinkSpec>;
  /** Sink names per route, by the route's index in the snapshot (`CompiledRoute.index`). */
  readonly byRoute: ReadonlyArray<readonly string[]>;
  /** Sink names of requests that matched no route: the global sinks. */
  readonly unmatched: readonly string[];
}

const ms = (text: string | undefined, fallback: string): number => parseDuration(text ?? fallback)!;

/**
 * The compiled section, or null without sinks. `keyNames`: the key-auth key names of the
 * config, redacted as in the access log. Routes are walked in the compiler's order (services,
 * then each service's routes), which is the order of their indices.
 */
export function compileLogShipping(config: RawConfig, keyNames: readonly string[]): LogShippingSpec | null {
  const raw = config.log_sinks ?? [];
  if (raw.length === 0) return null;
  const redaction = redactionFor(keyNames);
  // The access log's fields (as compileAccessLog reads them): a record copies what it shares with the line.
  const lineFields = config.access_log?.enabled === false ? null : (config.access_log?.fields ?? DEFAULT_ACCESS_LOG_FIELDS);
  // Sinks with the same field list share one serializer, so a request's record is made once for them all.
  const serializers = new Map<string, RecordSerializers>();
  const record = (fields: readonly string[]): RecordSerializers => {
    const key = fields.join('\n');
    let fns = serializers.get(key);
    if (fns === undefined) {
      const fromLine = lineFields !== null && fields.some((f) => lineFields.includes(f)) ? compileRecordFromLine(fields, lineFields, redaction) : null;
      serializers.set(key, (fns = { record: compileAccessLine(fields, redaction, true), fromLine }));
    }
    return fns;
  };
  const sinks = raw.map((s) => compileSink(s, record));
  const global = sinks.filter((s) => s.global).map((s) => s.name);
  const byRoute: Array<readonly string[]> = [];
  for (const s of config.services ?? []) {
    for (const r of s.routes ?? []) {
      const names = [...new Set([...global, ...(s.log_sinks ?? []), ...(r.log_sinks ?? [])])];
      byRoute.push(names.length === global.length ? global : names);
    }
  }
  return { sinks, byName: new Map(sinks.map((s) => [s.name, s])), byRoute, unmatched: global };
}

function compileSink(s: RawLogSink, record: (fields: readonly string[]) => RecordSerializers): SinkSpec {
  const settings: SinkSettings = {
    name: s.name,
    global: s.global ?? true,
    timeoutMs: ms(s.timeout, DEFAULTS.timeout),
    delivery: {
      maxQueue: s.queue?.max_events ?? DEFAULTS.maxQueue,
      // A queue set smaller than the default batch sends batches of the queue's size.
      batchSize: s.batch?.max_events ?? Math.min(DEFAULTS.batchSize, s.queue?.max_events ?? DEFAULTS.maxQueue),
      maxBytes: s.batch?.max_bytes ?? DEFAULTS.maxBytes,
      intervalMs: ms(s.batch?.interval, DEFAULTS.interval),
      baseDelayMs: ms(s.retry?.base_delay, DEFAULTS.baseDelay),
      maxDelayMs: ms(s.retry?.max_delay, DEFAULTS.maxDelay),
      // A datagram that found no receiver is gone; sending it again finds none either.
      retry: !(s.type === 'statsd' || (s.type === 'syslog' && (s.transport ?? 'udp') === 'udp')),
    },
  };
  const tls = s.tls === undefined ? null : compileUpstreamTls(s.tls)!.connect;
  switch (s.type) {
    case 'http':
      return { ...settings, type: 'http', ...record(s.fields ?? DEFAULT_SINK_FIELDS), url: s.url!, format: s.format ?? 'ndjson', headers: s.headers ?? {}, gzip: s.gzip ?? false, tls };
    case 'statsd': {
      const a = parseAddress(s.address!) as { host: string; port: number };
      return { ...settings, type: 'statsd', host: a.host, port: a.port, prefix: s.prefix ?? DEFAULTS.prefix, dogstatsd: s.tags === 'dogstatsd' };
    }
    case 'otlp-logs':
      return { ...settings, type: 'otlp-logs', ...record(s.fields ?? DEFAULT_SINK_FIELDS), url: s.url!, protocol: s.protocol ?? 'http/protobuf', serviceName: s.service_name ?? 'northgate', headers: s.headers ?? {}, tls };
    case 'syslog': {
      const a = parseAddress(s.address!) as { host: string; port: number };
      const transport = s.transport ?? 'udp';
      return { ...settings, type: 'syslog', ...record(s.fields ?? DEFAULT_SINK_FIELDS), host: a.host, port: a.port, transport, facility: s.facility ?? DEFAULTS.facility, appName: s.app_name ?? DEFAULTS.appName, tls };
    }
  }
}

/** Problems the schema cannot express; `add` locates each in the document. */
export function logSinkProblems(c: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: Array<string | number>, message: string, atKey = false): void => void problems.push({ path, message, ...(atKey ? { atKey } : {}) });
  const names = new Map<string, number>();
  (c.log_sinks ?? []).forEach((s, i) => {
    const at = ['log_sinks', i];
    if (names.has(s.name)) add([...at, 'name'], `duplicate log sink name "${s.name}" (first at log_sinks[${names.get(s.name)}])`);
    else names.set(s.name, i);
    const allowed = new Set([...COMMON_KEYS, ...TYPE_KEYS[s.type]]);
    for (const key of Object.keys(s)) {
      if (!allowed.has(key)) add([...at, key], `not a key of a ${s.type} sink; it takes ${[...TYPE_KEYS[s.type]].join(', ')} (and ${COMMON_KEYS.slice(2).join(', ')})`, true);
    }
    if (s.type === 'http' && s.url === undefined) add(at, 'an http sink needs "url"');
    if (s.type === 'otlp-logs' && s.url === undefined) add(at, 'an otlp-logs sink needs "url" (the collector\'s OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs)');
    if (s.type === 'statsd' || s.type === 'syslog') {
      if (s.address === undefined) add(at, `a ${s.type} sink needs "address" (host:port)`);
      else {
        const a = parseAddress(s.address);
        if (typeof a === 'string') add([...at, 'address'], a);
        else if (a.port === 0) add([...at, 'address'], 'needs a port other than 0');
      }
    }
    if (s.url !== undefined) {
      try {
        const u = new URL(s.url);
        if (u.username !== '' || u.password !== '') add([...at, 'url'], 'credentials go in "headers" (e.g. authorization), not in the URL, which is logged');
      } catch {
        add([...at, 'url'], 'is not a valid URL');
      }
    }
    if (s.tls !== undefined && s.url !== undefined && !s.url.startsWith('https:')) add([...at, 'tls'], 'applies to https:// URLs only');
    if (s.tls !== undefined && s.type === 'syslog' && s.transport !== 'tls') add([...at, 'tls'], 'applies to transport: tls only');
    for (const k of ['ca', 'client_cert', 'client_key'] as const) {
      const file = s.tls?.[k];
      if (file !== undefined && !existsSync(file)) add([...at, 'tls', k], `file not found: ${file}`);
    }
    if (s.tls !== undefined && (s.tls.client_cert === undefined) !== (s.tls.client_key === undefined)) add([...at, 'tls'], 'client_cert and client_key go together');
    problems.push(...fieldProblems(s.fields, [...at, 'fields']));
    const base = ms(s.retry?.base_delay, DEFAULTS.baseDelay);
    const max = ms(s.retry?.max_delay, DEFAULTS.maxDelay);
    if (base > max) add([...at, 'retry', 'base_delay'], `is longer than max_delay (${s.retry?.max_delay ?? DEFAULTS.maxDelay})`);
    if (base === 0) add([...at, 'retry', 'base_delay'], 'must be longer than 0 (a dead receiver would be retried in a busy loop)');
    if (ms(s.batch?.interval, DEFAULTS.interval) === 0) add([...at, 'batch', 'interval'], 'must be longer than 0');
    if (ms(s.timeout, DEFAULTS.timeout) === 0) add([...at, 'timeout'], 'must be longer than 0');
    if (s.batch?.max_events !== undefined && (s.queue?.max_events ?? DEFAULTS.maxQueue) < s.batch.max_events) add([...at, 'queue', 'max_events'], 'is smaller than batch.max_events');
  });
  const known = [...names.keys()];
  const checkRefs = (list: string[] | undefined, at: Array<string | number>): void =>
    (list ?? []).forEach((n, k) => {
      if (names.has(n)) return;
      const hint = didYouMean(n, known);
      add([...at, 'log_sinks', k], `no log sink named "${n}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    });
  (c.services ?? []).forEach((s, i) => {
    checkRefs(s.log_sinks, ['services', i]);
    (s.routes ?? []).forEach((r, j) => checkRefs(r.log_sinks, ['services', i, 'routes', j]));
  });
  return problems;
}
