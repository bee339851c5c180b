// The Ingress translation without a cluster: which Ingresses are taken, the paths and hosts
// they become, the oldest Ingress keeping a contested path, default backends after every
// rule, Service ports by name and number, TLS Secrets, the northgate.io/ annotations, the
// status, and the attack cases (names with "/", hostile annotation values, paths the API
// server or the gateway would read differently). Every translation is also run through the
// compiler's validation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateConfig } from '../../src/compiler/validate.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import type { Kind, KubeObject } from '../../src/kubernetes/resources.js';
import type { ResourceSnapshot } from '../../src/kubernetes/store.js';
import { translateIngresses } from '../../src/kubernetes/translate/ingress.js';
import { readAnnotations } from '../../src/kubernetes/translate/ingress-annotations.js';
import type { ConfigParts, TranslateOptions } from '../../src/kubernetes/translate/model.js';
import { CertDir } from '../helpers/certs.js';

function snapshot(objects: KubeObject[]): ResourceSnapshot {
  const byKind = new Map<Kind, KubeObject[]>();
  for (const o of objects) {
    const list = byKind.get(o.kind as Kind) ?? [];
    list.push(o);
    byKind.set(o.kind as Kind, list);
  }
  return { version: 1, get: (kind) => byKind.get(kind) ?? [] };
}

interface IngressInit {
  ns?: string;
  name: string;
  created?: string;
  className?: string | null;
  annotations?: Record<string, unknown>;
  rules?: unknown[];
  defaultBackend?: unknown;
  tls?: unknown[];
  generation?: number;
}

function ingress(i: IngressInit): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: i.name, namespace: i.ns ?? 'apps', ...(i.created ? { creationTimestamp: i.created } : {}), ...(i.annotations ? { annotations: i.annotations } : {}), ...(i.generation ? { generation: i.generation } : {}) },
    spec: { ...(i.className === null ? {} : { ingressClassName: i.className ?? 'northgate' }), ...(i.rules ? { rules: i.rules } : {}), ...(i.defaultBackend ? { defaultBackend: i.defaultBackend } : {}), ...(i.tls ? { tls: i.tls } : {}) },
  };
}

const backend = (name: string, port: number | string = 80) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
const rule = (host: string | undefined, ...paths: Array<[string, string, ReturnType<typeof backend>]>) => ({ ...(host ? { host } : {}), http: { paths: paths.map(([path, pathType, b]) => ({ path, pathType, backend: b })) } });

/** A Service with one port (80, named http → 8080 on the pods) and a ready endpoint per address. */
function service(name: string, ns = 'apps', ips: string[] = ['10.0.0.1'], ports: Array<{ name: string; port: number; target: number }> = [{ name: 'http', port: 80, target: 8080 }]): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.target, protocol: 'TCP' })) } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abc`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: ports.map((p) => ({ name: p.name, port: p.target, protocol: 'TCP' })),
      endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    },
  ];
}

const ingressClass = (name: string, controller: string, isDefault = false): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  spec: { controller },
});

function translate(objects: KubeObject[], opts: TranslateOptions = {}): ConfigParts {
  return translateIngresses(snapshot(objects), opts);
}

/** The routes of the translation: "host path → upstream|503" (host "*" for none), in output order. */
function routes(parts: ConfigParts): string[] {
  const out: string[] = [];
  for (const s of parts.services) {
    const target = (s['upstream'] as string | undefined) ?? '503';
    for (const r of s['routes'] as Array<Record<string, unknown>>) out.push(`${((r['hosts'] as string[] | undefined) ?? ['*'])[0]} ${(r['paths'] as string[])[0]} → ${target}`);
  }
  return out;
}

/** What the translation gives every Service upstream: passive health off. */
const NO_EJECTION = { healthcheck: { passive: { consecutive_failures: 0 } } };
const notes = (parts: ConfigParts): string[] => parts.notes.map((n) => `${n.namespace}/${n.name}: ${n.message}`);

/** The translation as a config the compiler accepts. */
function assertCompiles(parts: ConfigParts): void {
  const config = {
    _format_version: '1',
    listen: { proxy: parts.listeners, status: null, admin: null },
    upstreams: parts.upstreams,
    services: parts.services,
  };
  const { problems } = validateConfig(structuredClone(config), defaultRegistry());
  assert.deepEqual(problems, []);
}

describe('which Ingresses are ours', () => {
  const svc = service('web');
  const one = (i: Partial<IngressInit>, extra: KubeObject[] = []) => translate([ingress({ name: 'x', rules: [rule('a.test', ['/', 'Prefix', backend('web')])], ...i }), ...svc, ...extra]);

  test('ingressClassName naming the class (no IngressClass object): ours; another name: not', () => {
    assert.equal(one({}).services.length, 1);
    assert.equal(one({ className: 'nginx' }).services.length, 0);
    assert.equal(one({ className: 'nginx' }).statuses.length, 0);
    assert.equal(one({ className: 'edge' }, []).services.length, 0);
    assert.equal(translate([ingress({ name: 'x', className: 'edge', rules: [rule('a.test', ['/', 'Prefix', backend('web')])] }), ...svc], { ingressClass: 'edge' }).services.length, 1);
  });

  test('an IngressClass decides by its controller, whatever its name', () => {
    assert.equal(one({ className: 'public' }, [ingressClass('public', 'northgate.io/ingress-controller')]).services.length, 1);
    assert.equal(one({}, [ingressClass('northgate', 'k8s.io/ingress-nginx')]).services.length, 0);
  });

  test('the legacy annotation kubernetes.io/ingress.class', () => {
    assert.equal(one({ className: null, annotations: { 'kubernetes.io/ingress.class': 'northgate' } }).services.length, 1);
    assert.equal(one({ className: null, annotations: { 'kubernetes.io/ingress.class': 'nginx' } }).services.length, 0);
  });

  test('no class: ours only when an IngressClass of our controller is the default', () => {
    assert.equal(one({ className: null }).services.length, 0);
    assert.equal(one({ className: null }, [ingressClass('ng', 'northgate.io/ingress-controller', true)]).services.length, 1);
    assert.equal(one({ className: null }, [ingressClass('nginx', 'k8s.io/ingress-nginx', true)]).services.length, 0);
    assert.equal(one({ className: null }, [ingressClass('ng', 'northgate.io/ingress-controller', false)]).services.length, 0);
  });
});

describe('paths and hosts', () => {
  test('Exact, Prefix and ImplementationSpecific; rules without host; Service port by number and by name', () => {
    const parts = translate([
      ingress({ name: 'x', rules: [rule('a.test', ['/exact', 'Exact', backend('web')], ['/pre/', 'Prefix', backend('web', 'http')], ['/impl', 'ImplementationSpecific', backend('api', 8000)]), rule(undefined, ['/any', 'Prefix', backend('web')])] }),
      ...service('web'),
      ...service('api', 'apps', ['10.0.0.2'], [{ name: 'grpc', port: 8000, target: 9000 }]),
    ]);
    assert.deepEqual(routes(parts).sort(), ['a.test =/exact → apps.web.80', 'a.test /pre/ → apps.web.80', '* /any → apps.web.80', 'a.test /impl → apps.api.8000'].sort());
    assert.deepEqual(parts.upstreams, [
      { name: 'apps.web.80', targets: [{ url: 'http://10.0.0.1:8080' }], ...NO_EJECTION },
      { name: 'apps.api.8000', targets: [{ url: 'http://10.0.0.2:9000' }], ...NO_EJECTION },
    ]);
    for (const s of parts.services) for (const r of s['routes'] as Array<Record<string, unknown>>) assert.equal(r['preserve_host'], true);
    assert.deepEqual(parts.listeners, [{ address: '0.0.0.0:80' }]);
    assertCompiles(parts);
  });

  test('the oldest Ingress keeps a path two Ingresses claim ("/a" and "/a/" are one prefix), the other is told', () => {
    const parts = translate([
      ingress({ name: 'new', created: '2026-01-02T00:00:00Z', rules: [rule('a.test', ['/a/', 'Prefix', backend('two')], ['/b', 'Prefix', backend('two')])] }),
      ingress({ name: 'old', created: '2026-01-01T00:00:00Z', rules: [rule('a.test', ['/a', 'Prefix', backend('one')])] }),
      ...service('one'),
      ...service('two'),
    ]);
    assert.deepEqual(routes(parts), ['a.test /a → apps.one.80', 'a.test /b → apps.two.80']);
    assert.deepEqual(notes(parts), ['apps/new: rules[0].http.paths[0]: path /a/ on host a.test is served by the older Ingress apps/old']);
    assertCompiles(parts);
  });

  test('Exact and Prefix of the same path are two routes; the same path twice in one Ingress is served once', () => {
    const parts = translate([ingress({ name: 'x', rules: [rule(undefined, ['/p', 'Exact', backend('web')], ['/p', 'Prefix', backend('web')], ['/p', 'ImplementationSpecific', backend('web')])] }), ...service('web')]);
    assert.deepEqual(routes(parts), ['* =/p → apps.web.80', '* /p → apps.web.80']);
    assert.match(notes(parts)[0]!, /paths\[2\]: path \/p is also rules\[0\]\.http\.paths\[1\]; the first is served/);
    assertCompiles(parts);
  });

  test('paths the API server refuses, or the gateway would read differently, are not served (the rest is)', () => {
    const bad = ['/a/../b', '/a/./b', '/a//b', '/a%2Fb', '/a%2fb', '/a/..', '/a/.', 'relative', '/users/:id', '/%70rivate', '/x y'];
    const parts = translate([ingress({ name: 'x', rules: [rule('a.test', ...bad.map((p) => [p, 'Prefix', backend('web')] as [string, string, ReturnType<typeof backend>]), ['/ok', 'Prefix', backend('web')])] }), ...service('web')]);
    assert.deepEqual(routes(parts), ['a.test /ok → apps.web.80']);
    assert.equal(parts.notes.length, bad.length);
    for (const n of parts.notes) assert.match(n.message, /not served/);
    assert.ok(notes(parts).some((n) => n.includes('/%70rivate') && n.includes('write it as "/private"')));
    assertCompiles(parts);
  });

  test('hosts that are not lower-case DNS names leave their rule out; a wildcard host is kept as written', () => {
    const parts = translate([
      ingress({ name: 'x', rules: [rule('A.test', ['/', 'Prefix', backend('web')]), rule('a.test:8080', ['/', 'Prefix', backend('web')]), rule('*.*.test', ['/', 'Prefix', backend('web')]), rule('*.w.test', ['/', 'Prefix', backend('web')])] }),
      ...service('web'),
    ]);
    assert.deepEqual(routes(parts), ['*.w.test / → apps.web.80']);
    assert.equal(parts.notes.length, 3);
    assertCompiles(parts);
  });
});

describe('names', () => {
  test('service and route names are unique and valid, long Ingress names included; invalid namespaces and names are not served', () => {
    const long = 'n'.repeat(200);
    const parts = translate([
      ingress({ name: long, rules: [rule('a.test', ['/', 'Prefix', backend('web')])] }),
      ingress({ name: `${long}x`, rules: [rule('b.test', ['/', 'Prefix', backend('web')])] }),
      ingress({ name: 'a.1', rules: [rule('c.test', ['/', 'Prefix', backend('web')])] }),
      ingress({ name: 'a', rules: [rule('d.test', ['/', 'Prefix', backend('web')], ['/x', 'Prefix', backend('other')])] }),
      ingress({ name: 'x', ns: 'a.b', rules: [rule('e.test', ['/', 'Prefix', backend('web')])] }),
      ingress({ name: 'Bad_Name', rules: [rule('f.test', ['/', 'Prefix', backend('web')])] }),
      ...service('web'),
      ...service('other'),
    ]);
    const names = parts.services.map((s) => s['name'] as string);
    assert.equal(new Set(names).size, names.length);
    for (const n of names) assert.match(n, /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
    assert.deepEqual(routes(parts).map((r) => r.split(' ')[0]).sort(), ['a.test', 'b.test', 'c.test', 'd.test', 'd.test']);
    assert.equal(parts.notes.filter((n) => /namespace must be a DNS label/.test(n.message)).length, 2);
    assertCompiles(parts);
  });
});

describe('backends', () => {
  test('a Service name cannot reach another namespace: names with "/" or "." are refused', () => {
    const parts = translate([
      ingress({ name: 'x', ns: 'a', rules: [rule(undefined, ['/one', 'Prefix', backend('b/secret')], ['/two', 'Prefix', backend('secret.b')], ['/three', 'Prefix', backend('../b/secret')])] }),
      ...service('secret', 'b'),
    ]);
    assert.deepEqual(routes(parts), []);
    assert.deepEqual(parts.upstreams, []);
    assert.equal(parts.notes.length, 3);
    for (const n of parts.notes) assert.match(n.message, /is not a Service name/);
  });

  test('an ExternalName Service (any name or address, loopback included) is refused: its paths answer 503', () => {
    const parts = translate([
      ingress({ name: 'x', rules: [rule(undefined, ['/', 'Prefix', backend('admin', 8001)])] }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'admin', namespace: 'apps' }, spec: { type: 'ExternalName', externalName: '127.0.0.1', ports: [{ name: 'http', port: 8001 }] } },
    ]);
    assert.deepEqual(routes(parts), ['* / → 503']);
    assert.deepEqual(parts.upstreams, []);
    assert.match(notes(parts)[0]!, /is of type ExternalName, which Ingresses cannot use/);
  });

  test('a Service of the same name in another namespace is never used', () => {
    const parts = translate([ingress({ name: 'x', ns: 'a', rules: [rule(undefined, ['/', 'Prefix', backend('secret')])] }), ...service('secret', 'b')]);
    assert.deepEqual(routes(parts), ['* / → 503']);
    assert.deepEqual(parts.upstreams, []);
  });

  test('a missing Service, a missing port or no ready endpoint: the paths answer 503; resource backends are refused', () => {
    const parts = translate([
      ingress({
        name: 'x',
        rules: [rule(undefined, ['/gone', 'Prefix', backend('gone')], ['/port', 'Prefix', backend('web', 81)], ['/empty', 'Prefix', backend('empty')], ['/res', 'Prefix', { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'b' } } as never])],
      }),
      ...service('web'),
      ...service('empty', 'apps', []),
    ]);
    assert.deepEqual(routes(parts), ['* /gone → 503', '* /port → 503', '* /empty → apps.empty.80']);
    for (const s of parts.services.slice(0, 2)) assert.equal((s['plugins'] as Record<string, { status: number }>)['request-termination']!.status, 503);
    assert.deepEqual(parts.upstreams, [{ name: 'apps.empty.80', targets: [], ...NO_EJECTION }], 'no ready endpoint: an upstream without targets, which answers 503');
    assert.ok(notes(parts).some((n) => n.includes('resource backends are not supported')));
    assertCompiles(parts);
  });
});

describe('default backends', () => {
  test('after every rule of every Ingress; the oldest default backend is the one used', () => {
    const parts = translate([
      ingress({ name: 'b', created: '2026-01-02T00:00:00Z', defaultBackend: backend('two') }),
      ingress({ name: 'a', created: '2026-01-01T00:00:00Z', defaultBackend: backend('one'), rules: [rule('a.test', ['/x', 'Prefix', backend('one')])] }),
      ...service('one'),
      ...service('two'),
    ]);
    assert.deepEqual(routes(parts), ['a.test /x → apps.one.80', '* / → apps.one.80']);
    assert.deepEqual(notes(parts), ['apps/b: defaultBackend: path / is served by the Ingress apps/a']);
    assertCompiles(parts);
  });

  test('a rule for "/" without host, even in a newer Ingress, beats an older default backend', () => {
    const parts = translate([
      ingress({ name: 'old', created: '2026-01-01T00:00:00Z', defaultBackend: backend('one') }),
      ingress({ name: 'new', created: '2026-01-02T00:00:00Z', rules: [rule(undefined, ['/', 'Prefix', backend('two')])] }),
      ...service('one'),
      ...service('two'),
    ]);
    assert.deepEqual(routes(parts), ['* / → apps.two.80']);
    assert.deepEqual(notes(parts), ['apps/old: defaultBackend: path / is served by the Ingress apps/new']);
  });
});

describe('annotations', () => {
  test('strip-path, rate-limit, cors-allow-origins and plugins become route options and plugin configs', () => {
    const parts = translate([
      ingress({
        name: 'x',
        annotations: { 'northgate.io/strip-path': 'true', 'northgate.io/rate-limit': '120', 'northgate.io/cors-allow-origins': 'https://a.test, https://b.test', 'northgate.io/plugins': 'headers:\n  response:\n    set: { x-served-by: northgate }\n', 'northgate.io/unheard-of': 'x', 'nginx.ingress.kubernetes.io/configuration-snippet': 'return 200;' },
        rules: [rule(undefined, ['/api', 'Prefix', backend('web')], ['/exact', 'Exact', backend('web')])],
      }),
      ...service('web'),
    ]);
    const s = parts.services[0]!;
    assert.deepEqual(s['plugins'], {
      headers: { response: { set: { 'x-served-by': 'northgate' } } },
      'rate-limit': { limits: [{ per: '1m', max: 120 }], key: 'ip' },
      cors: { origins: ['https://a.test', 'https://b.test'] },
    });
    const rs = s['routes'] as Array<Record<string, unknown>>;
    assert.equal(rs[0]!['strip_path'], true);
    assert.equal(rs[1]!['strip_path'], undefined, 'an exact path has no prefix to strip');
    assert.deepEqual(notes(parts), ['apps/x: annotation northgate.io/unheard-of is not known to Northgate and is ignored']);
    assertCompiles(parts);
  });

  test('a plugin config the compiler refuses leaves that Ingress unserved, never another one', () => {
    const bad = [
      { 'northgate.io/plugins': '{"rate-limit": {"limits": [{"per": "1m", "max": 0}]}}' },
      { 'northgate.io/plugins': '{"no-such-plugin": {}}' },
      { 'northgate.io/plugins': '["a list"]' },
      { 'northgate.io/plugins': '{ not yaml: [' },
      { 'northgate.io/plugins': 'cors: { origins: ["~(a+)+$("] }' },
      { 'northgate.io/rate-limit': '0' },
      { 'northgate.io/rate-limit': '10/s' },
      { 'northgate.io/strip-path': 'yes' },
      { 'northgate.io/cors-allow-origins': ' , ' },
      { 'northgate.io/rate-limit': '5', 'northgate.io/plugins': '{"rate-limit": {"limits": [{"per": "1s", "max": 1}]}}' },
    ];
    for (const annotations of bad) {
      const parts = translate([
        ingress({ name: 'bad', annotations, rules: [rule('bad.test', ['/', 'Prefix', backend('web')])] }),
        ingress({ name: 'good', rules: [rule('good.test', ['/', 'Prefix', backend('web')])] }),
        ...service('web'),
      ]);
      assert.deepEqual(routes(parts), ['good.test / → apps.web.80'], JSON.stringify(annotations));
      assert.match(notes(parts)[0]!, /^apps\/bad: not served: /, JSON.stringify(annotations));
      assert.deepEqual(parts.statuses.find((s) => s.name === 'bad')!.status, { loadBalancer: { ingress: [] } });
      assertCompiles(parts);
    }
  });

  test('plugins that would make the gateway contact an address of the Ingress\'s choosing, or read a file, are refused', () => {
    const cases: Array<[string, RegExp]> = [
      ['{"forward-auth": {"url": "http://127.0.0.1:8001/config"}}', /the plugin "forward-auth" cannot be configured from an Ingress/],
      ['{"request-mirror": {"url": "http://169.254.169.254/"}}', /the plugin "request-mirror" cannot be configured/],
      ['{"openid-connect": {}}', /the plugin "openid-connect" cannot be configured/],
      ['{"auth": {}}', /the plugin "auth" cannot be configured/],
      ['{"mtls-auth": {"ca": "/etc/shadow"}}', /the plugin "mtls-auth" cannot be configured/],
      ['{"rate-limit": {"limits": [{"per": "1m", "max": 1}], "policy": "redis", "redis": {"url": "redis://10.0.0.9:6379"}}}', /rate-limit: "redis" names another address/],
      ['{"jwt": {"jwks_uri": "http://127.0.0.1:8001/"}}', /jwt: "jwks_uri" names another address/],
      ['{"cache": {"store": "redis", "redis": {"url": "redis://x"}}}', /cache: "redis" names another address/],
    ];
    for (const [text, message] of cases) {
      const read = readAnnotations({ 'northgate.io/plugins': text });
      assert.ok('error' in read, text);
      assert.match(read.error, message, text);
    }
    const ok = readAnnotations({ 'northgate.io/plugins': '{"request-size-limit": {"max_bytes": 1024}, "ip-restriction": {"allow": ["10.0.0.0/8"]}}' });
    assert.ok(!('error' in ok), JSON.stringify(ok));
  });

  test('hostile values: prototype keys, alias bombs, huge and deep documents are refused without side effects', () => {
    const bomb = 'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b]\n';
    const cases: Array<[string, RegExp]> = [
      ['{"__proto__": {"polluted": true}}', /must be a mapping|not allowed|not plain data/],
      ['{"cors": {"constructor": {"prototype": {"polluted": true}}}}', /"constructor" is not allowed/],
      ['headers:\n  __proto__:\n    polluted: true\n', /not allowed|not plain data/],
      [bomb, /not valid YAML/],
      ['x'.repeat(70 * 1024), /longer than 65536 bytes/],
      ['['.repeat(40) + ']'.repeat(40), /must be a mapping|nested deeper/],
      [`{"cors": ${'['.repeat(30)}1${']'.repeat(30)}}`, /nested deeper than 16/],
    ];
    for (const [text, message] of cases) {
      const read = readAnnotations({ 'northgate.io/plugins': text });
      assert.ok('error' in read, text.slice(0, 60));
      assert.match(read.error, message, text.slice(0, 60));
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    const long = readAnnotations({ 'northgate.io/cors-allow-origins': Array.from({ length: 100 }, (_, i) => `https://${i}.test`).join(',') });
    assert.ok('error' in long && /more than 64 origins/.test(long.error));
    const notText = readAnnotations({ 'northgate.io/rate-limit': 5 });
    assert.ok('error' in notText && /must be a string/.test(notText.error));
  });
});

describe('TLS', () => {
  const certs = new CertDir().ca('ca').leaf('a', 'a.test', 'ca', 'DNS:a.test').leaf('b', 'b.test', 'ca', 'DNS:b.test');
  const b64 = (name: string) => certs.read(name).toString('base64');
  const secret = (name: string, ns: string, crt: string, key: string, type = 'kubernetes.io/tls'): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type, data: { 'tls.crt': b64(crt), 'tls.key': b64(key) } });

  test('a kubernetes.io/tls Secret of the same namespace becomes an inline certificate of the HTTPS listener', () => {
    const parts = translate(
      [ingress({ name: 'x', tls: [{ hosts: ['a.test'], secretName: 'a-cert' }], rules: [rule('a.test', ['/', 'Prefix', backend('web')])] }), secret('a-cert', 'apps', 'a.crt', 'a.key'), ...service('web')],
      { bindAddress: '127.0.0.1', portMap: new Map([[80, 18080], [443, 18443]]) },
    );
    assert.equal(parts.listeners.length, 2);
    assert.deepEqual(parts.listeners[0], { address: '127.0.0.1:18080' });
    const tls = parts.listeners[1]!['tls'] as { certificates: Array<{ cert_pem: string; key_pem: string }> };
    assert.equal(parts.listeners[1]!['address'], '127.0.0.1:18443');
    assert.equal(tls.certificates.length, 1);
    assert.equal(tls.certificates[0]!.cert_pem, certs.read('a.crt').toString());
    assert.equal(tls.certificates[0]!.key_pem, certs.read('a.key').toString());
    assert.deepEqual(parts.notes, []);
    assertCompiles(parts);
  });

  test('missing, foreign-namespace, wrongly typed and mismatched Secrets add no certificate; the hosts stay served over HTTP', () => {
    const parts = translate([
      ingress({
        name: 'x',
        tls: [{ hosts: ['a.test'], secretName: 'gone' }, { hosts: ['a.test'], secretName: 'elsewhere' }, { secretName: 'opaque' }, { secretName: 'mismatch' }, { secretName: 'other/elsewhere' }, { hosts: ['c.test'], secretName: 'b-cert' }],
        rules: [rule('a.test', ['/', 'Prefix', backend('web')])],
      }),
      secret('elsewhere', 'other', 'a.crt', 'a.key'),
      secret('opaque', 'apps', 'a.crt', 'a.key', 'Opaque'),
      secret('mismatch', 'apps', 'a.crt', 'b.key'),
      secret('b-cert', 'apps', 'b.crt', 'b.key'),
      ...service('web'),
    ]);
    assert.deepEqual(routes(parts), ['a.test / → apps.web.80']);
    const tls = parts.listeners[1]!['tls'] as { certificates: Array<{ cert_pem: string }> };
    assert.deepEqual(tls.certificates.map((c) => c.cert_pem), [certs.read('b.crt').toString()]);
    const n = notes(parts).join('\n');
    assert.match(n, /tls\[0\]: Secret apps\/gone not found/);
    assert.match(n, /tls\[1\]: Secret apps\/elsewhere not found/);
    assert.match(n, /tls\[2\]: Secret apps\/opaque is not of type kubernetes.io\/tls/);
    assert.match(n, /tls\[3\]: Secret apps\/mismatch holds a key that does not belong to its certificate/);
    assert.match(n, /tls\[4\]: secretName "other\/elsewhere" is not a Secret name/);
    assert.match(n, /tls\[5\]: the certificate of Secret apps\/b-cert does not name c.test/);
  });
});

describe('status', () => {
  test('loadBalancer.ingress lists the addresses (ip or hostname) for every Ingress served, none for one that is not', () => {
    const parts = translate(
      [
        ingress({ name: 'ok', generation: 3, rules: [rule(undefined, ['/', 'Prefix', backend('web')])] }),
        ingress({ name: 'refused', annotations: { 'northgate.io/strip-path': 'maybe' }, rules: [rule('r.test', ['/', 'Prefix', backend('web')])] }),
        ingress({ name: 'theirs', className: 'nginx', rules: [rule('t.test', ['/', 'Prefix', backend('web')])] }),
        ...service('web'),
      ],
      { addresses: ['192.0.2.10', '2001:db8::1', 'lb.example.com'] },
    );
    assert.deepEqual(parts.statuses, [
      { kind: 'Ingress', namespace: 'apps', name: 'ok', generation: 3, status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }, { ip: '2001:db8::1' }, { hostname: 'lb.example.com' }] } } },
      { kind: 'Ingress', namespace: 'apps', name: 'refused', status: { loadBalancer: { ingress: [] } } },
    ]);
  });

  test('listeners: declared ports through the port map, on the bind address (IPv6 in brackets)', () => {
    const objects = [ingress({ name: 'x', rules: [rule(undefined, ['/', 'Prefix', backend('web')])] }), ...service('web')];
    assert.deepEqual(translate(objects).listeners, [{ address: '0.0.0.0:80' }]);
    assert.deepEqual(translate(objects, { bindAddress: '::', portMap: new Map([[80, 8080]]) }).listeners, [{ address: '[::]:8080' }]);
  });

  test('no Ingress of ours: no listener, no service, no status', () => {
    const parts = translate([ingress({ name: 'theirs', className: 'nginx', rules: [rule(undefined, ['/', 'Prefix', backend('web')])] }), ...service('web')]);
    assert.deepEqual(parts, { listeners: [], upstreams: [], services: [], statuses: [], notes: [] });
  });
});

test('an HTTPRoute and an Ingress routing to the same Service port translate to one valid config with one upstream', async () => {
  const { translate: translateAll } = await import('../../src/kubernetes/translate/index.js');
  const objects: KubeObject[] = [
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'northgate', generation: 1 }, spec: { controllerName: 'northgate.io/gateway-controller' } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'apps', generation: 1 }, spec: { gatewayClassName: 'northgate', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'web', namespace: 'apps', generation: 1 }, spec: { parentRefs: [{ name: 'gw' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] } },
    ingress({ name: 'web', rules: [rule('web.example', ['/', 'Prefix', backend('web')])] }),
    ...service('web'),
  ];
  const t = translateAll(snapshot(objects), { now: '2026-01-01T00:00:00Z' });
  const { problems } = validateConfig(structuredClone(t.config), defaultRegistry());
  assert.deepEqual(problems, []);
  const names = (t.config['upstreams'] as Array<{ name: string }>).map((u) => u.name);
  assert.equal(names.filter((n) => n === names.find((x) => x.includes('web'))).length, 1, `one upstream for apps/web:80, got ${names.join(', ')}`);
  const services = t.config['services'] as Array<{ name: string }>;
  assert.ok(services.some((s) => s.name.startsWith('httproute.')), 'the HTTPRoute is served');
  assert.ok(services.length >= 2, 'the Ingress is served too');
});
