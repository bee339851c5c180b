// Routes from a document's operations: one route per operation, named by its operationId,
// on the exact path (templates become the router's `:name` segments, or an RE2 pattern for a
// template inside a segment, e.g. "/files/{name}.json"), for its method.
import type { RawRoute } from '../config/types.js';
import type { OpenApiOperation } from '../sdk/openapi.js';

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The route path of a document path under `prefix`. */
export function routePath(prefix: string, path: string): string {
  const segments = path.split('/').slice(1);
  const plain = segments.every((s) => !s.includes('{') || (/^\{[^{}]+\}$/.test(s) && PARAM_NAME.test(s.slice(1, -1))));
  if (plain) return '=' + prefix + '/' + segments.map((s) => (s.startsWith('{') ? ':' + s.slice(1, -1) : s)).join('/');
  // A template inside a segment: an RE2 pattern, named groups where the name allows it.
  const body = segments
    .map((s) => s.split(/(\{[^{}]+\})/).map((part) => (/^\{[^{}]+\}$/.test(part) ? (PARAM_NAME.test(part.slice(1, -1)) ? `(?<${part.slice(1, -1)}>[^/]+)` : '[^/]+') : escapeRegex(part))).join(''))
    .join('/');
  return `~^${escapeRegex(prefix)}/${body}$`;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** A route name from an operation: its operationId if it is a valid route name, else one made from it or from the method and path. */
export function routeName(service: string, op: Pick<OpenApiOperation, 'method' | 'path' | 'operationId'>): string {
  if (op.operationId !== null && ROUTE_NAME.test(op.operationId)) return op.operationId;
  const base = op.operationId ?? `${service}-${op.method.toLowerCase()}${op.path}`;
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').replace(/-+$/, '');
  return (cleaned || `${service}-operation`).slice(0, 128);
}

export function routesFor(service: string, prefix: string, operations: ReadonlyArray<Pick<OpenApiOperation, 'method' | 'path' | 'operationId'>>): RawRoute[] {
  return operations.map((op) => ({ name: routeName(service, op), paths: [routePath(prefix, op.path)], methods: [op.method] }));
}
