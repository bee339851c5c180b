// HTTPRoutes and GRPCRoutes as Northgate services: one service per route object, one
// Northgate route per (rule × match × proxy listener it attached to), bound to that listener
// (`routes[].listeners`) and to the hosts the hostname intersection gave. Routes are emitted
// oldest first, so the config's last tie-breaker (file order) is the Gateway API's.
import type { KubeObject, ObjectStatus, TranslationNote } from './model.js';
import { cond, finishConditions, type ConditionInput } from './conditions.js';
import { attachRoute, routeHostnames, type ParentResult } from './attach.js';
import { gen, type GatewayIndex, type ListenerModel, type RouteKind } from './gateway.js';
import { boundedName } from './backends.js';
import { byAge, matchKey, NO_BACKEND_UPSTREAM, rec, Refusal, type TranslationState } from './route-parts.js';

/** One match of a rule, in Northgate's route fields. */
export interface MatchSpec {
  readonly paths: [string];
  readonly methods?: string[];
  readonly headers?: Record<string, string[]>;
  readonly query?: Record<string, string>;
}

/** One rule of a route, translated. */
export interface RuleSpec {
  readonly matches: MatchSpec[];
  readonly backends: Record<string, unknown>[];
  /** The route's plugins for a listener with this declared port (redirects default to it). */
  readonly plugins: (declaredPort: number) => Record<string, unknown>;
  readonly timeouts?: Record<string, string>;
}

export interface RuleTranslation {
  readonly rules: RuleSpec[];
  /** ResolvedRefs=False, when a backendRef could not be resolved. */
  readonly problem: ConditionInput | undefined;
  /** What of the rules is served differently from what they ask. */
  readonly notes?: readonly string[];
}

export type RuleTranslator = (state: TranslationState, route: KubeObject) => RuleTranslation;

export interface RoutesOutput {
  services: Record<string, unknown>[];
  /** services[i] was made from owners[i]. */
  owners: Array<{ kind: RouteKind; namespace: string; name: string }>;
  statuses: ObjectStatus[];
  notes: TranslationNote[];
  /** Whether some rule points to the upstream with no targets. */
  usesNoBackend: boolean;
}

export interface RouteContext {
  readonly state: TranslationState;
  readonly index: GatewayIndex;
  readonly controllerName: string;
  readonly now: string;
  /** kind|namespace/name → why the route is refused (a config problem found on an earlier pass). */
  readonly refused: ReadonlyMap<string, string>;
  /** Match keys already served (the first route to claim one keeps it). */
  readonly taken: Map<string, string>;
}

export const objectKey = (kind: string, o: KubeObject): string => `${kind}|${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;

export function translateRoutes(ctx: RouteContext, kind: RouteKind, objects: readonly KubeObject[], translateRules: RuleTranslator, out: RoutesOutput): void {
  const short = kind === 'HTTPRoute' ? 'httproute' : 'grpcroute';
  for (const obj of [...objects].sort(byAge)) {
    const namespace = obj.metadata.namespace ?? 'default';
    const hostnames = routeHostnames(obj);
    const parents = attachRoute(ctx.state.resources, ctx.index, obj, kind, hostnames ?? []);
    if (parents.length === 0) continue;
    let rules: RuleTranslation | undefined;
    let refusal: ConditionInput | undefined;
    try {
      if (hostnames === undefined) throw new Refusal('UnsupportedValue', 'spec.hostnames holds a name that is not a valid hostname');
      const earlier = ctx.refused.get(objectKey(kind, obj));
      if (earlier !== undefined) throw new Refusal('UnsupportedValue', earlier);
      rules = translateRules(ctx.state, obj);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      refusal = cond('Accepted', false, err.reason, err.message);
      out.notes.push({ kind, namespace, name: obj.metadata.name, message: err.message });
    }
    const resolved = rules?.problem ?? cond('ResolvedRefs', true, 'ResolvedRefs', 'every backendRef is resolved');
    if (rules?.problem !== undefined) out.notes.push({ kind, namespace, name: obj.metadata.name, message: rules.problem.message });
    for (const message of rules?.notes ?? []) out.notes.push({ kind, namespace, name: obj.metadata.name, message });
    const served = new Map<string, { listener: ListenerModel; hosts: Set<string> | null }>();
    const counted = new Set<ListenerModel>();
    for (const p of parents) {
      if (refusal !== undefined || p.accepted.status !== 'True') continue;
      for (const a of p.attachments) {
        if (!counted.has(a.listener)) {
          counted.add(a.listener);
          a.listener.attached++;
        }
        if (!a.listener.ready) continue;
        const port = served.get(a.listener.proxyName) ?? { listener: a.listener, hosts: new Set<string>() };
        if (a.hosts === null || port.hosts === null) port.hosts = null;
        else for (const h of a.hosts) port.hosts.add(h);
        served.set(a.listener.proxyName, port);
      }
    }
    out.statuses.push(routeStatus(ctx, kind, obj, parents, refusal, resolved));
    if (rules === undefined || served.size === 0) continue;
    const serviceName = boundedName(`${short}.${namespace}.${obj.metadata.name}`);
    const routes: Record<string, unknown>[] = [];
    rules.rules.forEach((rule, ri) => {
      const backends = rule.backends.length > 0 ? rule.backends : [{ upstream: NO_BACKEND_UPSTREAM, weight: 0 }];
      if (rule.backends.length === 0) out.usesNoBackend = true;
      rule.matches.forEach((m, mi) => {
        for (const [proxyName, { listener, hosts }] of served) {
          const route: Record<string, unknown> = { name: boundedName(`${serviceName}.${ri}.${mi}.${proxyName}`), paths: m.paths };
          if (m.methods !== undefined) route.methods = m.methods;
          if (m.headers !== undefined) route.headers = m.headers;
          if (m.query !== undefined) route.query = m.query;
          route.listeners = [proxyName];
          route.preserve_host = true;
          if (rule.timeouts !== undefined) route.timeouts = rule.timeouts;
          route.backends = backends;
          const plugins = rule.plugins(listener.port);
          if (Object.keys(plugins).length > 0) route.plugins = plugins;
          // Hosts another route already serves with exactly these conditions stay with it.
          const free = (hosts === null ? [null] : [...hosts].sort()).filter((h) => {
            const key = matchKey(h, route);
            if (ctx.taken.has(key)) return false;
            ctx.taken.set(key, route.name as string);
            return true;
          });
          if (free.length === 0) continue;
          if (free[0] !== null) route.hosts = free;
          routes.push(route);
        }
      });
    });
    if (routes.length === 0) continue;
    const first = rules.rules.flatMap((r) => r.backends).find((b) => typeof b.upstream === 'string');
    out.services.push({ name: serviceName, upstream: (first?.upstream as string | undefined) ?? NO_BACKEND_UPSTREAM, routes });
    if (first === undefined) out.usesNoBackend = true;
    out.owners.push({ kind, namespace, name: obj.metadata.name });
  }
}

function routeStatus(ctx: RouteContext, kind: RouteKind, obj: KubeObject, parents: ParentResult[], refusal: ConditionInput | undefined, resolved: ConditionInput): ObjectStatus {
  const previous = Array.isArray(rec(obj.status).parents) ? (rec(obj.status).parents as unknown[]).map(rec) : [];
  const ours = parents.map((p) => {
    const before = previous.find((x) => x.controllerName === ctx.controllerName && sameRef(rec(x.parentRef), p.parentRef));
    return {
      parentRef: p.parentRef,
      controllerName: ctx.controllerName,
      conditions: finishConditions([refusal ?? p.accepted, resolved], before?.conditions, obj.metadata.generation, ctx.now),
    };
  });
  // A merge patch replaces the list: other controllers' entries are written back as they are.
  const others = previous.filter((x) => x.controllerName !== ctx.controllerName);
  return { kind, namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name, ...gen(obj), status: { parents: [...others, ...ours] } };
}

function sameRef(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '') && (a.sectionName ?? '') === (b.sectionName ?? '') && (a.port ?? 0) === (b.port ?? 0);
}

/** Every listener hostname answers 404 for paths its own routes do not serve: requests for it never fall through to a less specific listener's routes. */
export function listenerCatchAlls(index: GatewayIndex): Record<string, unknown>[] {
  const seen = new Set<string>();
  const routes: Record<string, unknown>[] = [];
  for (const g of index.gateways.values()) {
    for (const l of g.listeners) {
      if (!l.ready || l.hostname === undefined) continue;
      const key = `${l.proxyName}|${l.hostname}`;
      if (seen.has(key)) continue;
      seen.add(key);
      routes.push({
        name: boundedName(`listener.${l.proxyName}.${l.hostname.replace('*', 'wildcard')}`),
        hosts: [l.hostname],
        paths: ['/'],
        listeners: [l.proxyName],
        plugins: { 'request-termination': { status: 404, content_type: 'application/problem+json', body: { title: 'Route not found', status: 404, detail: 'no route matches this request' } } },
      });
    }
  }
  return routes;
}
