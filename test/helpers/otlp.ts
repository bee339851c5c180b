// Decodes an OTLP/HTTP trace export body by its Content-Type into one shape (OTLP/JSON's:
// hex ids, nanoseconds as decimal strings, attributes as {key, value: {stringValue | intValue}}),
// so tests read spans the same way whichever encoding the gateway sent. Protobuf is decoded
// by protobufjs from a descriptor written here from opentelemetry-proto's .proto files
// (collector/trace/v1, trace/v1, resource/v1, common/v1): an independent reader, not the
// gateway encoder's inverse.
import type { EventEmitter } from 'node:events';
import protobuf from 'protobufjs';
import { startUpstream, type Upstream } from './servers.js';

export interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttribute[];
  status?: { code?: number };
}

export interface OtlpExport {
  resourceSpans: Array<{ resource?: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ scope?: { name?: string }; spans: OtlpSpan[] }> }>;
}

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const field = (type: string, id: number) => ({ type, id });

const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        ExportTraceServiceRequest: { fields: { resourceSpans: repeated('ResourceSpans', 1) } },
        ResourceSpans: { fields: { resource: field('Resource', 1), scopeSpans: repeated('ScopeSpans', 2), schemaUrl: field('string', 3) } },
        Resource: { fields: { attributes: repeated('KeyValue', 1), droppedAttributesCount: field('uint32', 2) } },
        ScopeSpans: { fields: { scope: field('InstrumentationScope', 1), spans: repeated('Span', 2), schemaUrl: field('string', 3) } },
        InstrumentationScope: { fields: { name: field('string', 1), version: field('string', 2), attributes: repeated('KeyValue', 3) } },
        Span: {
          fields: {
            traceId: field('bytes', 1),
            spanId: field('bytes', 2),
            traceState: field('string', 3),
            parentSpanId: field('bytes', 4),
            flags: field('fixed32', 16),
            name: field('string', 5),
            kind: field('int32', 6),
            startTimeUnixNano: field('fixed64', 7),
            endTimeUnixNano: field('fixed64', 8),
            attributes: repeated('KeyValue', 9),
            droppedAttributesCount: field('uint32', 10),
            status: field('Status', 15),
          },
        },
        Status: { fields: { message: field('string', 2), code: field('int32', 3) } },
        KeyValue: { fields: { key: field('string', 1), value: field('AnyValue', 2) } },
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue'] } },
          fields: { stringValue: field('string', 1), boolValue: field('bool', 2), intValue: field('int64', 3), doubleValue: field('double', 4), bytesValue: field('bytes', 7) },
        },
      },
    },
  },
});
const Request = root.lookupType('otlp.ExportTraceServiceRequest');

interface Decoded {
  resourceSpans?: Array<{ resource?: { attributes?: RawAttr[] }; scopeSpans?: Array<{ scope?: { name?: string }; spans?: RawSpan[] }> }>;
}
interface RawAttr {
  key: string;
  value?: Record<string, unknown>;
}
interface RawSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState?: string;
  parentSpanId?: Uint8Array;
  name?: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: RawAttr[];
  status?: { code?: number };
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function attributes(list: RawAttr[] | undefined): OtlpAttribute[] {
  return (list ?? []).map((a) => {
    const v = a.value ?? {};
    // OTLP/JSON writes int64 as a number here (the gateway's JSON does); the decoded one is a decimal string.
    return { key: a.key, value: v['intValue'] !== undefined ? { intValue: Number(v['intValue']) } : v };
  });
}

function span(s: RawSpan): OtlpSpan {
  const out: OtlpSpan = {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    name: s.name ?? '',
    kind: s.kind ?? 0,
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: attributes(s.attributes),
  };
  if (s.parentSpanId !== undefined && s.parentSpanId.length > 0) out.parentSpanId = hex(s.parentSpanId);
  if (s.traceState !== undefined) out.traceState = s.traceState;
  if (s.status !== undefined) out.status = { code: s.status.code ?? 0 };
  return out;
}

/** Decodes an export body sent with `contentType` (application/x-protobuf or application/json). */
export function decodeExport(contentType: string | undefined, body: Buffer): OtlpExport {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return JSON.parse(body.toString('utf8')) as OtlpExport;
  if (type !== 'application/x-protobuf') throw new Error(`unexpected export content-type: ${contentType}`);
  const raw = Request.toObject(Request.decode(body), { longs: String }) as Decoded;
  return {
    resourceSpans: (raw.resourceSpans ?? []).map((rs) => ({
      resource: { attributes: attributes(rs.resource?.attributes) },
      scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({ ...(ss.scope ? { scope: ss.scope } : {}), spans: (ss.spans ?? []).map(span) })),
    })),
  };
}

/** The spans of an export body, in order. */
export function exportedSpans(contentType: string | undefined, body: Buffer): OtlpSpan[] {
  return decodeExport(contentType, body).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

/**
 * A real OTLP/HTTP collector on 127.0.0.1: every export's spans are appended to `spans` and
 * `arrivals` emits 'spans' after each one; it answers 200.
 */
export function startSpanCollector(spans: OtlpSpan[], arrivals: EventEmitter): Promise<Upstream> {
  return startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      spans.push(...exportedSpans(req.headers['content-type'], Buffer.concat(chunks)));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      arrivals.emit('spans');
    });
  });
}
