// Decodes an OTLP/HTTP logs export body by its Content-Type into OTLP/JSON's shape (hex ids,
// nanoseconds as decimal strings), so tests read log records the same way whichever encoding
// the gateway sent. Protobuf is decoded by protobufjs from a descriptor written here from
// opentelemetry-proto's .proto files (collector/logs/v1, logs/v1, resource/v1, common/v1): an
// independent reader, not the gateway encoder's inverse.
import protobuf from 'protobufjs';

export interface OtlpLogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: { stringValue: string };
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  traceId?: string;
}

export interface OtlpLogsExport {
  resourceLogs: Array<{ resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> }; scopeLogs: Array<{ scope: { name: string }; logRecords: OtlpLogRecord[] }> }>;
}

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const field = (type: string, id: number) => ({ type, id });

const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        ExportLogsServiceRequest: { fields: { resourceLogs: repeated('ResourceLogs', 1) } },
        ResourceLogs: { fields: { resource: field('Resource', 1), scopeLogs: repeated('ScopeLogs', 2), schemaUrl: field('string', 3) } },
        Resource: { fields: { attributes: repeated('KeyValue', 1) } },
        ScopeLogs: { fields: { scope: field('InstrumentationScope', 1), logRecords: repeated('LogRecord', 2), schemaUrl: field('string', 3) } },
        InstrumentationScope: { fields: { name: field('string', 1), version: field('string', 2) } },
        LogRecord: {
          fields: {
            timeUnixNano: field('fixed64', 1),
            observedTimeUnixNano: field('fixed64', 11),
            severityNumber: field('int32', 2),
            severityText: field('string', 3),
            body: field('AnyValue', 5),
            attributes: repeated('KeyValue', 6),
            droppedAttributesCount: field('uint32', 7),
            flags: field('fixed32', 8),
            traceId: field('bytes', 9),
            spanId: field('bytes', 10),
          },
        },
        KeyValue: { fields: { key: field('string', 1), value: field('AnyValue', 2) } },
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue'] } },
          fields: { stringValue: field('string', 1), boolValue: field('bool', 2), intValue: field('int64', 3), doubleValue: field('double', 4), bytesValue: field('bytes', 7) },
        },
      },
    },
  },
});
const Request = root.lookupType('otlp.ExportLogsServiceRequest');

export function decodeLogsExport(contentType: string | undefined, body: Buffer): OtlpLogsExport {
  if (contentType === 'application/json') return JSON.parse(body.toString('utf8')) as OtlpLogsExport;
  if (contentType !== 'application/x-protobuf') throw new Error(`unexpected content-type ${contentType}`);
  const raw = Request.toObject(Request.decode(body), { longs: String, bytes: String }) as OtlpLogsExport;
  for (const rl of raw.resourceLogs) {
    for (const a of rl.resource.attributes) if (a.value['intValue'] !== undefined) a.value['intValue'] = Number(a.value['intValue']);
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        if (r.traceId !== undefined) r.traceId = Buffer.from(r.traceId, 'base64').toString('hex');
        for (const a of r.attributes) if (a.value['intValue'] !== undefined) a.value['intValue'] = Number(a.value['intValue']);
      }
    }
  }
  return raw;
}
