// GatewayClasses and Gateways: which are ours, which of their listeners are valid, and the
// Northgate proxy listener (one per port) each valid listener is served on. HTTPS listeners
// with hostnames that share a port with others are told apart by the TLS server name: each
// is a name of its own on the port's Northgate listener (`sni_names`). Routes attach to
// the listeners this builds (attach.ts); the status of both is computed here from the result.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Kind, KubeObject, ObjectStatus, ResourceSnapshot, TranslationNote } from './model.js';
import { cond, finishConditions, type ConditionInput } from './conditions.js';
import { normalizeHostname } from './hostnames.js';
import { referenceAllowed } from './reference-grants.js';
import { boundedName, findObject } from './backends.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export type RouteKind = 'HTTPRoute' | 'GRPCRoute';
const ROUTE_KINDS: readonly RouteKind[] = ['HTTPRoute', 'GRPCRoute'];

export interface LabelSelector { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }

export interface ListenerModel {
  readonly gateway: GatewayModel;
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly hostname: string | undefined;
  readonly from: 'Same' | 'All' | 'Selector';
  readonly selector: LabelSelector | undefined;
  readonly kinds: ReadonlySet<RouteKind>;
  readonly certificates: Array<{ cert_pem: string; key_pem: string }>;
  readonly conditions: ConditionInput[];
  /** Valid, not conflicted, on an accepted Gateway: routes may attach and it is served. */
  ready: boolean;
  /** Routes may attach (and are counted in attachedRoutes) though it is not served: its references did not resolve. */
  attachable: boolean;
  attached: number;
  /**
   * The Northgate listener name (`listen.proxy[].name`, or a name of its `sni_names`) its
   * routes are bound to: `gateway-PORT`, or on a shared HTTPS port a name per hostname.
   */
  proxyName: string;
}

export interface GatewayModel {
  readonly obj: KubeObject;
  readonly namespace: string;
  readonly name: string;
  readonly listeners: ListenerModel[];
  accepted: boolean;
  readonly conditions: ConditionInput[];
}

export interface GatewayIndex {
  readonly gateways: ReadonlyMap<string, GatewayModel>;
  readonly statuses: ObjectStatus[];
  readonly notes: TranslationNote[];
  /** Declared port → protocol of the Northgate listener it becomes. */
  readonly ports: Map<number, 'HTTP' | 'HTTPS'>;
}

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.map(rec) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export const proxyListenerName = (port: number): string => `gateway-${port}`;

/** The name an HTTPS listener with a hostname is served as on a shared port (chosen by SNI). */
export const sniListenerName = (port: number, hostname: string): string =>
  boundedName(hostname.startsWith('*.') ? `gateway-${port}-wildcard${hostname.slice(1)}` : `gateway-${port}.${hostname}`);

export function buildGateways(resources: ResourceSnapshot, controllerName: string, now: string): GatewayIndex {
  const statuses: ObjectStatus[] = [];
  const notes: TranslationNote[] = [];
  const classes = new Map<string, boolean>();
  for (const gc of resources.get('GatewayClass')) {
    const spec = rec(gc.spec);
    if (spec.controllerName !== controllerName) continue;
    const params = spec.parametersRef !== undefined && spec.parametersRef !== null;
    const accepted = params ? cond('Accepted', false, 'InvalidParameters', 'parametersRef is not supported: Northgate GatewayClasses take no parameters') : cond('Accepted', true, 'Accepted', 'the GatewayClass is accepted');
    classes.set(gc.metadata.name, !params);
    if (params) notes.push({ kind: 'GatewayClass', name: gc.metadata.name, message: accepted.message });
    statuses.push({ kind: 'GatewayClass', name: gc.metadata.name, ...gen(gc), status: { conditions: finishConditions([accepted], rec(gc.status).conditions, gc.metadata.generation, now) } });
  }

  const gateways = new Map<string, GatewayModel>();
  const ports = new Map<number, 'HTTP' | 'HTTPS'>();
  for (const gw of resources.get('Gateway')) {
    const spec = rec(gw.spec);
    const className = str(spec.gatewayClassName);
    if (className === undefined || !classes.has(className)) continue;
    const namespace = gw.metadata.namespace ?? 'default';
    const model: GatewayModel = { obj: gw, namespace, name: gw.metadata.name, listeners: [], accepted: false, conditions: [] };
    for (const l of list(spec.listeners)) model.listeners.push(buildListener(resources, model, l));
    markConflicts(model.listeners);
    for (const l of model.listeners) {
      if (!l.ready) continue;
      const want = l.protocol as 'HTTP' | 'HTTPS';
      const have = ports.get(l.port);
      if (have === undefined) ports.set(l.port, want);
      else if (have !== want) refuseConflict(l, 'ProtocolConflict', `port ${l.port} is served as ${have} for another Gateway`);
    }
    const problem = !classes.get(className)
      ? cond('Accepted', false, 'InvalidParameters', `GatewayClass ${className} is not accepted`)
      : list(spec.addresses).length > 0
        ? cond('Accepted', false, 'UnsupportedAddress', 'spec.addresses is not supported: the addresses are those of the Northgate Service')
        : spec.infrastructure !== undefined && rec(spec.infrastructure).parametersRef !== undefined
          ? cond('Accepted', false, 'InvalidParameters', 'infrastructure.parametersRef is not supported')
          : undefined;
    const valid = model.listeners.filter((l) => l.attachable).length;
    const served = model.listeners.filter((l) => l.ready).length;
    if (problem !== undefined) {
      model.conditions.push(problem, cond('Programmed', false, 'Invalid', problem.message));
      for (const l of model.listeners) l.ready = l.attachable = false;
      notes.push({ kind: 'Gateway', namespace, name: model.name, message: problem.message });
    } else if (valid === 0) {
      const m = 'no listener is valid';
      model.conditions.push(cond('Accepted', false, 'ListenersNotValid', m), cond('Programmed', false, 'Invalid', m));
      notes.push({ kind: 'Gateway', namespace, name: model.name, message: m });
    } else {
      model.accepted = true;
      const some = served < model.listeners.length;
      model.conditions.push(
        some ? cond('Accepted', true, 'ListenersNotValid', `${model.listeners.length - served} of ${model.listeners.length} listeners are not valid`) : cond('Accepted', true, 'Accepted', 'the Gateway is accepted'),
        served > 0 ? cond('Programmed', true, 'Programmed', 'the Gateway is served') : cond('Programmed', false, 'Invalid', 'no listener is served'),
      );
    }
    gateways.set(`${namespace}/${model.name}`, model);
  }
  nameBySni(gateways, ports);
  return { gateways, statuses, notes, ports };
}

/**
 * On an HTTPS port with more than one listener, those with a hostname are served as names of
 * their own, chosen by the connection's server name: a request goes to the listener its SNI
 * selects (and its Host must agree: 421 otherwise), as the Gateway API asks. A port with one
 * listener keeps one name and serves any server name.
 */
function nameBySni(gateways: ReadonlyMap<string, GatewayModel>, ports: ReadonlyMap<number, 'HTTP' | 'HTTPS'>): void {
  const byPort = new Map<number, ListenerModel[]>();
  for (const g of gateways.values()) for (const l of g.listeners) if (l.ready && ports.get(l.port) === 'HTTPS') byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const [port, ready] of byPort) {
    if (ready.length < 2) continue;
    for (const l of ready) if (l.hostname !== undefined) l.proxyName = sniListenerName(port, l.hostname);
  }
}

/** `sni_names` of the Northgate listener of a port: hostname → name, for the listeners nameBySni named; undefined when none. */
export function sniNames(listeners: readonly ListenerModel[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const l of listeners) if (l.ready && l.hostname !== undefined && l.proxyName !== proxyListenerName(l.port)) out[l.hostname] = l.proxyName;
  return Object.keys(out).length > 0 ? out : undefined;
}

function buildListener(resources: ResourceSnapshot, gateway: GatewayModel, l: Record<string, unknown>): ListenerModel {
  const name = str(l.name) ?? '';
  const port = typeof l.port === 'number' && Number.isInteger(l.port) && l.port > 0 && l.port < 65536 ? l.port : 0;
  const protocol = str(l.protocol) ?? '';
  const hostname = l.hostname === undefined || l.hostname === null || l.hostname === '' ? undefined : (normalizeHostname(l.hostname) ?? '!invalid');
  const allowed = rec(l.allowedRoutes);
  const ns = rec(allowed.namespaces);
  const from = ns.from === 'All' || ns.from === 'Selector' ? ns.from : 'Same';
  const conditions: ConditionInput[] = [];
  const model: ListenerModel = {
    gateway, name, port, protocol, hostname: hostname === '!invalid' ? undefined : hostname, from, selector: from === 'Selector' ? (rec(ns.selector) as LabelSelector) : undefined,
    kinds: new Set(), certificates: [], conditions, ready: false, attachable: false, attached: 0, proxyName: proxyListenerName(port),
  };
  const kinds = model.kinds as Set<RouteKind>;
  let invalidKinds = false;
  const requested = list(allowed.kinds);
  const http = protocol === 'HTTP' || protocol === 'HTTPS';
  if (requested.length === 0 && http) ROUTE_KINDS.forEach((k) => kinds.add(k));
  for (const k of requested) {
    const group = k.group === undefined ? GATEWAY_GROUP : k.group;
    if (http && group === GATEWAY_GROUP && ROUTE_KINDS.includes(k.kind as RouteKind)) kinds.add(k.kind as RouteKind);
    else invalidKinds = true;
  }
  let accepted = cond('Accepted', true, 'Accepted', 'the listener is accepted');
  let refs = cond('ResolvedRefs', true, 'ResolvedRefs', 'every reference is resolved');
  if (protocol !== 'HTTP' && protocol !== 'HTTPS') accepted = cond('Accepted', false, 'UnsupportedProtocol', `protocol ${protocol} is not supported (HTTP, HTTPS)`);
  else if (port === 0) accepted = cond('Accepted', false, 'PortUnavailable', 'the port is not a valid port number');
  else if (hostname === '!invalid') accepted = cond('Accepted', false, 'UnsupportedValue', 'the hostname is not a valid DNS name');
  if (invalidKinds) refs = cond('ResolvedRefs', false, 'InvalidRouteKinds', 'allowedRoutes.kinds names a kind that is not supported (HTTPRoute, GRPCRoute)');
  if (accepted.status === 'True' && protocol === 'HTTPS') {
    const tls = rec(l.tls);
    if (tls.mode === 'Passthrough') accepted = cond('Accepted', false, 'UnsupportedProtocol', 'TLS Passthrough is not supported on HTTPS listeners');
    else {
      const problem = resolveCertificates(resources, gateway, list(tls.certificateRefs), model.certificates);
      if (problem !== undefined) refs = problem;
    }
  }
  const ok = accepted.status === 'True' && (refs.status === 'True' || refs.reason === 'InvalidRouteKinds');
  conditions.push(accepted, refs, cond('Conflicted', false, 'NoConflicts', 'no conflict with another listener'), ok ? cond('Programmed', true, 'Programmed', 'the listener is served') : cond('Programmed', false, 'Invalid', refs.status === 'False' ? refs.message : accepted.message));
  model.ready = ok;
  // A listener whose certificates did not resolve still takes routes (counted, not served), as the spec asks.
  model.attachable = ok || (accepted.status === 'True' && refs.reason !== 'InvalidRouteKinds');
  return model;
}

function resolveCertificates(resources: ResourceSnapshot, gateway: GatewayModel, refs: Record<string, unknown>[], out: Array<{ cert_pem: string; key_pem: string }>): ConditionInput | undefined {
  if (refs.length === 0) return cond('ResolvedRefs', false, 'InvalidCertificateRef', 'an HTTPS listener needs tls.certificateRefs');
  for (const ref of refs) {
    const group = typeof ref.group === 'string' ? ref.group : '';
    const kind = typeof ref.kind === 'string' ? ref.kind : 'Secret';
    const name = str(ref.name) ?? '';
    const namespace = str(ref.namespace) ?? gateway.namespace;
    if (group !== '' || kind !== 'Secret') return cond('ResolvedRefs', false, 'InvalidCertificateRef', `certificateRef ${kind} ${name}: only core Secrets are supported`);
    if (!referenceAllowed(resources, { group: GATEWAY_GROUP, kind: 'Gateway', namespace: gateway.namespace }, { group: '', kind: 'Secret', namespace, name })) {
      return cond('ResolvedRefs', false, 'RefNotPermitted', `Secret ${namespace}/${name} is in another namespace and no ReferenceGrant allows it`);
    }
    const secret = findObject(resources, 'Secret', namespace, name);
    const pair = secret === undefined ? undefined : keyPair(secret);
    if (pair === undefined) return cond('ResolvedRefs', false, 'InvalidCertificateRef', `Secret ${namespace}/${name} ${secret === undefined ? 'not found' : 'does not hold a valid tls.crt and tls.key'}`);
    out.push(pair);
  }
  return undefined;
}

/** tls.crt and tls.key of a Secret, when they are PEM of a certificate and its key. */
function keyPair(secret: KubeObject): { cert_pem: string; key_pem: string } | undefined {
  const data = rec(secret.data);
  const decode = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined);
  const cert = decode(data['tls.crt']);
  const key = decode(data['tls.key']);
  if (cert === undefined || key === undefined) return undefined;
  try {
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) return undefined;
  } catch {
    return undefined;
  }
  return { cert_pem: cert, key_pem: key };
}

/** Listeners of one Gateway on one port: one protocol per port, one listener per hostname. */
function markConflicts(listeners: ListenerModel[]): void {
  const byPort = new Map<number, ListenerModel[]>();
  for (const l of listeners) if (l.attachable) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  for (const [port, same] of byPort) {
    if (new Set(same.map((l) => l.protocol)).size > 1) {
      for (const l of same) refuseConflict(l, 'ProtocolConflict', `listeners on port ${port} use different protocols`);
      continue;
    }
    const byHost = new Map<string, ListenerModel[]>();
    for (const l of same) byHost.set(l.hostname ?? '', [...(byHost.get(l.hostname ?? '') ?? []), l]);
    for (const [host, group] of byHost) if (group.length > 1) for (const l of group) refuseConflict(l, 'HostnameConflict', `listeners on port ${port} share the hostname "${host}"`);
  }
}

function refuseConflict(l: ListenerModel, reason: string, message: string): void {
  l.ready = false;
  l.attachable = false;
  const i = l.conditions.findIndex((c) => c.type === 'Conflicted');
  l.conditions[i] = cond('Conflicted', true, reason, message);
  const p = l.conditions.findIndex((c) => c.type === 'Programmed');
  l.conditions[p] = cond('Programmed', false, 'Invalid', message);
}

/** Whether a route in `namespace` may attach to `l` by its allowedRoutes.namespaces. */
export function namespaceAllowed(resources: ResourceSnapshot, l: ListenerModel, namespace: string): boolean {
  if (l.from === 'All') return true;
  if (l.from === 'Same') return namespace === l.gateway.namespace;
  const nsObj = (resources.get('Namespace' as Kind) ?? []).find((o) => o.metadata.name === namespace);
  const labels: Record<string, string> = { ...(rec(nsObj?.metadata.labels) as Record<string, string>), 'kubernetes.io/metadata.name': namespace };
  return selectorMatches(l.selector ?? {}, labels);
}

function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(rec(sel.matchLabels))) if (labels[k] !== v) return false;
  for (const e of list(sel.matchExpressions)) {
    const key = String(e.key);
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    const has = Object.hasOwn(labels, key);
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[key]!)) return false; break;
      case 'NotIn': if (has && values.includes(labels[key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

export function gen(o: KubeObject): { generation?: number } {
  return typeof o.metadata.generation === 'number' ? { generation: o.metadata.generation } : {};
}

/** Gateway status, once routes have attached (attachedRoutes is counted by then). */
export function gatewayStatuses(index: GatewayIndex, addresses: readonly string[], now: string): ObjectStatus[] {
  const out: ObjectStatus[] = [];
  for (const g of index.gateways.values()) {
    const prevListeners = list(rec(g.obj.status).listeners);
    const conditions = [...g.conditions];
    if (g.accepted && addresses.length === 0 && conditions[1]!.status === 'True') conditions[1] = cond('Programmed', false, 'AddressNotAssigned', 'no address is known for the gateway');
    out.push({
      kind: 'Gateway', namespace: g.namespace, name: g.name, ...gen(g.obj),
      status: {
        addresses: addresses.map((a) => ({ type: /^[0-9.]+$|:/.test(a) ? 'IPAddress' : 'Hostname', value: a })),
        conditions: finishConditions(conditions, rec(g.obj.status).conditions, g.obj.metadata.generation, now),
        listeners: g.listeners.map((l) => ({
          name: l.name,
          supportedKinds: ROUTE_KINDS.filter((k) => l.kinds.has(k)).map((kind) => ({ group: GATEWAY_GROUP, kind })),
          attachedRoutes: l.attached,
          conditions: finishConditions(l.conditions, prevListeners.find((p) => p.name === l.name)?.conditions, g.obj.metadata.generation, now),
        })),
      },
    });
  }
  return out;
}
