// A gateway compiled from translated Gateway API resources, against real upstreams (one echo
// server per Service): the Gateway API's match order, hostname intersection, listener
// isolation, routes served only on the listener ports they attached to, weights, header
// modifiers, redirects keeping the declared port, 500 for an invalid backend, 503 for a
// Service without ready endpoints, HTTPS from a Secret.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { translate } from '../../src/kubernetes/translate/index.js';
import type { KubeObject } from '../../src/kubernetes/resources.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { CertDir } from '../helpers/certs.js';
import { endpointSlicesFor, gatewayClass, parseDocs, snapshotOf, tlsSecret } from '../helpers/kube-resources.js';
import { stablePort } from '../helpers/ports.js';

const certs = new CertDir().ca('ca').leaf('gw', 'secure.example.com', 'ca', 'DNS:secure.example.com');

const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: { name: v1, namespace: apps }
spec: { ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: v2, namespace: apps }
spec: { ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: v3, namespace: apps }
spec: { ports: [{ port: 8080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: apps, generation: 1 }
spec:
  gatewayClassName: northgate
  listeners:
    - { name: http, port: 80, protocol: HTTP }
    - { name: wildcard, port: 80, protocol: HTTP, hostname: "*.example.com" }
    - { name: specific, port: 80, protocol: HTTP, hostname: "abc.example.com" }
    - { name: alt, port: 8080, protocol: HTTP }
    - name: https
      port: 443
      protocol: HTTPS
      hostname: secure.example.com
      tls: { certificateRefs: [{ name: secure-cert }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: order, namespace: apps, creationTimestamp: "2026-01-01T00:00:00Z" }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /order } }]
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /order/deeper } }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: Exact, value: /order/exact } }]
      backendRefs: [{ name: v3, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /order }, headers: [{ name: x-version, value: "2" }] }]
      backendRefs: [{ name: v2, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /order }, method: POST }]
      backendRefs: [{ name: v3, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /order }, queryParams: [{ name: v, value: "3" }] }]
      backendRefs: [{ name: v3, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: hosts, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  hostnames: ["*.example.com"]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /host } }]
      backendRefs: [{ name: v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: any-host, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /anyhost } }]
      backendRefs: [{ name: v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: alt-port, namespace: apps }
spec:
  parentRefs: [{ name: gw, port: 8080 }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /alt } }]
      backendRefs: [{ name: v3, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /moved } }]
      filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: traffic, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /weighted } }]
      backendRefs: [{ name: v1, port: 8080, weight: 3 }, { name: v2, port: 8080, weight: 1 }]
    - matches: [{ path: { type: PathPrefix, value: /headers } }]
      filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Set, value: set }], add: [{ name: X-Add, value: added }], remove: [X-Remove] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { add: [{ name: X-Resp, value: resp }] }
      backendRefs: [{ name: v1, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /broken } }]
      backendRefs: [{ name: missing, port: 8080 }]
    - matches: [{ path: { type: PathPrefix, value: /idle } }]
      backendRefs: [{ name: idle, port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: idle, namespace: apps }
spec: { ports: [{ port: 8080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: secure, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: https }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /secure } }]
      backendRefs: [{ name: v1, port: 8080 }]
`;


describe('a gateway from translated Gateway API resources', () => {
  const echoes = new Map<string, Upstream>();
  let gw: InProcessGateway;
  const port = new Map<number, number>();

  before(async () => {
    for (const name of ['v1', 'v2', 'v3']) {
      echoes.set(name, await startUpstream((req, res) => {
        const body = JSON.stringify({ backend: name, url: req.url, host: req.headers.host, headers: req.headers });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      }));
    }
    const objects = parseDocs(MANIFESTS);
    // Every Service but "idle" has its echo as its one ready endpoint.
    const slices = endpointSlicesFor(objects.filter((o) => o.metadata.name !== 'idle'), (_ns, svc) => echoes.get(svc)!.port);
    const all: KubeObject[] = [gatewayClass(), ...objects, ...slices, tlsSecret('apps', 'secure-cert', certs.read('gw.crt'), certs.read('gw.key'))];
    for (const p of [80, 8080, 443]) port.set(p, await stablePort());
    const t = translate(snapshotOf(all), { bindAddress: '127.0.0.1', portMap: port, addresses: ['127.0.0.1'], now: '2026-01-01T00:00:00Z' });
    assert.deepEqual(t.notes.map((n) => n.message).filter((m) => !/missing not found/.test(m)), []);
    gw = await startGateway(JSON.stringify({ ...t.config, listen: { ...(t.config.listen as object), status: null, admin: null } }));
  });
  after(async () => {
    await gw?.close();
    for (const e of echoes.values()) await e.close();
  });

  const get = async (declared: number, path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const r = await http(`http://127.0.0.1:${port.get(declared)}${path}`, { method, headers: { host: 'gw.test', ...headers } });
    return { ...r, backend: r.status === 200 ? (JSON.parse(r.body) as { backend: string }).backend : null, echo: r.status === 200 ? (JSON.parse(r.body) as { headers: Record<string, string>; host: string; url: string }) : null };
  };

  test('match order: exact, then the longest prefix, then method, headers, query parameters', async () => {
    assert.equal((await get(80, '/order/exact')).backend, 'v3');
    assert.equal((await get(80, '/order/deeper/x')).backend, 'v2');
    assert.equal((await get(80, '/order/x')).backend, 'v1');
    assert.equal((await get(80, '/order/x', { 'x-version': '2' })).backend, 'v2');
    assert.equal((await get(80, '/order/x', {}, 'POST')).backend, 'v3');
    assert.equal((await get(80, '/order/x?v=3')).backend, 'v3');
    assert.equal((await get(80, '/orderx')).status, 404);
  });

  test('hostname intersection and listener isolation', async () => {
    assert.equal((await get(80, '/host', { host: 'a.example.com' })).backend, 'v2');
    assert.equal((await get(80, '/host', { host: 'abc.example.com' })).backend, 'v2');
    assert.equal((await get(80, '/host', { host: 'other.test' })).status, 404);
    // The route with no hostname attached to the listener without one: a host a more specific listener owns is not its.
    assert.equal((await get(80, '/anyhost', { host: 'other.test' })).backend, 'v1');
    assert.equal((await get(80, '/anyhost', { host: 'a.example.com' })).status, 404);
  });

  test('a route is served only on the listener ports it attached to', async () => {
    assert.equal((await get(8080, '/alt')).backend, 'v3');
    assert.equal((await get(80, '/alt')).status, 404);
    assert.equal((await get(8080, '/order/x')).status, 404);
  });

  test('a redirect without port or scheme keeps the declared listener port', async () => {
    const r = await get(8080, '/moved/a?q=1', { host: 'gw.test:1234' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://gw.test:8080/new/a?q=1');
  });

  test('weights: 3 to 1, exactly over a run of four', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push((await get(80, '/weighted')).backend!);
    assert.equal(seen.filter((b) => b === 'v1').length, 6);
    assert.equal(seen.filter((b) => b === 'v2').length, 2);
  });

  test('request and response header modifiers; the client Host is kept', async () => {
    const r = await get(80, '/headers', { 'x-add': 'first', 'x-remove': 'gone', 'x-set': 'old' });
    assert.equal(r.echo!.headers['x-set'], 'set');
    assert.equal(r.echo!.headers['x-add'], 'first, added');
    assert.equal(r.echo!.headers['x-remove'], undefined);
    assert.equal(r.echo!.host, 'gw.test');
    assert.equal(r.headers['x-resp'], 'resp');
  });

  test('an invalid backendRef answers 500; a Service without ready endpoints 503', async () => {
    assert.equal((await get(80, '/broken')).status, 500);
    const idle = await get(80, '/idle');
    assert.equal(idle.status, 503);
    assert.equal(idle.headers['retry-after'], '1');
  });

  test('HTTPS with the certificate from the Secret, by SNI', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: port.get(443), path: '/secure', servername: 'secure.example.com', headers: { host: 'secure.example.com' }, ca: certs.read('ca.crt'), agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal((JSON.parse(body) as { backend: string }).backend, 'v1');
  });
});
