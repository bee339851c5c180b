// The operations of a bundled document, listed once: what route generation, the plugins and
// the portal read instead of walking `paths` each.
import type { OpenApiContract, OpenApiObject, OpenApiOperation } from '../sdk/openapi.js';
import { compileOperations } from './schemas.js';

type Listed = Omit<OpenApiOperation, 'validators'>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The value a local `$ref` ("#/a/b") names in `doc`, or undefined. */
export function resolveLocalRef(doc: OpenApiObject, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  let cur: unknown = doc;
  if (ref === '#') return cur;
  for (const raw of ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, token)) return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}

/** Follows `$ref`s (a bounded chain: a document may refer in a loop) to an object. */
export function deref(doc: OpenApiObject, value: unknown): OpenApiObject | null {
  let cur = value;
  for (let hops = 0; hops < 32; hops++) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return null;
    const ref = (cur as Record<string, unknown>)['$ref'];
    if (typeof ref !== 'string') return cur as OpenApiObject;
    cur = resolveLocalRef(doc, ref);
  }
  return null;
}

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
