// Local `$ref`s of a bundled document ("#/components/schemas/Pet"), followed by pointer.
import type { OpenApiObject } from '../sdk/openapi.js';

/** Keys whose values are data (examples, enums, defaults), never schemas; except in maps of names (`properties`, `responses`…), whose keys are names chosen by the author. */
export const DATA_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const', 'x-examples']);
export const NAME_MAPS = new Set(['properties', 'patternProperties', 'responses', 'schemas', '$defs', 'definitions', 'parameters', 'requestBodies', 'headers', 'content', 'paths', 'dependentSchemas', 'securitySchemes', 'callbacks', 'links', 'webhooks', 'pathItems']);

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


/** `target[key] = value`, also for the key "__proto__" (an own property, never the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
