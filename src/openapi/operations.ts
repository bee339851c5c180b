// The operations of a bundled document, listed once: what route generation, the plugins and
// the portal read instead of walking `paths` each.
import type { OpenApiContract, OpenApiObject, OpenApiOperation } from '../sdk/openapi.js';
import { compileOperations } from './schemas.js';
import { deref } from './refs.js';

type Listed = Omit<OpenApiOperation, 'validators'>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export function listOperations(doc: OpenApiObject): Listed[] {
  const out: Listed[] = [];
  const paths = (doc['paths'] ?? {}) as Record<string, unknown>;
  for (const [path, rawItem] of Object.entries(paths)) {
    const item = deref(doc, rawItem);
    if (item === null) continue;
    const shared = paramList(doc, item['parameters']);
    for (const m of HTTP_METHODS) {
      const operation = deref(doc, item[m]);
      if (operation === null) continue;
      const own = paramList(doc, operation['parameters']);
      const key = (p: OpenApiObject): string => `${String(p['in'])}:${String(p['name'])}`;
      const ownKeys = new Set(own.map(key));
      const responses: Record<string, OpenApiObject> = {};
      for (const [status, r] of Object.entries((operation['responses'] ?? {}) as Record<string, unknown>)) {
        const resolved = deref(doc, r);
        if (resolved !== null) responses[status] = resolved;
      }
      const operationId = typeof operation['operationId'] === 'string' && operation['operationId'] !== '' ? operation['operationId'] : null;
      out.push({
        method: m.toUpperCase(),
        path,
        operationId,
        label: operationId ?? `${m.toUpperCase()} ${path}`,
        operation,
        parameters: [...shared.filter((p) => !ownKeys.has(key(p))), ...own],
        requestBody: deref(doc, operation['requestBody']),
        responses,
      });
    }
  }
  return out;
}

function paramList(doc: OpenApiObject, value: unknown): OpenApiObject[] {
  if (!Array.isArray(value)) return [];
  return value.map((p) => deref(doc, p)).filter((p): p is OpenApiObject => p !== null && typeof p['name'] === 'string' && typeof p['in'] === 'string');
}

/** The contract of a bundled document, its schemas compiled; or the problem of a schema that does not compile. */
export function contractOf(document: OpenApiObject, file: string, prefix: string): OpenApiContract | string {
  const version = String(document['openapi']).startsWith('3.1') ? '3.1' : '3.0';
  const listed = listOperations(document);
  const compiled = compileOperations(document, version, listed);
  if ('problem' in compiled) return compiled.problem;
  return { version, document, operations: listed.map((op, i) => ({ ...op, validators: compiled.validators[i]! })), prefix, file };
}
