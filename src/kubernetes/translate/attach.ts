// A route's parentRefs: which Gateway listeners it attaches to, with the hosts it is served
// for on each (hostname intersection), and the Accepted condition of each parent. The spec's
// order of checks: the parent exists and is ours, sectionName/port select listeners, then each
// listener must allow the route's kind and namespace, then the hostnames must intersect.
import type { KubeObject, ResourceSnapshot } from './model.js';
import { cond, type ConditionInput } from './conditions.js';
import { GATEWAY_GROUP, namespaceAllowed, type GatewayIndex, type ListenerModel, type RouteKind } from './gateway.js';
import { intersectHostnames, normalizeHostname, unclaimedHosts } from './hostnames.js';

export interface Attachment {
  readonly listener: ListenerModel;
  /**
   * null: any host. The hosts a more specific listener of the same port matches are left out
   * (possibly all: the route is attached but serves nothing there).
   */
  readonly hosts: string[] | null;
}

export interface ParentResult {
  /** The parentRef as the status writes it back. */
  readonly parentRef: Record<string, unknown>;
  readonly attachments: Attachment[];
  readonly accepted: ConditionInput;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The route's hostnames, lower-cased; undefined when one is not a valid hostname. */
export function routeHostnames(route: KubeObject): string[] | undefined {
  const raw = rec(route.spec).hostnames;
  if (!Array.isArray(raw)) return [];
  const out: string[] = [];
  for (const h of raw) {
    const n = normalizeHostname(h);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

/** One result per parentRef that names a Gateway of ours; parentRefs to anything else are not ours to answer. */
export function attachRoute(resources: ResourceSnapshot, index: GatewayIndex, route: KubeObject, kind: RouteKind, hostnames: readonly string[]): ParentResult[] {
  const namespace = route.metadata.namespace ?? 'default';
  const refs = rec(route.spec).parentRefs;
  const out: ParentResult[] = [];
  for (const r of Array.isArray(refs) ? refs.map(rec) : []) {
    const group = r.group === undefined ? GATEWAY_GROUP : r.group;
    const refKind = r.kind === undefined ? 'Gateway' : r.kind;
    if (group !== GATEWAY_GROUP || refKind !== 'Gateway' || typeof r.name !== 'string') continue;
    const gwNamespace = typeof r.namespace === 'string' && r.namespace !== '' ? r.namespace : namespace;
    const gateway = index.gateways.get(`${gwNamespace}/${r.name}`);
    if (gateway === undefined) continue;
    const parentRef: Record<string, unknown> = { group: GATEWAY_GROUP, kind: 'Gateway', ...(typeof r.namespace === 'string' ? { namespace: r.namespace } : {}), name: r.name };
    if (typeof r.sectionName === 'string') parentRef.sectionName = r.sectionName;
    if (typeof r.port === 'number') parentRef.port = r.port;
    const candidates = gateway.listeners.filter((l) => (r.sectionName === undefined || l.name === r.sectionName) && (r.port === undefined || l.port === r.port));
    if (!gateway.accepted) {
      out.push({ parentRef, attachments: [], accepted: cond('Accepted', false, 'NoMatchingParent', `Gateway ${gwNamespace}/${r.name} is not accepted`) });
      continue;
    }
    if (candidates.length === 0) {
      const what = [r.sectionName !== undefined ? `sectionName ${String(r.sectionName)}` : '', r.port !== undefined ? `port ${String(r.port)}` : ''].filter((x) => x !== '').join(' and ');
      out.push({ parentRef, attachments: [], accepted: cond('Accepted', false, 'NoMatchingParent', `Gateway ${gwNamespace}/${r.name} has no listener with ${what}`) });
      continue;
    }
    const attachments: Attachment[] = [];
    let allowedSomewhere = false;
    for (const l of candidates) {
      if (!l.attachable || !l.kinds.has(kind) || !namespaceAllowed(resources, l, namespace)) continue;
      allowedSomewhere = true;
      const hosts = intersectHostnames(l.hostname, hostnames);
      if (hosts !== null && hosts.length === 0) continue;
      attachments.push({ listener: l, hosts: hosts === null ? null : unclaimedHosts(l.hostname, hosts, portHostnames(index, l)) });
    }
    const accepted = attachments.length > 0
      ? cond('Accepted', true, 'Accepted', 'the route is attached')
      : allowedSomewhere
        ? cond('Accepted', false, 'NoMatchingListenerHostname', 'no listener hostname intersects the route\'s hostnames')
        : cond('Accepted', false, 'NotAllowedByListeners', `no listener of Gateway ${gwNamespace}/${r.name} allows a ${kind} from namespace ${namespace}`);
    out.push({ parentRef, attachments, accepted });
  }
  return out;
}

/** The hostnames of the listeners served on the same Northgate listener as `l` (every Gateway's: they share the socket). */
function portHostnames(index: GatewayIndex, l: ListenerModel): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  for (const g of index.gateways.values()) for (const o of g.listeners) if (o.ready && o.port === l.port && o !== l) out.push(o.hostname);
  return out;
}
