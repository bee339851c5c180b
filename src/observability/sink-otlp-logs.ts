// The `otlp-logs` sink: one OpenTelemetry LogRecord per request, exported over OTLP/HTTP
// (an ExportLogsServiceRequest to the collector's /v1/logs) as protobuf or JSON, through the
// transport every POSTing sink shares (sink-http.ts: the trace exporter's http-post.ts). The
// record's body is the sink's JSON record (its fields and redaction); attributes carry the
// HTTP semantic conventions and the route, service and consumer; the trace id links it to the
// request's trace. Records are encoded when they are queued (off the request path) with the
// trace exporter's protobuf writers; a batch only wraps them. Field numbers:
// opentelemetry-proto logs/v1/logs.proto, collector/logs/v1/logs_service.proto.
import { hostname } from 'node:os';
import type { RequestContext } from '../proxy/context.js';
import { traceIdOf } from './access-log-format.js';
import type { SinkTransport } from './delivery-queue.js';
import type { OtlpLogsSinkSpec } from './log-sink-config.js';
import { fixed64Tag, kvInt, kvString, lenField, ProtoBytes, stringField, varintTag, wireValue } from './otlp-proto.js';
import { PostTransport } from './sink-http.js';

const ORIGIN = performance.timeOrigin;
const INFO = 9;
const WARN = 13;
// LogRecord fields.
const TIME = fixed64Tag(1);
const SEVERITY_NUMBER = varintTag(2);
const OBSERVED_TIME = fixed64Tag(11);

interface Parts {
  endUs: number;
  severity: number;
  body: string;
  strings: Array<[string, string]>;
  status: number;
  traceId: string | null;
}

function partsOf(ctx: RequestContext, body: string): Parts {
  const status = ctx.res.headersSent ? ctx.responseStatus : 0;
  const strings: Array<[string, string]> = [
    ['http.request.method', wireValue(ctx.method)],
    ['url.path', wireValue(ctx.path)],
  ];
  if (ctx.route !== null) strings.push(['northgate.route', ctx.route.name], ['northgate.service', ctx.route.service.name]);
  if (ctx.consumer !== null) strings.push(['northgate.consumer', ctx.consumer.username]);
  if (ctx.credential !== null) strings.push(['northgate.credential', ctx.credential.id]);
  const traceId = traceIdOf(ctx);
  return { endUs: Math.round((ORIGIN + ctx.finishedAt) * 1000), severity: status === 0 || status >= 500 ? WARN : INFO, body, strings, status, traceId };
}

/** One LogRecord, protobuf-encoded (the bytes of the message, without its tag and length); `body`: the sink's record of the request. */
export function otlpLogProto(ctx: RequestContext, body: string): Buffer {
  const p = partsOf(ctx, body);
  const head = new ProtoBytes(32);
  head.fixed64Micros(TIME, p.endUs);
  head.room(4);
  head.buf[head.pos++] = SEVERITY_NUMBER;
  head.varint(p.severity);
  const parts = [Buffer.from(head.bytes), stringField(3, p.severity === INFO ? 'INFO' : 'WARN'), lenField(5, stringField(1, p.body))];
  for (const [k, v] of p.strings) parts.push(kvString(6, k, v));
  parts.push(kvInt(6, 'http.response.status_code', p.status));
  if (p.traceId !== null) parts.push(lenField(9, Buffer.from(p.traceId, 'hex')));
  const observed = new ProtoBytes(16);
  observed.fixed64Micros(OBSERVED_TIME, Date.now() * 1000);
  parts.push(Buffer.from(observed.bytes));
  return Buffer.concat(parts);
}

/** One LogRecord as OTLP/JSON (hex trace id, nanoseconds as decimal strings); `body`: the sink's record of the request. */
export function otlpLogJson(ctx: RequestContext, body: string): string {
  const p = partsOf(ctx, body);
  const attrs = p.strings.map(([k, v]) => `{"key":"${k}","value":{"stringValue":${JSON.stringify(v)}}}`);
  attrs.push(`{"key":"http.response.status_code","value":{"intValue":${p.status}}}`);
  return (
    `{"timeUnixNano":"${p.endUs}000","observedTimeUnixNano":"${Date.now()}000000","severityNumber":${p.severity},"severityText":"${p.severity === INFO ? 'INFO' : 'WARN'}",` +
    `"body":{"stringValue":${JSON.stringify(p.body)}},"attributes":[${attrs.join(',')}]${p.traceId !== null ? `,"traceId":"${p.traceId}"` : ''}}`
  );
}

export function otlpLogsTransport(spec: OtlpLogsSinkSpec): SinkTransport<Buffer | string> {
  const host = hostname();
  const retryable = (status: number): boolean => status === 429 || status === 502 || status === 503 || status === 504;
  const common = { url: spec.url, headers: spec.headers, tls: spec.tls, timeoutMs: spec.timeoutMs, maxRetryAfterMs: spec.delivery.maxDelayMs, gzip: false, retryable };
  if (spec.protocol === 'http/json') {
    const resource = `{"attributes":[{"key":"service.name","value":{"stringValue":${JSON.stringify(spec.serviceName)}}},{"key":"host.name","value":{"stringValue":${JSON.stringify(host)}}},{"key":"process.pid","value":{"intValue":${process.pid}}}]}`;
    const prefix = `{"resourceLogs":[{"resource":${resource},"scopeLogs":[{"scope":{"name":"northgate"},"logRecords":[`;
    return new PostTransport<Buffer | string>({ ...common, contentType: 'application/json', encode: (batch) => Buffer.from(`${prefix}${batch.join(',')}]}]}]}`) });
  }
  // ExportLogsServiceRequest.resource_logs (1) → ResourceLogs {resource (1), scope_logs (2)} → ScopeLogs {scope (1), log_records (2)}.
  const resource = lenField(1, Buffer.concat([kvString(1, 'service.name', spec.serviceName), kvString(1, 'host.name', host), kvInt(1, 'process.pid', process.pid)]));
  const scope = lenField(1, stringField(1, 'northgate'));
  return new PostTransport<Buffer | string>({
    ...common,
    contentType: 'application/x-protobuf',
    encode: (batch) => lenField(1, Buffer.concat([resource, lenField(2, Buffer.concat([scope, ...batch.map((r) => lenField(2, r as Buffer))]))])),
  });
}
