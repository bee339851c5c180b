// The resource kinds the controller reads, where the API serves them, and the plain-JSON
// shape the store keeps of any of them. Everything else in this layer is keyed by `Kind`.

export type Kind = 'GatewayClass' | 'Gateway' | 'HTTPRoute' | 'GRPCRoute' | 'ReferenceGrant' | 'Ingress' | 'IngressClass' | 'Service' | 'EndpointSlice' | 'Secret' | 'Namespace';

export interface KindInfo {
  readonly kind: Kind;
  /** API group ('' for the core group). */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** A field selector the list and the watch carry (only TLS Secrets are read). */
  readonly fieldSelector?: string;
  /** The status subresource is written for it. */
  readonly status: boolean;
}

const GATEWAY_API = 'gateway.networking.k8s.io';

export const KINDS: readonly KindInfo[] = [
  { kind: 'GatewayClass', group: GATEWAY_API, version: 'v1', plural: 'gatewayclasses', namespaced: false, status: true },
  { kind: 'Gateway', group: GATEWAY_API, version: 'v1', plural: 'gateways', namespaced: true, status: true },
  { kind: 'HTTPRoute', group: GATEWAY_API, version: 'v1', plural: 'httproutes', namespaced: true, status: true },
  { kind: 'GRPCRoute', group: GATEWAY_API, version: 'v1', plural: 'grpcroutes', namespaced: true, status: true },
  { kind: 'ReferenceGrant', group: GATEWAY_API, version: 'v1beta1', plural: 'referencegrants', namespaced: true, status: false },
  { kind: 'Ingress', group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', namespaced: true, status: true },
  { kind: 'IngressClass', group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', namespaced: false, status: false },
  { kind: 'Service', group: '', version: 'v1', plural: 'services', namespaced: true, status: false },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', namespaced: true, status: false },
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', namespaced: true, fieldSelector: 'type=kubernetes.io/tls', status: false },
  // Their labels decide a listener's allowedRoutes.namespaces.from: Selector.
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false, status: false },
];

export const KIND_INFO: ReadonlyMap<Kind, KindInfo> = new Map(KINDS.map((k) => [k.kind, k]));

export const apiVersionOf = (k: KindInfo): string => (k.group === '' ? k.version : `${k.group}/${k.version}`);

/** The collection path across all namespaces: /api/v1/services, /apis/gateway.networking.k8s.io/v1/httproutes. */
export const collectionPath = (k: KindInfo): string => `${k.group === '' ? '/api' : `/apis/${k.group}`}/${k.version}/${k.plural}`;

/** A Kubernetes object as the API serves it (JSON), with the metadata the store reads. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

/** namespace/name, or name for a cluster-scoped object. */
export const keyOf = (o: { metadata: { name: string; namespace?: string } }): string => (o.metadata.namespace !== undefined && o.metadata.namespace !== '' ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

/** The kind a manifest's apiVersion + kind name, or undefined when the controller does not read it. */
export function kindOfManifest(apiVersion: unknown, kind: unknown): KindInfo | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  const info = KIND_INFO.get(kind as Kind);
  if (info === undefined) return undefined;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  // Any served version of the kind's group is read (Gateway API v1beta1 and v1 share a schema for what is read).
  return group === info.group ? info : undefined;
}
