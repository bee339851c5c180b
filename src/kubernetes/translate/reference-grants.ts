// ReferenceGrant: a reference from one namespace to an object in another is allowed only
// when a ReferenceGrant in the target's namespace lists the source (group, kind, namespace)
// in `from` and the target (group, kind, optional name) in `to`.
import type { ResourceSnapshot } from './model.js';

export interface RefFrom { readonly group: string; readonly kind: string; readonly namespace: string }
export interface RefTo { readonly group: string; readonly kind: string; readonly namespace: string; readonly name: string }

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(rec) : []);
const group = (v: unknown): string => (typeof v === 'string' ? v : '');

export function referenceAllowed(resources: ResourceSnapshot, from: RefFrom, to: RefTo): boolean {
  if (from.namespace === to.namespace) return true;
  for (const grant of resources.get('ReferenceGrant')) {
    if ((grant.metadata.namespace ?? '') !== to.namespace) continue;
    const spec = rec(grant.spec);
    const fromOk = list(spec.from).some((f) => group(f.group) === from.group && f.kind === from.kind && f.namespace === from.namespace);
    if (!fromOk) continue;
    const toOk = list(spec.to).some((t) => group(t.group) === to.group && t.kind === to.kind && (t.name === undefined || t.name === '' || t.name === to.name));
    if (toOk) return true;
  }
  return false;
}
