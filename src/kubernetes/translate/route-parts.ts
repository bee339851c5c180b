// What HTTPRoute and GRPCRoute rules share: backendRefs as weighted backends, header
// modifiers as `headers` edits, Gateway API durations, and the precedence key that keeps two
// routes from matching exactly the same requests (the config refuses such a pair; the
// Gateway API gives the request to the older route).
import type { KubeObject, ResourceSnapshot } from './model.js';
import { cond, type ConditionInput } from './conditions.js';
import { invalidBackend, resolveServiceBackend } from './backends.js';
import { referenceAllowed } from './reference-grants.js';
import { GATEWAY_GROUP, type RouteKind } from './gateway.js';

export const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
export const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(rec) : []);

/** The upstream with no targets that backends nobody can serve point to (with weight 0: answered 500). */
export const NO_BACKEND_UPSTREAM = 'gateway-api.no-backend';

/** Thrown while translating a rule: the route is refused with Accepted=False and this reason. */
export class Refusal extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

export interface TranslationState {
  readonly resources: ResourceSnapshot;
  /** Upstreams by name, shared by every route that names the same Service port. */
  readonly upstreams: Map<string, Record<string, unknown>>;
}

export interface BackendsResult {
  readonly backends: Record<string, unknown>[];
  /** ResolvedRefs=False for the first backendRef that could not be resolved; undefined when all were. */
  readonly problem: ConditionInput | undefined;
}

/** A rule's backendRefs as `routes[].backends`; an invalid one keeps its share, answered 500 (the spec's rule). */
export function translateBackendRefs(state: TranslationState, route: KubeObject, kind: RouteKind, refs: Record<string, unknown>[], protocol: 'http' | 'grpc', backendFilters: (ref: Record<string, unknown>) => Record<string, unknown> | undefined): BackendsResult {
  const backends: Record<string, unknown>[] = [];
  let problem: ConditionInput | undefined;
  for (const ref of refs) {
    const weight = typeof ref.weight === 'number' && Number.isInteger(ref.weight) ? Math.min(Math.max(ref.weight, 0), 1_000_000) : 1;
    const r = resolveRef(state, route, kind, ref, protocol);
    if ('problem' in r) {
      problem ??= r.problem;
      backends.push(invalidBackend(weight));
      continue;
    }
    const headers = backendFilters(ref);
    backends.push({ upstream: r.upstream, weight, ...(headers !== undefined ? { headers: { request: headers } } : {}) });
  }
  return { backends, problem };
}

/** A backendRef (or a mirror's) as an upstream name, or why it cannot be one. */
export function resolveRef(state: TranslationState, route: KubeObject, kind: RouteKind, ref: Record<string, unknown>, protocol: 'http' | 'grpc'): { upstream: string; targets: readonly Record<string, unknown>[] } | { problem: ConditionInput } {
  const group = typeof ref.group === 'string' ? ref.group : '';
  const refKind = typeof ref.kind === 'string' ? ref.kind : 'Service';
  const name = typeof ref.name === 'string' ? ref.name : '';
  const routeNs = route.metadata.namespace ?? 'default';
  const namespace = typeof ref.namespace === 'string' && ref.namespace !== '' ? ref.namespace : routeNs;
  if (group !== '' || refKind !== 'Service') return { problem: cond('ResolvedRefs', false, 'InvalidKind', `backendRef ${group === '' ? '' : `${group}/`}${refKind} ${name}: only core Services are supported`) };
  if (!referenceAllowed(state.resources, { group: GATEWAY_GROUP, kind, namespace: routeNs }, { group: '', kind: 'Service', namespace, name })) {
    return { problem: cond('ResolvedRefs', false, 'RefNotPermitted', `Service ${namespace}/${name} is in another namespace and no ReferenceGrant allows it`) };
  }
  const port = typeof ref.port === 'number' ? ref.port : undefined;
  if (port === undefined) return { problem: cond('ResolvedRefs', false, 'BackendNotFound', `backendRef Service ${namespace}/${name} names no port`) };
  const r = resolveServiceBackend(state.resources, namespace, name, port, { protocol });
  if ('problem' in r) return { problem: cond('ResolvedRefs', false, r.problem, r.message) };
  const upstream = r.upstream as { name: string; targets: Record<string, unknown>[] };
  state.upstreams.set(upstream.name, r.upstream);
  return { upstream: upstream.name, targets: upstream.targets };
}

/** Whether a mirror's copies (HTTP/1.1 requests) can go to these targets: none of them is HTTP/2-only (`grpc://`). */
export const copiesOver = (targets: readonly Record<string, unknown>[]): boolean => targets.every((t) => /^https?:\/\//.test(String(t.url)));

/** An HTTPHeaderFilter as `headers` edits (names lower-cased, the first of a repeated name kept). */
export function headerEdits(filter: unknown): Record<string, unknown> {
  const f = rec(filter);
  const out: Record<string, unknown> = {};
  const pairs = (v: unknown): Record<string, string> => {
    const o: Record<string, string> = {};
    for (const h of list(v)) {
      if (typeof h.name !== 'string' || typeof h.value !== 'string') throw new Refusal('UnsupportedValue', 'a header modifier entry needs a name and a value');
      const n = h.name.toLowerCase();
      if (!(n in o)) o[n] = h.value;
    }
    return o;
  };
  const set = pairs(f.set);
  const add = pairs(f.add);
  const remove = Array.isArray(f.remove) ? f.remove.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : [];
  if (Object.keys(set).length > 0) out.set = set;
  if (Object.keys(add).length > 0) out.add = add;
  if (remove.length > 0) out.remove = remove;
  return out;
}

/** A Gateway API duration (`1h30m`, `500ms`, `0s`) in milliseconds, as Northgate writes it; undefined for 0 (no limit). */
export function duration(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(v)) throw new Refusal('UnsupportedValue', `${what} ${JSON.stringify(v)} is not a Gateway API duration`);
  let ms = 0;
  for (const m of v.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const)[m[2] as 'h' | 'm' | 's' | 'ms'];
  return ms === 0 ? undefined : `${ms}ms`;
}

/** Escapes RE2 metacharacters: a literal inside a pattern. */
export const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A key for "matches the same requests": the config refuses two routes with one. */
export function matchKey(host: string | null, route: Record<string, unknown>): string {
  const path = String((route.paths as string[])[0]);
  const shape = path.startsWith('~') || path.startsWith('=') || path === '/' ? path : path.replace(/\/$/, '');
  const methods = [...((route.methods as string[] | undefined) ?? [])].sort().join(',');
  const headers = JSON.stringify(Object.entries((route.headers as Record<string, string[]> | undefined) ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  const query = JSON.stringify(Object.entries((route.query as Record<string, string> | undefined) ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  return `${host ?? ''}|${shape}|${methods}|${headers}|${query}|${String(route.listeners)}`;
}

/** Routes in the Gateway API's precedence between routes: the oldest first, then by namespace/name. */
export function byAge(a: KubeObject, b: KubeObject): number {
  const ta = String(a.metadata['creationTimestamp'] ?? '');
  const tb = String(b.metadata['creationTimestamp'] ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** A rule's request-mirror with one more mirror: the single form for the first, the list form from the second. */
export function withMirror(current: unknown, mirror: Record<string, unknown>): Record<string, unknown> {
  if (current === undefined) return mirror;
  const c = current as Record<string, unknown>;
  return { mirrors: [...(Array.isArray(c.mirrors) ? (c.mirrors as Array<Record<string, unknown>>) : [c]), mirror] };
}
