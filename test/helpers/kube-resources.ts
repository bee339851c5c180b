// Kubernetes resources for translation tests: a ResourceSnapshot from YAML documents, and the
// Gateway API conformance suite's manifests made servable without a cluster (our GatewayClass,
// an EndpointSlice with one ready endpoint per Service port, the suite's TLS Secret).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Kind, KubeObject } from '../../src/kubernetes/resources.js';
import { kindOfManifest, keyOf } from '../../src/kubernetes/resources.js';
import type { ResourceSnapshot } from '../../src/kubernetes/store.js';

export const CONFORMANCE_DIR = '/work/shared/conformance/gateway-api/manifests';
export const CLASS = 'northgate';

export function parseDocs(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

/** A snapshot of the objects the controller reads (other kinds are passed over, as the store does). */
export function snapshotOf(objects: readonly KubeObject[]): ResourceSnapshot {
  const lists = new Map<Kind, KubeObject[]>();
  for (const o of objects) {
    const info = kindOfManifest(o.apiVersion, o.kind) ?? (o.kind === 'Namespace' ? { kind: 'Namespace' as Kind } : undefined);
    if (info === undefined) continue;
    lists.set(info.kind, [...(lists.get(info.kind) ?? []), o]);
  }
  for (const l of lists.values()) l.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
  return { version: 1, get: (kind) => lists.get(kind) ?? [] };
}

export function gatewayClass(name = CLASS, controllerName = 'northgate.io/gateway-controller'): KubeObject {
  return { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name, generation: 1 }, spec: { controllerName } };
}

/** One ready endpoint per Service port: 127.0.0.1 at `endpointPort(service, port)` (default the targetPort). */
export function endpointSlicesFor(objects: readonly KubeObject[], endpointPort?: (ns: string, svc: string, port: Record<string, unknown>) => number): KubeObject[] {
  const out: KubeObject[] = [];
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const ns = o.metadata.namespace ?? 'default';
    const ports = ((o.spec as { ports?: Array<Record<string, unknown>> }).ports ?? []);
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${o.metadata.name}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': o.metadata.name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: ports.map((p) => ({ ...(typeof p.name === 'string' ? { name: p.name } : {}), port: endpointPort?.(ns, o.metadata.name, p) ?? (typeof p.targetPort === 'number' ? p.targetPort : Number(p.port)), protocol: 'TCP', ...(typeof p.appProtocol === 'string' ? { appProtocol: p.appProtocol } : {}) })),
    });
  }
  return out;
}

export function tlsSecret(namespace: string, name: string, certPem: string | Buffer, keyPem: string | Buffer): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace }, data: { 'tls.crt': Buffer.from(certPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') } };
}

const parsed = new Map<string, KubeObject[]>();

/** A manifest file of the suite, parsed once per process (the base file, 900 lines, is in every case); a fresh copy each call. */
function manifestObjects(file: string): KubeObject[] {
  let objects = parsed.get(file);
  if (objects === undefined) parsed.set(file, (objects = parseDocs(readFileSync(join(CONFORMANCE_DIR, file), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', CLASS))));
  return structuredClone(objects);
}

/** The base manifests and one test's, with the class placeholder replaced, our GatewayClass and EndpointSlices added. */
export function conformanceObjects(file: string, extra: KubeObject[] = []): KubeObject[] {
  const objects = [...manifestObjects('conformance__base__manifests.yaml'), ...(file === '' ? [] : manifestObjects(file))];
  const withGen = objects.map((o) => ({ ...o, metadata: { ...o.metadata, generation: o.metadata.generation ?? 1 } }));
  return [gatewayClass(), ...withGen, ...endpointSlicesFor(withGen), ...extra];
}

/** The status the translation gives an object. */
export function statusOf(statuses: ReadonlyArray<{ kind: string; namespace?: string; name: string; status: Record<string, unknown> }>, kind: string, name: string, namespace = 'gateway-conformance-infra'): Record<string, unknown> {
  const s = statuses.find((x) => x.kind === kind && x.name === name && (x.namespace ?? '') === (kind === 'GatewayClass' ? '' : namespace));
  if (s === undefined) throw new Error(`no status for ${kind} ${namespace}/${name}`);
  return s.status;
}

export type Cond = { type: string; status: string; reason: string; observedGeneration?: number };
export const condition = (conds: unknown, type: string): Cond | undefined => (conds as Cond[] | undefined)?.find((c) => c.type === type);
