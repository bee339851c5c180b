// Running Northgate on Kubernetes manifests in tests: free local ports for --port-map, the
// EndpointSlices that point a Service at local echo backends (one per pod), manifest text,
// a bounded wait, and requests with a Host header of our choosing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EchoBackend } from './echo-backend.js';
import { stablePort } from './ports.js';

/** `80=P1,443=P2` for the declared ports, each mapped to a free local port. */
export async function portMap(declared: readonly number[]): Promise<{ text: string; map: Map<number, number> }> {
  const map = new Map<number, number>();
  for (const p of declared) map.set(p, await stablePort());
  return { text: [...map].map(([a, b]) => `${a}=${b}`).join(','), map };
}

/** Polls `pred` every 50 ms, at most `maxMs`; fails with `what` (and the last error) when it never holds. */
export async function until<T>(pred: () => Promise<T | undefined | false> | T | undefined | false, what: string, maxMs = 15_000): Promise<T> {
  const deadline = Date.now() + maxMs;
  let last: unknown = null;
  for (let i = 0; i < 10_000; i++) {
    try {
      const v = await pred();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last !== null ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** An EndpointSlice of `service` in `namespace` whose endpoints are the echo backends (127.0.0.1, each its own port: one slice per backend). */
export function endpointSlices(namespace: string, service: string, ports: ReadonlyArray<{ name?: string; port: number }>, backends: readonly EchoBackend[]): Array<Record<string, unknown>> {
  return backends.map((b, i) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-${i}`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    // Every port of the Service reaches the same local echo (it answers HTTP/1.1 on one port).
    ports: ports.map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), port: b.port, protocol: 'TCP' })),
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: b.pod, namespace } }],
  }));
}

/** Writes objects as one multi-document YAML file. */
export function writeManifests(dir: string, name: string, objects: ReadonlyArray<Record<string, unknown>>): string {
  const file = join(dir, name);
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  return file;
}

export const GATEWAY_CLASS = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'northgate' }, spec: { controllerName: 'northgate.io/gateway-controller' } };

export function gateway(name: string, listeners: ReadonlyArray<{ name: string; port: number; protocol?: string; hostname?: string }>, namespace = 'default'): Record<string, unknown> {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace },
    spec: { gatewayClassName: 'northgate', listeners: listeners.map((l) => ({ protocol: 'HTTP', ...l, allowedRoutes: { namespaces: { from: 'Same' } } })) },
  };
}

export function service(name: string, namespace = 'default', port = 8080): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [{ name: 'http', port, protocol: 'TCP', targetPort: 3000 }] } };
}

export function httpRoute(name: string, gatewayName: string, pathPrefix: string, backend: string, opts: { namespace?: string; hostnames?: string[]; sectionName?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: opts.namespace ?? 'default' },
    spec: {
      parentRefs: [{ name: gatewayName, ...(opts.sectionName !== undefined ? { sectionName: opts.sectionName } : {}) }],
      ...(opts.hostnames !== undefined ? { hostnames: opts.hostnames } : {}),
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: pathPrefix } }], backendRefs: [{ name: backend, port: 8080 }] }],
    },
  };
}
