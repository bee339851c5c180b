// Gateway API resources → Northgate config and status, without a cluster: the conformance
// suite's manifests (every one must give a config the compiler accepts), the status reasons
// the spec asks for, the shape of what is served, and resources a cluster user could write to
// make the translation misbehave.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { translate } from '../../src/kubernetes/translate/index.js';
import { resolveServiceBackend, upstreamName } from '../../src/kubernetes/translate/backends.js';
import { intersectHostnames } from '../../src/kubernetes/translate/hostnames.js';
import type { KubeObject } from '../../src/kubernetes/resources.js';
import { validateConfig } from '../../src/compiler/validate.js';
import { buildSnapshot } from '../../src/compiler/load.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';
import type { RawConfig } from '../../src/config/types.js';
import { CertDir } from '../helpers/certs.js';
import { seededRandom } from '../helpers/random.js';
import { CONFORMANCE_DIR, condition, conformanceObjects, endpointSlicesFor, gatewayClass, parseDocs, snapshotOf, statusOf, tlsSecret, type Cond } from '../helpers/kube-resources.js';

/** What the translation gives every Service upstream: passive health off. */
const NO_EJECTION = { healthcheck: { passive: { consecutive_failures: 0 } } };
const NOW = '2026-01-01T00:00:00Z';
const INFRA = 'gateway-conformance-infra';
const certs = new CertDir().ca('ca').leaf('gw', 'gateway.test', 'ca', 'DNS:*.example.com,DNS:example.com,DNS:second-example.org,DNS:*.wildcard.org');
const SECRET = tlsSecret(INFRA, 'tls-validity-checks-certificate', certs.read('gw.crt'), certs.read('gw.key'));
const registry = defaultRegistry();
const pools = new PoolRegistry();
after(() => pools.closeAll());

const run = (objects: KubeObject[], opts: Parameters<typeof translate>[1] = {}) => translate(snapshotOf(objects), { now: NOW, addresses: ['10.0.0.1'], ...opts });
const conformance = (name: string, extra: KubeObject[] = []) => run(conformanceObjects(`conformance__tests__${name}.yaml`, [SECRET, ...extra]));
const services = (t: ReturnType<typeof translate>) => (t.config.services ?? []) as Array<{ name: string; routes: Array<Record<string, unknown>> }>;
const routesOf = (t: ReturnType<typeof translate>, prefix: string) => services(t).filter((s) => s.name.startsWith(prefix)).flatMap((s) => s.routes);
const parentConds = (t: ReturnType<typeof translate>, kind: string, name: string, ns = INFRA) => ((statusOf(t.statuses, kind, name, ns).parents as Array<{ conditions: Cond[]; parentRef: Record<string, unknown> }>));
const listenerStatus = (t: ReturnType<typeof translate>, gw: string, listener: string) => (statusOf(t.statuses, 'Gateway', gw).listeners as Array<{ name: string; attachedRoutes: number; conditions: Cond[]; supportedKinds: unknown[] }>).find((l) => l.name === listener)!;

describe('the conformance manifests', () => {
  const files = readdirSync(CONFORMANCE_DIR).filter((f) => f.startsWith('conformance__tests__'));
  test('every one translates to a config the validator and the compiler accept', () => {
    assert.ok(files.length >= 80);
    for (const f of files) {
      const t = run(conformanceObjects(f, [SECRET]));
      const { problems } = validateConfig(t.config, registry);
      assert.deepEqual(problems, [], f);
      assert.equal(t.notes.filter((n) => n.name === '(config)').length, 0, f);
      buildSnapshot(t.config as unknown as RawConfig, registry, pools, 1, f);
    }
  });

  test('the same resources give the same translation (status included)', () => {
    const a = conformance('httproute-matching');
    const b = conformance('httproute-matching');
    assert.deepEqual(a, b);
  });

  test('GatewayClass Accepted for our controller only; every condition carries observedGeneration', () => {
    const t = run([...conformanceObjects('', [SECRET]), gatewayClass('other', 'example.com/other')]);
    const gc = statusOf(t.statuses, 'GatewayClass', 'northgate');
    assert.deepEqual(condition(gc.conditions, 'Accepted'), { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'the GatewayClass is accepted', observedGeneration: 1, lastTransitionTime: NOW });
    assert.throws(() => statusOf(t.statuses, 'GatewayClass', 'other'));
    const gw = statusOf(t.statuses, 'Gateway', 'same-namespace');
    assert.deepEqual(gw.addresses, [{ type: 'IPAddress', value: '10.0.0.1' }]);
    assert.equal(condition(gw.conditions, 'Programmed')?.status, 'True');
    const l = (gw.listeners as Array<{ supportedKinds: unknown; conditions: Cond[] }>)[0]!;
    assert.deepEqual(l.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }, { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute' }]);
    for (const c of l.conditions) assert.equal(c.observedGeneration, 1);
  });

  test('route reasons: BackendNotFound, InvalidKind, RefNotPermitted, NotAllowedByListeners, NoMatchingParent, NoMatchingListenerHostname', () => {
    const reason = (file: string, route: string, type: string, ns = INFRA) => condition(parentConds(conformance(file), 'HTTPRoute', route, ns)[0]!.conditions, type);
    assert.deepEqual(pick(reason('httproute-invalid-nonexistent-backendref', 'invalid-nonexistent-backend-ref', 'ResolvedRefs')), ['False', 'BackendNotFound']);
    assert.deepEqual(pick(reason('httproute-invalid-nonexistent-backendref', 'invalid-nonexistent-backend-ref', 'Accepted')), ['True', 'Accepted']);
    assert.deepEqual(pick(reason('httproute-invalid-backendref-unknown-kind', 'invalid-backend-ref-unknown-kind', 'ResolvedRefs')), ['False', 'InvalidKind']);
    assert.deepEqual(pick(reason('httproute-invalid-cross-namespace-backend-ref', 'invalid-cross-namespace-backend-ref', 'ResolvedRefs')), ['False', 'RefNotPermitted']);
    assert.deepEqual(pick(reason('httproute-invalid-cross-namespace-parent-ref', 'invalid-cross-namespace-parent-ref', 'Accepted', 'gateway-conformance-web-backend')), ['False', 'NotAllowedByListeners']);
    assert.deepEqual(pick(reason('httproute-invalid-parentref-not-matching-listener-port', 'httproute-listener-not-matching-route-port', 'Accepted')), ['False', 'NoMatchingParent']);
    assert.deepEqual(pick(reason('httproute-invalid-parentref-not-matching-section-name', 'httproute-listener-not-matching-section-name', 'Accepted')), ['False', 'NoMatchingParent']);
    assert.deepEqual(pick(reason('httproute-hostname-intersection', 'no-intersecting-hosts', 'Accepted')), ['False', 'NoMatchingListenerHostname']);
    assert.deepEqual(pick(reason('httproute-reference-grant', 'reference-grant', 'ResolvedRefs')), ['True', 'ResolvedRefs']);
  });

  test('a route refused is not served and not counted in attachedRoutes', () => {
    const t = conformance('httproute-hostname-intersection');
    assert.equal(routesOf(t, 'httproute.gateway-conformance-infra.no-intersecting-hosts').length, 0);
    assert.ok(routesOf(t, 'httproute.gateway-conformance-infra.specific-host-matches-listener-specific-host').length > 0);
    const cross = conformance('httproute-invalid-cross-namespace-parent-ref');
    assert.equal(routesOf(cross, 'httproute.gateway-conformance-web-backend').length, 0);
    assert.equal(listenerStatus(cross, 'same-namespace', 'http').attachedRoutes, 0);
  });

  test('an invalid backendRef is a 500: the rule keeps its route, the backend its share, answered locally', () => {
    const t = conformance('httproute-invalid-nonexistent-backendref');
    const [r] = routesOf(t, 'httproute.gateway-conformance-infra.invalid-nonexistent-backend-ref');
    assert.deepEqual(r!.backends, [{ invalid: true, weight: 1 }]);
    assert.ok((t.config.upstreams as Array<{ name: string; targets: unknown[] }>).some((u) => u.name === 'gateway-api.no-backend' && u.targets.length === 0));
    assert.equal(listenerStatus(t, 'same-namespace', 'http').attachedRoutes, 1);
  });

  test('listener reasons: InvalidRouteKinds, UnsupportedProtocol, InvalidCertificateRef, RefNotPermitted; attachedRoutes', () => {
    const kinds = conformance('gateway-invalid-route-kind');
    const only = listenerStatus(kinds, 'gateway-only-invalid-route-kind', 'http');
    assert.deepEqual(only.supportedKinds, []);
    assert.deepEqual(pick(condition(only.conditions, 'ResolvedRefs')), ['False', 'InvalidRouteKinds']);
    const mixed = listenerStatus(kinds, 'gateway-supported-and-invalid-route-kind', 'http');
    assert.deepEqual(mixed.supportedKinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
    const proto = conformance('gateway-invalid-listeners-unsupported-protocol');
    const g = statusOf(proto.statuses, 'Gateway', 'gateway-only-unsupported-protocols');
    for (const l of g.listeners as Array<{ conditions: Cond[]; supportedKinds: unknown[] }>) {
      assert.deepEqual(pick(condition(l.conditions, 'Accepted')), ['False', 'UnsupportedProtocol']);
      assert.deepEqual(l.supportedKinds, []);
    }
    assert.deepEqual(pick(condition(g.conditions, 'Accepted')), ['False', 'ListenersNotValid']);
    const tls = conformance('gateway-invalid-tls-configuration');
    for (const gw of ['gateway-certificate-nonexistent-secret', 'gateway-certificate-unsupported-group', 'gateway-certificate-unsupported-kind', 'gateway-certificate-malformed-secret']) {
      const l = (statusOf(tls.statuses, 'Gateway', gw).listeners as Array<{ conditions: Cond[] }>)[0]!;
      assert.deepEqual(pick(condition(l.conditions, 'ResolvedRefs')), ['False', 'InvalidCertificateRef'], gw);
      assert.deepEqual(pick(condition(l.conditions, 'Programmed')), ['False', 'Invalid'], gw);
    }
    const grant = conformance('gateway-secret-missing-reference-grant', [tlsSecret('gateway-conformance-web-backend', 'certificate', certs.read('gw.crt'), certs.read('gw.key'))]);
    const gl = (statusOf(grant.statuses, 'Gateway', 'gateway-secret-missing-reference-grant').listeners as Array<{ conditions: Cond[] }>)[0]!;
    assert.deepEqual(pick(condition(gl.conditions, 'ResolvedRefs')), ['False', 'RefNotPermitted']);
    const allowed = conformance('gateway-secret-reference-grant-specific', [tlsSecret('gateway-conformance-web-backend', 'certificate', certs.read('gw.crt'), certs.read('gw.key'))]);
    const al = (statusOf(allowed.statuses, 'Gateway', 'gateway-secret-reference-grant-specific').listeners as Array<{ conditions: Cond[] }>)[0]!;
    assert.deepEqual(pick(condition(al.conditions, 'ResolvedRefs')), ['True', 'ResolvedRefs']);
    const attached = conformance('gateway-with-attached-routes');
    assert.equal(listenerStatus(attached, 'gateway-with-one-attached-route', 'http').attachedRoutes, 1);
    assert.equal(listenerStatus(attached, 'gateway-with-two-attached-routes', 'http').attachedRoutes, 2);
    // A listener whose certificate does not resolve still counts the routes attached to it, and serves none.
    const unresolved = listenerStatus(attached, 'unresolved-gateway-with-one-attached-unresolved-route', 'tls');
    assert.equal(unresolved.attachedRoutes, 1);
    assert.deepEqual(pick(condition(unresolved.conditions, 'ResolvedRefs')), ['False', 'InvalidCertificateRef']);
    assert.deepEqual(pick(condition(unresolved.conditions, 'Programmed')), ['False', 'Invalid']);
    assert.deepEqual(pick(condition(parentConds(attached, 'HTTPRoute', 'http-route-4')[0]!.conditions, 'Accepted')), ['True', 'Accepted']);
    assert.equal(routesOf(attached, `httproute.${INFRA}.http-route-4`).length, 0);
  });
});

describe('what is served', () => {
  test('hostname intersection: the route serves the names both allow, on its listener only', () => {
    const t = conformance('httproute-hostname-intersection');
    const hosts = (name: string) => routesOf(t, `httproute.${INFRA}.${name}`).map((r) => r.hosts);
    assert.deepEqual(hosts('specific-host-matches-listener-specific-host')[0], ['very.specific.com']);
    assert.deepEqual(hosts('wildcard-host-matches-listener-specific-host')[0], ['very.specific.com']);
    for (const r of routesOf(t, `httproute.${INFRA}.`)) assert.deepEqual(r.listeners, ['gateway-80']);
  });

  test('listener isolation: each listener hostname answers 404 for what its routes do not serve', () => {
    const t = conformance('gateway-http-listener-isolation');
    const catchAll = routesOf(t, 'gateway-api.listeners').filter((r) => String(r.listeners) === 'gateway-80');
    assert.deepEqual(catchAll.map((r) => r.hosts).sort(), [['*.example.com'], ['*.foo.example.com'], ['abc.foo.example.com']]);
    for (const r of catchAll) assert.deepEqual(r.paths, ['/']);
  });

  test('listeners: one per declared port, bound per the port map, with inline certificates from Secrets', () => {
    const t = run([...conformanceObjects('', [SECRET])], { portMap: new Map([[80, 18080], [443, 18443]]), bindAddress: '127.0.0.1' });
    const proxy = (t.config.listen as { proxy: Array<Record<string, unknown>> }).proxy;
    assert.deepEqual(proxy.map((l) => [l.name, l.address]), [['gateway-80', '127.0.0.1:18080'], ['gateway-443', '127.0.0.1:18443']]);
    const tls = proxy[1]!.tls as { certificates: Array<{ cert_pem: string; key_pem: string }> };
    assert.equal(tls.certificates.length, 1);
    assert.equal(tls.certificates[0]!.cert_pem, certs.read('gw.crt').toString());
  });

  test('redirects without a port keep the declared listener port; with a scheme the scheme decides', () => {
    const t = conformance('httproute-redirect-port-and-scheme');
    const redirects = routesOf(t, `httproute.${INFRA}.`).map((r) => ({ listeners: String(r.listeners), redirect: (r.plugins as Record<string, Record<string, unknown>> | undefined)?.redirect }));
    assert.ok(redirects.some((x) => x.listeners === 'gateway-8080' && x.redirect?.port === 8080 && x.redirect.scheme === undefined), JSON.stringify(redirects));
    assert.ok(redirects.some((x) => x.redirect?.scheme === 'https' && x.redirect.port === undefined), JSON.stringify(redirects));
  });

  test('weights, backend header edits, rule header edits, query and method matches', () => {
    const w = routesOf(conformance('httproute-weight'), `httproute.${INFRA}.weighted-backends`)[0]!;
    assert.deepEqual((w.backends as Array<{ weight: number }>).map((b) => b.weight), [70, 30, 0]);
    const b = routesOf(conformance('httproute-request-header-modifier-backend-weights'), `httproute.${INFRA}.`);
    assert.ok(b.some((r) => (r.backends as Array<{ headers?: unknown }>).filter((x) => x.headers !== undefined).length === 2), JSON.stringify(b));
    // One backend: its filters are the rule's (they act on every request of the rule).
    const one = routesOf(conformance('httproute-request-header-modifier-backend'), `httproute.${INFRA}.`);
    assert.ok(one.every((r) => (r.backends as Array<{ headers?: unknown }>).every((x) => x.headers === undefined) && (r.plugins as { headers?: unknown }).headers !== undefined), JSON.stringify(one));
    const h = routesOf(conformance('httproute-request-header-modifier'), `httproute.${INFRA}.`)[0]!;
    assert.deepEqual((h.plugins as { headers: { request: unknown } }).headers.request, { set: { 'x-header-set': 'set-overwrites-values' } });
    const q = routesOf(conformance('httproute-query-param-matching'), `httproute.${INFRA}.`);
    assert.ok(q.some((r) => JSON.stringify(r.query) === '{"animal":"whale"}'));
    const m = routesOf(conformance('httproute-method-matching'), `httproute.${INFRA}.`);
    assert.ok(m.some((r) => JSON.stringify(r.methods) === '["POST"]'));
  });

  test('routes are emitted oldest first; a later route with exactly the same match does not take it', () => {
    const route = (name: string, created: string, backend: string): KubeObject => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
      metadata: { name, namespace: INFRA, creationTimestamp: created, generation: 1 },
      spec: { parentRefs: [{ name: 'same-namespace' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/same' } }], backendRefs: [{ name: backend, port: 8080 }] }] },
    });
    const t = run([...conformanceObjects('', [SECRET]), route('b-older', '2026-01-01T00:00:00Z', 'infra-backend-v1'), route('a-newer', '2026-01-02T00:00:00Z', 'infra-backend-v2')]);
    assert.equal(routesOf(t, `httproute.${INFRA}.b-older`).length, 1);
    assert.equal(routesOf(t, `httproute.${INFRA}.a-newer`).length, 0);
    assert.deepEqual(pick(condition(parentConds(t, 'HTTPRoute', 'a-newer')[0]!.conditions, 'Accepted')), ['True', 'Accepted']);
    assert.deepEqual(validateConfig(t.config, registry).problems, []);
  });

  test('gRPC: method matches become paths, backends grpc:// targets', () => {
    const t = conformance('grpcroute-exact-method-matching');
    const paths = routesOf(t, `grpcroute.${INFRA}.`).map((r) => (r.paths as string[])[0]);
    assert.ok(paths.includes('=/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo'), JSON.stringify(paths));
    const ups = (t.config.upstreams as Array<{ name: string; targets: Array<{ url: string }> }>).filter((u) => u.name.includes('grpc-infra'));
    assert.ok(ups.length > 0 && ups.every((u) => u.targets.every((x) => x.url.startsWith('grpc://'))));
  });

  test('lastTransitionTime is kept from the current status when a condition did not change', () => {
    const objects = conformanceObjects('conformance__tests__httproute-simple-same-namespace.yaml', [SECRET]);
    const first = run(objects);
    const withStatus = objects.map((o) => {
      const s = first.statuses.find((x) => x.kind === o.kind && x.name === o.metadata.name && (x.namespace ?? '') === (o.metadata.namespace ?? ''));
      return s === undefined ? o : { ...o, status: s.status };
    });
    const later = run(withStatus, { now: '2026-06-01T00:00:00Z' });
    assert.deepEqual(later.statuses, first.statuses);
    const gone = withStatus.filter((o) => !(o.kind === 'Service' && o.metadata.name === 'infra-backend-v1'));
    const changed = run(gone, { now: '2026-06-01T00:00:00Z' });
    const c = condition(parentConds(changed, 'HTTPRoute', 'gateway-conformance-infra-test')[0]!.conditions, 'ResolvedRefs') as Cond & { lastTransitionTime: string };
    assert.equal(c.reason, 'BackendNotFound');
    assert.equal(c.lastTransitionTime, '2026-06-01T00:00:00Z');
  });
});

describe('resources a cluster user writes against the translation', () => {
  const base = () => conformanceObjects('', [SECRET]);
  const httpRoute = (name: string, rule: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: INFRA, generation: 3 },
    spec: { parentRefs: [{ name: 'same-namespace' }], rules: [{ backendRefs: [{ name: 'infra-backend-v1', port: 8080 }], ...rule }], ...extra },
  });
  const accepted = (t: ReturnType<typeof translate>, name: string) => pick(condition(parentConds(t, 'HTTPRoute', name)[0]!.conditions, 'Accepted'));

  test('paths, patterns and values Northgate does not take refuse that route only (UnsupportedValue), never the config', () => {
    const bad = [
      httpRoute('semicolon', { matches: [{ path: { type: 'PathPrefix', value: '/a;b=1' } }] }),
      httpRoute('dotdot', { matches: [{ path: { type: 'Exact', value: '/a/../admin' } }] }),
      httpRoute('bad-regex', { matches: [{ path: { type: 'RegularExpression', value: '/(unclosed' } }] }),
      httpRoute('crlf-header', { filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-a', value: 'v\r\nx-injected: 1' }] } }] }),
      httpRoute('bad-header-name', { filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'bad name', value: 'v' }] } }] }),
      httpRoute('bad-rewrite', { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/../../etc' } } }] }),
      httpRoute('extension', { filters: [{ type: 'ExtensionRef', extensionRef: { group: 'x', kind: 'y', name: 'z' } }] }),
      httpRoute('bad-duration', { timeouts: { request: '10 years' } }),
      httpRoute('bad-hostname', {}, { hostnames: ['exa mple.com'] }),
    ];
    const good = httpRoute('good', { matches: [{ path: { type: 'PathPrefix', value: '/good' } }] });
    const t = run([...base(), ...bad, good]);
    assert.deepEqual(validateConfig(t.config, registry).problems, []);
    for (const r of bad) {
      assert.deepEqual(accepted(t, r.metadata.name), ['False', 'UnsupportedValue'], r.metadata.name);
      assert.equal(routesOf(t, `httproute.${INFRA}.${r.metadata.name}`).length, 0, r.metadata.name);
      assert.equal(condition(parentConds(t, 'HTTPRoute', r.metadata.name)[0]!.conditions, 'Accepted')?.observedGeneration, 3);
    }
    assert.deepEqual(accepted(t, 'good'), ['True', 'Accepted']);
    assert.equal(listenerStatus(t, 'same-namespace', 'http').attachedRoutes, 1);
  });

  test('a path with a ":name" segment or a leading "~" is matched literally, not as a parameter or a pattern', () => {
    const t = run([...base(), httpRoute('colon', { matches: [{ path: { type: 'PathPrefix', value: '/a/:id' } }, { path: { type: 'Exact', value: '/~x' } }], }), httpRoute('tilde-query', { matches: [{ path: { type: 'Exact', value: '/q' }, queryParams: [{ name: 'v', value: '~.*' }] }] })]);
    const r = routesOf(t, `httproute.${INFRA}.colon`).map((x) => (x.paths as string[])[0]);
    assert.deepEqual(r, ['~^/a/:id(/.*)?$', '=/~x']);
    const q = routesOf(t, `httproute.${INFRA}.tilde-query`)[0]!;
    assert.deepEqual(q.query, { v: '~^~\\.\\*$' });
    assert.deepEqual(validateConfig(t.config, registry).problems, []);
  });

  test('long names stay within the config name rule and distinct', () => {
    const long = 'a'.repeat(63);
    const objects = [...base(), { ...httpRoute(`${long}`, {}), metadata: { name: long, namespace: INFRA } }, { ...httpRoute(`${long}b`, { matches: [{ path: { type: 'PathPrefix', value: '/b' } }] }), metadata: { name: `${long.slice(1)}b`, namespace: INFRA } }];
    const t = run(objects);
    assert.deepEqual(validateConfig(t.config, registry).problems, []);
    assert.equal(upstreamName('n'.repeat(63), 's'.repeat(63), 65535).length <= 128, true);
    assert.notEqual(upstreamName('n'.repeat(63), 's'.repeat(63), 1), upstreamName('n'.repeat(63), 's'.repeat(63), 2));
  });

  test('objects of any shape never throw and never make the document invalid (seeded mutations)', () => {
    const rnd = seededRandom(20261206);
    const values: unknown[] = [null, 0, -1, 65536, 1.5, '', '*', '/', '~(', 'a'.repeat(300), 'x\r\ny: z', [], [{}], {}, { name: 1 }, true, 'Exact', 'RegularExpression', 'HTTPS', '0s', '99999h'];
    const sources = ['httproute-matching', 'httproute-weight', 'httproute-redirect-port-and-scheme', 'grpcroute-header-matching', 'httproute-hostname-intersection', 'gateway-http-listener-isolation', 'httproute-cors', 'httproute-request-mirror'];
    const mutate = (o: unknown, depth: number): unknown => {
      if (Array.isArray(o)) return o.map((x) => mutate(x, depth + 1));
      if (o === null || typeof o !== 'object') return rnd() < 0.08 ? values[Math.floor(rnd() * values.length)] : o;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) out[k] = k === 'metadata' || k === 'kind' || k === 'apiVersion' ? v : rnd() < 0.04 ? values[Math.floor(rnd() * values.length)] : mutate(v, depth + 1);
      return out;
    };
    for (let i = 0; i < 120; i++) {
      const objects = conformanceObjects(`conformance__tests__${sources[i % sources.length]}.yaml`, [SECRET]).map((o) => (o.kind === 'HTTPRoute' || o.kind === 'GRPCRoute' || o.kind === 'Gateway' ? (mutate(o, 0) as KubeObject) : o));
      const t = run(objects);
      assert.deepEqual(validateConfig(t.config, registry).problems, [], `iteration ${i}`);
    }
  });

  test('Gateways of another class, and routes to them, are left alone (no status)', () => {
    const other = parseDocs(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: theirs, namespace: ${INFRA} }
spec: { gatewayClassName: other, listeners: [{ name: http, port: 80, protocol: HTTP }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: to-theirs, namespace: ${INFRA} }
spec: { parentRefs: [{ name: theirs }], rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }] }
`);
    const t = run([...base(), ...other]);
    assert.throws(() => statusOf(t.statuses, 'Gateway', 'theirs'));
    assert.throws(() => statusOf(t.statuses, 'HTTPRoute', 'to-theirs'));
  });
});

describe('hostname intersection', () => {
  test('listener and route hostnames: exact, wildcard over any number of labels, none', () => {
    assert.equal(intersectHostnames(undefined, []), null);
    assert.deepEqual(intersectHostnames('a.example.com', []), ['a.example.com']);
    assert.deepEqual(intersectHostnames(undefined, ['x.test']), ['x.test']);
    assert.deepEqual(intersectHostnames('*.example.com', ['a.b.example.com', 'example.com', '*.example.com', '*.b.example.com', 'other.test']), ['a.b.example.com', '*.example.com', '*.b.example.com']);
    assert.deepEqual(intersectHostnames('a.example.com', ['*.example.com', '*.a.example.com']), ['a.example.com']);
    assert.deepEqual(intersectHostnames('very.specific.com', ['non.matching.com', '*.nonmatchingwildcard.io']), []);
  });
});

describe('Service ports as upstreams', () => {
  const svc = parseDocs(`apiVersion: v1
kind: Service
metadata: { name: web, namespace: apps }
spec: { ports: [{ name: http, port: 80, targetPort: 8080 }, { name: h2, port: 81, appProtocol: kubernetes.io/h2c }, { name: odd, port: 82, appProtocol: example.com/custom }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: apps, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
ports: [{ name: http, port: 8080 }, { name: h2, port: 9090 }]
endpoints:
  - { addresses: [10.0.0.2], conditions: { ready: true } }
  - { addresses: [10.0.0.1] }
  - { addresses: [10.0.0.3], conditions: { ready: false } }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-2, namespace: apps, labels: { kubernetes.io/service-name: web } }
addressType: IPv6
ports: [{ name: http, port: 8080 }]
endpoints: [{ addresses: ["fd00::1"] }, { addresses: [10.0.0.2] }]
`);
  const snap = snapshotOf(svc);
  test('ready endpoints (ready unset counts as ready), deduplicated and sorted; port by number or name', () => {
    const r = resolveServiceBackend(snap, 'apps', 'web', 80);
    assert.ok('upstream' in r);
    // No passive ejection: a Service's own 5xx answers never take its endpoints out of traffic.
    assert.deepEqual(r.upstream, { name: 'apps.web.80', targets: [{ url: 'http://10.0.0.1:8080' }, { url: 'http://10.0.0.2:8080' }, { url: 'http://[fd00::1]:8080' }], ...NO_EJECTION });
    const byName = resolveServiceBackend(snap, 'apps', 'web', 'http');
    assert.deepEqual(byName, r);
  });
  test('appProtocol kubernetes.io/h2c is HTTP/2 (grpc://); an unknown one is UnsupportedProtocol; a missing Service or port BackendNotFound', () => {
    const h2 = resolveServiceBackend(snap, 'apps', 'web', 81);
    assert.ok('upstream' in h2 && JSON.stringify(h2.upstream).includes('grpc://10.0.0.1:9090'));
    assert.deepEqual(pickProblem(resolveServiceBackend(snap, 'apps', 'web', 82)), 'UnsupportedProtocol');
    assert.deepEqual(pickProblem(resolveServiceBackend(snap, 'apps', 'nope', 80)), 'BackendNotFound');
    assert.deepEqual(pickProblem(resolveServiceBackend(snap, 'apps', 'web', 99)), 'BackendNotFound');
    assert.deepEqual(pickProblem(resolveServiceBackend(snap, 'other', 'web', 80)), 'BackendNotFound');
  });
  test('a Service without ready endpoints is an upstream without targets (answered 503)', () => {
    const lone = snapshotOf(parseDocs(`apiVersion: v1
kind: Service
metadata: { name: idle, namespace: apps }
spec: { ports: [{ port: 80 }] }
`));
    const r = resolveServiceBackend(lone, 'apps', 'idle', undefined);
    assert.ok('upstream' in r);
    assert.deepEqual(r.upstream, { name: 'apps.idle.80', targets: [], ...NO_EJECTION });
    assert.equal(r.endpoints, 0);
    void endpointSlicesFor;
  });
});

function pick(c: Cond | undefined): [string, string] | undefined {
  return c === undefined ? undefined : [c.status, c.reason];
}

function pickProblem(r: ReturnType<typeof resolveServiceBackend>): string | undefined {
  return 'problem' in r ? r.problem : undefined;
}
