// What a document's schemas mean, made into what ajv reads. OpenAPI 3.0's Schema Object is
// a dialect of JSON Schema draft-04/05: `nullable`, boolean `exclusiveMinimum`/`Maximum`,
// `discriminator` (ajv reads it without `mapping`, from the `const`/`enum` of each branch).
// 3.1 is JSON Schema 2020-12. In both, a `readOnly` property is not sent in a request and a
// `writeOnly` one is not returned: in that direction it is refused and not required.
import type { OpenApiObject } from '../sdk/openapi.js';
import { DATA_KEYS, NAME_MAPS, deref, setOwn } from './refs.js';

export type Direction = 'request' | 'response';


/**
 * A copy of the document for one direction, local `$ref`s made absolute under `id` (so a
 * schema compiled on its own still finds the document's components).
 */
export function documentFor(doc: OpenApiObject, version: '3.0' | '3.1', direction: Direction, id: string): Record<string, unknown> {
  const hidden = direction === 'request' ? 'readOnly' : 'writeOnly';
  const copy = (value: unknown, depth: number, names: boolean): unknown => {
    if (depth > 256) return {};
    if (Array.isArray(value)) return value.map((v) => copy(v, depth + 1, false));
    if (typeof value !== 'object' || value === null) return value;
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(src)) {
      if (!names && DATA_KEYS.has(key)) setOwn(out, key, v);
      else if (!names && key === '$ref' && typeof v === 'string') out[key] = v.startsWith('#') ? id + v : v;
      else setOwn(out, key, copy(v, depth + 1, !names && NAME_MAPS.has(key)));
    }
    if (names) return out;
    if (version === '3.0') adapt30(out);
    if (out['discriminator'] !== undefined && typeof out['discriminator'] === 'object' && out['discriminator'] !== null) {
      const { mapping: _dropped, ...rest } = out['discriminator'] as Record<string, unknown>;
      out['discriminator'] = rest;
    }
    hideProperties(doc, src, out, hidden);
    return out;
  };
  return { ...(copy(doc, 0, false) as Record<string, unknown>), $id: id };
}

function adapt30(s: Record<string, unknown>): void {
  if (s['exclusiveMinimum'] === true && typeof s['minimum'] === 'number') {
    s['exclusiveMinimum'] = s['minimum'];
    delete s['minimum'];
  } else if (typeof s['exclusiveMinimum'] === 'boolean') delete s['exclusiveMinimum'];
  if (s['exclusiveMaximum'] === true && typeof s['maximum'] === 'number') {
    s['exclusiveMaximum'] = s['maximum'];
    delete s['maximum'];
  } else if (typeof s['exclusiveMaximum'] === 'boolean') delete s['exclusiveMaximum'];
  if (s['nullable'] === true) {
    delete s['nullable'];
    if (typeof s['type'] === 'string') s['type'] = [s['type'], 'null'];
    if (Array.isArray(s['enum']) && !s['enum'].includes(null)) s['enum'] = [...s['enum'], null];
  } else if (s['nullable'] === false) delete s['nullable'];
}

/** Properties `hidden` in this direction (on the property's schema or what it refers to): refused, and not required. */
function hideProperties(doc: OpenApiObject, src: Record<string, unknown>, out: Record<string, unknown>, hidden: string): void {
  const props = src['properties'];
  if (typeof props !== 'object' || props === null) return;
  const names = Object.entries(props as Record<string, unknown>)
    .filter(([, p]) => deref(doc, p)?.[hidden] === true)
    .map(([name]) => name);
  if (names.length === 0) return;
  const outProps = out['properties'] as Record<string, unknown>;
  for (const name of names) setOwn(outProps, name, false);
  if (Array.isArray(out['required'])) out['required'] = (out['required'] as unknown[]).filter((r) => !names.includes(r as string));
}
