// The Gateway API family: GatewayClasses, Gateways, HTTPRoutes and GRPCRoutes → listeners
// (one per declared port, bound where --port-map says), upstreams, services and status.
import type { ConfigParts, ResourceSnapshot, TranslateOptions } from './model.js';
import { buildGateways, gatewayStatuses, proxyListenerName, sniNames, type ListenerModel } from './gateway.js';
import { listenerCatchAlls, objectKey, translateRoutes, type RoutesOutput } from './routes.js';
import { translateHttpRules } from './httproute.js';
import { translateGrpcRules } from './grpcroute.js';
import { matchKey, NO_BACKEND_UPSTREAM, type TranslationState } from './route-parts.js';

export interface GatewayApiResult {
  readonly parts: ConfigParts;
  /** Service name → the route object it was made from (kind|namespace/name). */
  readonly owners: ReadonlyMap<string, string>;
}

export function translateGatewayApi(resources: ResourceSnapshot, opts: TranslateOptions & { controllerName: string }, now: string, refused: ReadonlyMap<string, string>): GatewayApiResult {
  const index = buildGateways(resources, opts.controllerName, now);
  const state: TranslationState = { resources, upstreams: new Map() };
  const out: RoutesOutput = { services: [], owners: [], statuses: [], notes: [], usesNoBackend: false };
  const ctx = { state, index, controllerName: opts.controllerName, now, refused, taken: new Map<string, string>() };
  translateRoutes(ctx, 'HTTPRoute', resources.get('HTTPRoute'), translateHttpRules, out);
  translateRoutes(ctx, 'GRPCRoute', resources.get('GRPCRoute'), translateGrpcRules, out);
  const catchAlls = listenerCatchAlls(index).filter((r) => {
    const key = matchKey((r.hosts as string[])[0]!, r);
    if (ctx.taken.has(key)) return false;
    ctx.taken.set(key, r.name as string);
    return true;
  });
  if (catchAlls.length > 0) {
    out.services.push({ name: 'gateway-api.listeners', upstream: NO_BACKEND_UPSTREAM, routes: catchAlls });
    out.usesNoBackend = true;
  }
  const upstreams = [...state.upstreams.values()].sort((a, b) => (String(a.name) < String(b.name) ? -1 : 1));
  if (out.usesNoBackend) upstreams.push({ name: NO_BACKEND_UPSTREAM, targets: [] });

  const host = opts.bindAddress ?? '0.0.0.0';
  const bind = host.includes(':') ? `[${host}]` : host;
  const listeners: Record<string, unknown>[] = [];
  const byPort = new Map<number, ListenerModel[]>();
  for (const l of [...index.gateways.values()].flatMap((g) => g.listeners)) if (l.ready) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const [port, ready] of [...byPort].sort((a, b) => a[0] - b[0])) {
    const protocol = ready[0]!.protocol;
    const certificates = protocol === 'HTTPS' ? dedupe(ready.flatMap((l) => l.certificates)) : [];
    const listener: Record<string, unknown> = { address: `${bind}:${opts.portMap?.get(port) ?? port}`, name: proxyListenerName(port), http2: true };
    if (protocol === 'HTTPS') listener.tls = { certificates };
    const names = protocol === 'HTTPS' ? sniNames(ready) : undefined;
    if (names !== undefined) listener.sni_names = names;
    listeners.push(listener);
  }
  const owners = new Map<string, string>();
  out.services.forEach((s, i) => {
    const o = out.owners[i];
    if (o !== undefined) owners.set(String(s.name), objectKey(o.kind, { metadata: { name: o.name, namespace: o.namespace } }));
  });
  const statuses = [...index.statuses, ...gatewayStatuses(index, opts.addresses ?? [], now), ...out.statuses];
  return { parts: { listeners, upstreams, services: out.services, statuses, notes: [...index.notes, ...out.notes] }, owners };
}

function dedupe(certs: Array<{ cert_pem: string; key_pem: string }>): Array<{ cert_pem: string; key_pem: string }> {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.cert_pem) && seen.add(c.cert_pem) !== undefined);
}
