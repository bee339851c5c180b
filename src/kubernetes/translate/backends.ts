// A Service port as a Northgate upstream: its targets are the ready endpoints of the
// Service's EndpointSlices, its scheme follows the port's appProtocol. Shared by the Gateway
// API and the Ingress translators, so that one Service port is one upstream whoever names it.
import { createHash } from 'node:crypto';
import type { KubeObject, ResourceSnapshot } from './model.js';

export type BackendProblem = 'BackendNotFound' | 'UnsupportedProtocol';

export type BackendResolution =
  | {
      /** A Northgate upstream (`upstreams[]` entry): name, targets (possibly none), sorted and deduplicated. */
      readonly upstream: Record<string, unknown>;
      /** The Service port's number (what a backendRef names). */
      readonly port: number;
      /** The number of ready endpoints (0: every request to it is answered 503). */
      readonly endpoints: number;
    }
  | { readonly problem: BackendProblem; readonly message: string };

export interface BackendOptions {
  /** `grpc`: the backend speaks HTTP/2 (a GRPCRoute's), whatever its appProtocol says. Default `http`. */
  readonly protocol?: 'http' | 'grpc';
}

/** An upstream name fits the config's name rule (128 characters of [A-Za-z0-9._-]). */
const MAX_NAME = 128;

/**
 * The upstream name of a Service port: `NAMESPACE.SERVICE.PORT`. Namespaces and Service names
 * are DNS labels (no dots), so the name is unambiguous; one longer than the config allows is
 * cut and ends with a hash of the whole.
 */
export function upstreamName(namespace: string, service: string, port: number | string): string {
  const full = `${namespace}.${service}.${port}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 12);
  return `${full.slice(0, MAX_NAME - 13)}-${hash}`;
}

/**
 * No passive health (outlier ejection) for a Service's endpoints. The Gateway API has none in
 * its core, and implementations turn it on only by a policy of their own (Envoy Gateway's
 * BackendTrafficPolicy; ingress-nginx's max-fails is 0): a user expects a backend's 5xx answers
 * to reach the client, and a Service with one endpoint must not be taken out of traffic by its
 * own errors. Kubernetes' readiness probes already remove unready endpoints from the
 * EndpointSlices, and so from the targets.
 */
const noEjection = (): Record<string, unknown> => ({ healthcheck: { passive: { consecutive_failures: 0 } } });

interface ServicePort { name?: string; port: number; targetPort?: number | string; appProtocol?: string; protocol?: string }

/** The scheme of a target for an appProtocol, or undefined when it is not supported. */
function schemeOf(appProtocol: string | undefined, opts: BackendOptions): 'http' | 'grpc' | undefined {
  if (opts.protocol === 'grpc') return 'grpc';
  if (appProtocol === undefined || appProtocol === '') return 'http';
  switch (appProtocol.toLowerCase()) {
    case 'http':
    case 'kubernetes.io/ws':
      return 'http';
    case 'kubernetes.io/h2c':
    case 'h2c':
    case 'grpc':
      return 'grpc';
    default:
      return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function findObject(resources: ResourceSnapshot, kind: 'Service' | 'Secret', namespace: string, name: string): KubeObject | undefined {
  return resources.get(kind).find((o) => o.metadata.name === name && (o.metadata.namespace ?? '') === namespace);
}

function servicePorts(svc: KubeObject): ServicePort[] {
  const out: ServicePort[] = [];
  for (const p of arr(rec(svc.spec).ports)) {
    const r = rec(p);
    const port = num(r.port);
    if (port === undefined) continue;
    const tp = r.targetPort;
    out.push({ name: str(r.name), port, targetPort: typeof tp === 'number' || typeof tp === 'string' ? tp : undefined, appProtocol: str(r.appProtocol), protocol: str(r.protocol) });
  }
  return out;
}

/**
 * The upstream of `serviceName`'s port `port` (a number, a port name, or undefined when the
 * Service has exactly one port) in `namespace`.
 */
export function resolveServiceBackend(resources: ResourceSnapshot, namespace: string, serviceName: string, port: number | string | undefined, opts: BackendOptions = {}): BackendResolution {
  const svc = findObject(resources, 'Service', namespace, serviceName);
  if (svc === undefined) return { problem: 'BackendNotFound', message: `Service ${namespace}/${serviceName} not found` };
  const ports = servicePorts(svc);
  let sp: ServicePort | undefined;
  if (port === undefined) {
    if (ports.length === 1) sp = ports[0];
    else return { problem: 'BackendNotFound', message: `Service ${namespace}/${serviceName} has ${ports.length} ports: a port must be named` };
  } else {
    sp = ports.find((p) => (typeof port === 'number' ? p.port === port : p.name === port));
  }
  if (sp === undefined) return { problem: 'BackendNotFound', message: `Service ${namespace}/${serviceName} has no port ${port}` };
  if (sp.protocol !== undefined && sp.protocol !== 'TCP') return { problem: 'UnsupportedProtocol', message: `Service ${namespace}/${serviceName} port ${sp.port} is ${sp.protocol}, not TCP` };
  const scheme = schemeOf(sp.appProtocol, opts);
  if (scheme === undefined) return { problem: 'UnsupportedProtocol', message: `Service ${namespace}/${serviceName} port ${sp.port} has appProtocol ${sp.appProtocol}, which is not supported (http, kubernetes.io/h2c, kubernetes.io/ws)` };
  // A port spoken to as HTTP/2 only because a GRPCRoute names it is an upstream of its own.
  const name = opts.protocol === 'grpc' && schemeOf(sp.appProtocol, {}) !== 'grpc' ? upstreamName(namespace, serviceName, `${sp.port}-grpc`) : upstreamName(namespace, serviceName, sp.port);
  const spec = rec(svc.spec);
  if (spec.type === 'ExternalName') {
    const host = str(spec.externalName);
    if (host === undefined || !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i.test(host)) return { problem: 'BackendNotFound', message: `Service ${namespace}/${serviceName} has no valid externalName` };
    return { upstream: { name, targets: [{ url: `${scheme}://${host.toLowerCase()}:${sp.port}` }], ...noEjection() }, port: sp.port, endpoints: 1 };
  }
  const urls = new Set<string>();
  for (const slice of resources.get('EndpointSlice')) {
    if ((slice.metadata.namespace ?? '') !== namespace) continue;
    if (rec(slice.metadata.labels)['kubernetes.io/service-name'] !== serviceName) continue;
    const addressType = str(slice.addressType);
    if (addressType !== 'IPv4' && addressType !== 'IPv6') continue;
    const slicePort = endpointPort(slice, sp);
    if (slicePort === undefined) continue;
    for (const e of arr(slice.endpoints)) {
      const ep = rec(e);
      // ready unset means ready (the EndpointSlice API); terminating endpoints are not ready.
      if (rec(ep.conditions).ready === false) continue;
      const address = str(arr(ep.addresses)[0]);
      if (address === undefined || !validAddress(address, addressType)) continue;
      urls.add(`${scheme}://${addressType === 'IPv6' ? `[${address}]` : address}:${slicePort}`);
    }
  }
  const targets = [...urls].sort().map((url) => ({ url }));
  return { upstream: { name, targets, ...noEjection() }, port: sp.port, endpoints: targets.length };
}

/** The endpoint port of a slice for a Service port: the slice's port of the same name. */
function endpointPort(slice: KubeObject, sp: ServicePort): number | undefined {
  const ports = arr(slice.ports).map(rec);
  const match = ports.find((p) => (str(p.name) ?? '') === (sp.name ?? ''));
  if (match !== undefined) return num(match.port);
  // A numeric targetPort is the endpoint port when the slice does not list it by name.
  return typeof sp.targetPort === 'number' && ports.length === 0 ? sp.targetPort : undefined;
}

function validAddress(a: string, type: 'IPv4' | 'IPv6'): boolean {
  if (type === 'IPv4') return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(a);
  return /^[0-9a-fA-F:.]{2,45}$/.test(a) && a.includes(':');
}

/** A config name from parts that may be longer than the 128 characters a name may have: cut, with a hash of the whole. */
export function boundedName(full: string): string {
  const clean = full.replace(/[^A-Za-z0-9._-]/g, '-');
  if (clean.length <= MAX_NAME && clean === full) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 12);
  return `${clean.slice(0, MAX_NAME - 13)}-${hash}`;
}

/**
 * The `routes[].backends` entry of a backendRef that does not resolve: it keeps its share of
 * the rule's requests, which the gateway answers 500 (the Gateway API's rule for a rule that
 * also has valid backendRefs).
 */
export function invalidBackend(weight: number): Record<string, unknown> {
  return { invalid: true, weight };
}
