// Listeners of one port: the hosts a route keeps when more specific listeners of its port
// take theirs, HTTPS listeners told apart by server name (`sni_names`, its checks and its
// table), invalid backends in a config, and the Ingress's one-label wildcards.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { CertDir } from '../helpers/certs.js';
import { gatewayClass, parseDocs, snapshotOf, tlsSecret } from '../helpers/kube-resources.js';
import { translate } from '../../src/kubernetes/translate/index.js';
import { translateIngresses } from '../../src/kubernetes/translate/ingress.js';
import { unclaimedHosts } from '../../src/kubernetes/translate/hostnames.js';
import { invalidBackend } from '../../src/kubernetes/translate/backends.js';
import { ListenerHosts } from '../../src/router/listener-hosts.js';
import type { KubeObject } from '../../src/kubernetes/resources.js';

const certs = new CertDir().ca('ca').leaf('gw', 'a.test', 'ca', 'DNS:a.test');

describe('hosts a more specific listener of the port claims', () => {
  test('a host wholly within a more specific listener hostname is left out; a partly covered wildcard stays', () => {
    const others = ['*.example.com', '*.foo.example.com', 'abc.foo.example.com'];
    assert.deepEqual(unclaimedHosts(undefined, ['bar.com', '*.example.com', '*.foo.example.com', 'abc.foo.example.com', 'x.example.com'], others), ['bar.com']);
    assert.deepEqual(unclaimedHosts('*.example.com', ['*.example.com', '*.foo.example.com', 'abc.foo.example.com', 'a.example.com'], others), ['*.example.com', 'a.example.com']);
    assert.deepEqual(unclaimedHosts('*.foo.example.com', ['*.foo.example.com', 'abc.foo.example.com'], others), ['*.foo.example.com']);
    assert.deepEqual(unclaimedHosts('abc.foo.example.com', ['abc.foo.example.com'], others), ['abc.foo.example.com']);
    // A listener of the same hostname (another Gateway on the port) is not more specific.
    assert.deepEqual(unclaimedHosts('*.example.com', ['*.example.com'], ['*.example.com']), ['*.example.com']);
    // "*.example.com" does not cover "example.com".
    assert.deepEqual(unclaimedHosts(undefined, ['example.com'], ['*.example.com']), ['example.com']);
  });
});

const GATEWAY = (listeners: string) => `
apiVersion: v1
kind: Service
metadata: { name: svc, namespace: apps }
spec: { ports: [{ port: 8080 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: apps }
spec:
  gatewayClassName: northgate
  listeners:
${listeners}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: apps }
spec:
  parentRefs: [{ name: gw }]
  hostnames: ["a.test", "b.test"]
  rules: [{ backendRefs: [{ name: svc, port: 8080 }] }]
`;
const https = (name: string, hostname?: string) => `    - { name: ${name}, port: 443, protocol: HTTPS, ${hostname !== undefined ? `hostname: "${hostname}", ` : ''}tls: { certificateRefs: [{ name: cert }] } }`;

function translated(listeners: string[]) {
  const objects: KubeObject[] = [gatewayClass(), ...parseDocs(GATEWAY(listeners.join('\n'))), tlsSecret('apps', 'cert', certs.read('gw.crt'), certs.read('gw.key'))];
  const t = translate(snapshotOf(objects), { now: '2026-01-01T00:00:00Z' });
  const proxy = (t.config.listen as { proxy: Array<Record<string, unknown>> }).proxy;
  const routes = (t.config.services as Array<{ name: string; routes: Array<{ hosts?: string[]; listeners: string[] }> }>).find((s) => s.name === 'httproute.apps.r')!.routes;
  return { proxy, routes: routes.map((r) => [r.listeners.join(','), (r.hosts ?? []).join(',')]) };
}

describe('HTTPS listeners of one port by server name', () => {
  test('listeners with hostnames on a shared HTTPS port are names of their own in sni_names; routes are bound to them', () => {
    const { proxy, routes } = translated([https('default'), https('a', 'a.test'), https('wild', '*.wild.test')]);
    assert.equal(proxy.length, 1);
    assert.equal(proxy[0]!.name, 'gateway-443');
    assert.deepEqual(proxy[0]!.sni_names, { 'a.test': 'gateway-443.a.test', '*.wild.test': 'gateway-443-wildcard.wild.test' });
    // a.test is the a listener's (not the default one's); b.test only the default listener serves.
    assert.deepEqual(routes, [['gateway-443', 'b.test'], ['gateway-443.a.test', 'a.test']]);
  });

  test('one HTTPS listener on its port keeps one name and serves any server name', () => {
    const { proxy, routes } = translated([https('a', 'a.test')]);
    assert.equal(proxy[0]!.name, 'gateway-443');
    assert.equal(proxy[0]!.sni_names, undefined);
    assert.deepEqual(routes, [['gateway-443', 'a.test']]);
  });

  test('the table: exact names, then the longest wildcard suffix (one label or more); none for others', () => {
    const t = new ListenerHosts([['a.test', 'A'], ['*.test', 'T'], ['*.b.test', 'B']]);
    assert.equal(t.select('a.test'), 'A');
    assert.equal(t.select('x.test'), 'T');
    assert.equal(t.select('x.b.test'), 'B');
    assert.equal(t.select('y.x.b.test'), 'B');
    assert.equal(t.select('b.test'), 'T');
    assert.equal(t.select('test'), null);
    assert.equal(t.select('.test'), null);
    assert.equal(t.select(''), null);
    assert.deepEqual([...t.names].sort(), ['A', 'B', 'T']);
  });

  const listenerWith = (extra: string, tls = true) => `_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      name: main
${tls ? `      tls: { certificates: [{ cert: "${certs.path('gw.crt')}", key: "${certs.path('gw.key')}" }] }\n` : ''}      ${extra}
services:
  - name: s
    url: http://127.0.0.1:9
    routes:
      - { paths: ["/"], listeners: [by-sni] }
`;

  test('config: sni_names on a TLS listener; its names are listener names for routes; checked hostnames', () => {
    assert.deepEqual(configProblems(listenerWith('sni_names: { "a.test": by-sni, "*.b.test": by-sni }'), 'gw.yaml'), []);
    assert.deepEqual(configProblems(listenerWith('sni_names: { "a.test": other }'), 'gw.yaml'), ['gw.yaml:12:37 services[0].routes[0].listeners[0]: no proxy listener named "by-sni"']);
    assert.deepEqual(configProblems(listenerWith('sni_names: { "a.test": by-sni }', false), 'gw.yaml').map((l) => l.replace(/^gw\.yaml:\d+:\d+ /, '')), ['listen.proxy[0].sni_names: only a TLS listener has server names to choose by']);
    const bad = configProblems(listenerWith('sni_names: { "A_B.test:443": by-sni }'), 'gw.yaml');
    assert.equal(bad.length, 1);
    assert.match(bad[0]!, /listen\.proxy\[0\]\.sni_names\["A_B\.test:443"\]: "A_B\.test:443" is not a lower-case host name/);
  });
});

describe('invalid backends in a config', () => {
  const withBackends = (backends: string) => `_format_version: "1"
upstreams: [{ name: u, targets: [{ url: "http://127.0.0.1:9" }] }]
services:
  - name: s
    upstream: u
    routes:
      - { paths: ["/"], backends: ${backends} }
`;
  test('an invalid backend has only a weight', () => {
    assert.deepEqual(configProblems(withBackends('[{ upstream: u }, { invalid: true, weight: 3 }]'), 'gw.yaml'), []);
    assert.deepEqual(configProblems(withBackends(JSON.stringify([invalidBackend(2)])), 'gw.yaml'), []);
    const both = configProblems(withBackends('[{ invalid: true, upstream: u }]'), 'gw.yaml');
    assert.equal(both.length, 1);
    assert.match(both[0]!, /backends\[0\]: an invalid backend has only a weight/);
    assert.equal(configProblems(withBackends('[{ invalid: false, upstream: u }]'), 'gw.yaml').length, 1);
  });
});

describe('Ingress wildcard hosts', () => {
  test('a "*." rule host becomes a route with wildcard_labels: one; an exact host does not', () => {
    const rule = (host: string) => ({ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'svc', port: { number: 80 } } } }] } });
    const ing: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'apps' }, spec: { ingressClassName: 'northgate', rules: [rule('*.foo.test'), rule('foo.test')] } };
    const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'apps' }, spec: { ports: [{ port: 80 }] } };
    const parts = translateIngresses(snapshotOf([ing, svc]), {});
    const routes = parts.services.flatMap((s) => s.routes as Array<Record<string, unknown>>);
    assert.deepEqual(routes.map((r) => [r.hosts, r.wildcard_labels]), [[['*.foo.test'], 'one'], [['foo.test'], undefined]]);
  });
});
