// Gateway listeners through a real gateway compiled from the translation: listeners of one
// port isolated by hostname (a route never answers a host a more specific listener of its
// port matches, whatever hostnames it lists), HTTPS listeners of one port chosen by the TLS
// server name (over HTTP/1.1 and HTTP/2, with 421 when the Host names another listener), the
// share of an invalid backend answered 500, and an Ingress wildcard covering one label.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { translate } from '../../src/kubernetes/translate/index.js';
import { translateIngresses } from '../../src/kubernetes/translate/ingress.js';
import type { KubeObject } from '../../src/kubernetes/resources.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { CertDir } from '../helpers/certs.js';
import { endpointSlicesFor, gatewayClass, parseDocs, snapshotOf, tlsSecret } from '../helpers/kube-resources.js';
import { stablePort } from '../helpers/ports.js';

const certs = new CertDir().ca('ca').leaf('gw', 'example.org', 'ca', 'DNS:example.org,DNS:second-example.org,DNS:*.wildcard.org');

const route = (name: string, section: string, gateway: string, hostnames: string[], path: string, backend: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: apps }
spec:
  parentRefs: [{ name: ${gateway}, sectionName: ${section} }]
  hostnames: ${JSON.stringify(hostnames)}
  rules:
    - matches: [{ path: { type: PathPrefix, value: ${path} } }]
      backendRefs: [{ name: ${backend}, port: 8080 }]
`;

const ALL = ['bar.com', '*.example.com', '*.foo.example.com', 'abc.foo.example.com'];
const TLS = (name: string, hostname?: string) => `    - { name: ${name}, port: 443, protocol: HTTPS, ${hostname !== undefined ? `hostname: "${hostname}", ` : ''}tls: { certificateRefs: [{ name: gw-cert }] } }\n`;

const MANIFESTS = [
  ...['e1', 'e2', 'e3', 'e4', 't1', 't2', 't3', 't4'].map((s) => `
apiVersion: v1
kind: Service
metadata: { name: ${s}, namespace: apps }
spec: { ports: [{ port: 8080 }] }
`),
  `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: iso, namespace: apps }
spec:
  gatewayClassName: northgate
  listeners:
    - { name: empty, port: 80, protocol: HTTP }
    - { name: wildcard, port: 80, protocol: HTTP, hostname: "*.example.com" }
    - { name: foo-wildcard, port: 80, protocol: HTTP, hostname: "*.foo.example.com" }
    - { name: abc, port: 80, protocol: HTTP, hostname: "abc.foo.example.com" }
`,
  route('to-empty', 'empty', 'iso', ALL, '/empty', 'e1'),
  route('to-wildcard', 'wildcard', 'iso', ALL, '/wildcard', 'e2'),
  route('to-foo-wildcard', 'foo-wildcard', 'iso', ALL, '/foo-wildcard', 'e3'),
  route('to-abc', 'abc', 'iso', ALL, '/abc', 'e4'),
  `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: secure, namespace: apps }
spec:
  gatewayClassName: northgate
  listeners:
${TLS('https')}${TLS('second', 'second-example.org')}${TLS('wild', '*.wildcard.org')}${TLS('fourth', 'fourth-example.wildcard.org')}`,
  route('tls-1', 'https', 'secure', ['example.org'], '/', 't1'),
  route('tls-2', 'second', 'secure', [], '/', 't2'),
  route('tls-3', 'wild', 'secure', [], '/', 't3'),
  route('tls-4', 'fourth', 'secure', [], '/', 't4'),
].join('---\n');


/** An endpoint that answers 200 with its name. */
const named = (name: string): Promise<Upstream> =>
  startUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
  });

/** The backend's name for a 200, else "status N". */
const outcome = (status: number, body: string): string => (status === 200 ? body : `status ${status}`);

describe('Gateway API listeners served by a gateway built from the translation', () => {
  const ups = new Map<string, Upstream>();
  const port = new Map<number, number>();
  let gw: InProcessGateway;

  before(async () => {
    for (const s of ['e1', 'e2', 'e3', 'e4', 't1', 't2', 't3', 't4']) ups.set(s, await named(s));
    const objects = parseDocs(MANIFESTS);
    const slices = endpointSlicesFor(objects, (_ns, svc) => ups.get(svc)!.port);
    for (const p of [80, 443]) port.set(p, await stablePort());
    const t = translate(snapshotOf([gatewayClass(), ...objects, ...slices, tlsSecret('apps', 'gw-cert', certs.read('gw.crt'), certs.read('gw.key'))]), { bindAddress: '127.0.0.1', portMap: port, addresses: ['127.0.0.1'], now: '2026-01-01T00:00:00Z' });
    assert.deepEqual(t.notes, []);
    gw = await startGateway(JSON.stringify({ ...t.config, listen: { ...(t.config.listen as object), status: null, admin: null }, access_log: { enabled: false } }));
  });
  after(async () => {
    await gw?.close();
    for (const u of ups.values()) await u.close();
  });

  const plain = async (host: string, path: string) => {
    const r = await http(`http://127.0.0.1:${port.get(80)}${path}`, { headers: { host } });
    return outcome(r.status, r.body);
  };

  /** One HTTP/1.1 request over TLS with this server name ('' sends none) and Host. */
  const tls = (servername: string, host: string, path = '/'): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: port.get(443), path, servername, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(outcome(res.statusCode!, body)));
      });
      req.on('error', reject);
      req.end();
    });

  test('each host goes to the most specific listener of the port; routes of the others never see it', async () => {
    const table: Array<[string, string, string]> = [];
    for (const host of ['bar.com', 'bar.example.com', 'bar.foo.example.com', 'abc.foo.example.com']) {
      for (const path of ['/empty', '/wildcard', '/foo-wildcard', '/abc']) table.push([host, path, await plain(host, path)]);
    }
    assert.deepEqual(table, [
      ['bar.com', '/empty', 'e1'],
      ['bar.com', '/wildcard', 'status 404'],
      ['bar.com', '/foo-wildcard', 'status 404'],
      ['bar.com', '/abc', 'status 404'],
      ['bar.example.com', '/empty', 'status 404'],
      ['bar.example.com', '/wildcard', 'e2'],
      ['bar.example.com', '/foo-wildcard', 'status 404'],
      ['bar.example.com', '/abc', 'status 404'],
      ['bar.foo.example.com', '/empty', 'status 404'],
      ['bar.foo.example.com', '/wildcard', 'status 404'],
      ['bar.foo.example.com', '/foo-wildcard', 'e3'],
      ['bar.foo.example.com', '/abc', 'status 404'],
      ['abc.foo.example.com', '/empty', 'status 404'],
      ['abc.foo.example.com', '/wildcard', 'status 404'],
      ['abc.foo.example.com', '/foo-wildcard', 'status 404'],
      ['abc.foo.example.com', '/abc', 'e4'],
    ]);
    // Deeper names and letter case or a port in Host do not get past the isolation.
    assert.equal(await plain('x.bar.foo.example.com', '/wildcard'), 'status 404');
    assert.equal(await plain('BAR.Example.com:80', '/empty'), 'status 404');
    assert.equal(await plain('ABC.foo.example.com.', '/foo-wildcard'), 'status 404');
  });

  test('HTTPS listeners of one port: the server name chooses the listener, the Host must agree (421 otherwise)', async () => {
    const cases: Array<[sni: string, host: string, want: string]> = [
      ['example.org', 'example.org', 't1'],
      ['example.org', 'unknown-example.org', 'status 404'],
      // The default listener's connection: another listener's Host is not its routes' (404).
      ['unknown-example.org', 'second-example.org', 'status 404'],
      ['unknown-example.org', 'example.org', 't1'],
      ['unknown-example.org', 'unknown-example.org', 'status 404'],
      ['second-example.org', 'second-example.org', 't2'],
      ['SECOND-example.org', 'second-example.org', 't2'],
      ['second-example.org', 'example.org', 'status 421'],
      ['second-example.org', 'unknown-example.org', 'status 421'],
      ['third.wildcard.org', 'third.wildcard.org', 't3'],
      ['third.wildcard.org', 'fifth.wildcard.org', 't3'],
      ['a.b.wildcard.org', 'a.b.wildcard.org', 't3'],
      ['third.wildcard.org', 'fourth-example.wildcard.org', 'status 421'],
      ['third.wildcard.org', 'second-example.org', 'status 421'],
      ['fourth-example.wildcard.org', 'fourth-example.wildcard.org', 't4'],
      ['fourth-example.wildcard.org', 'fifth.wildcard.org', 'status 421'],
      // No server name (a client dialling the address): the port's own listener.
      ['', 'example.org', 't1'],
      ['', 'second-example.org', 'status 404'],
    ];
    const got: Array<[string, string, string]> = [];
    for (const [sni, host] of cases) got.push([sni, host, await tls(sni, host)]);
    assert.deepEqual(got, cases);
  });

  test('the 421 is a problem naming the mismatch; a Host with port and letter case still agrees', async () => {
    const body = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: port.get(443), path: '/', servername: 'second-example.org', headers: { host: 'example.org' }, rejectUnauthorized: false, agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), text }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.status, 421);
    assert.match(body.type, /application\/problem\+json/);
    assert.match(body.text, /misdirected-request/);
    assert.equal(await tls('second-example.org', `Second-Example.org:${port.get(443)}`), 't2');
  });

  test('over HTTP/2 the server name chooses the listener too', async () => {
    const session = h2connect(`https://127.0.0.1:${port.get(443)}`, { servername: 'second-example.org', rejectUnauthorized: false });
    try {
      const ask = (authority: string) =>
        new Promise<string>((resolve, reject) => {
          const s = session.request({ ':path': '/', ':authority': authority });
          let status = 0;
          let body = '';
          s.on('response', (h) => (status = Number(h[':status'])));
          s.on('data', (c: Buffer) => (body += c.toString()));
          s.on('end', () => resolve(outcome(status, body)));
          s.on('error', reject);
          s.end();
        });
      assert.equal(await ask('second-example.org'), 't2');
      // A connection reused for a host another listener serves: the client must open a new one.
      assert.equal(await ask('example.org'), 'status 421');
    } finally {
      session.close();
    }
  });
});

describe('an invalid backend keeps its share of the requests, answered 500', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    up = await named('valid');
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: null }
access_log: { enabled: false }
upstreams: [{ name: valid, targets: [{ url: "${up.url}" }] }]
services:
  - name: s
    upstream: valid
    routes:
      - { name: half, paths: ["/half"], backends: [{ upstream: valid, weight: 1 }, { invalid: true, weight: 1 }] }
      - { name: none, paths: ["/none"], backends: [{ invalid: true }, { upstream: valid, weight: 0 }] }
`);
  });
  after(async () => {
    await gw?.close();
    await up?.close();
  });

  test('1:1 with a valid backend: every other request is a 500 no-backend problem, none reaches an upstream', async () => {
    const seen: string[] = [];
    let problem = '';
    for (let i = 0; i < 6; i++) {
      const r = await http(`${gw.url}/half`);
      seen.push(outcome(r.status, r.body));
      if (r.status === 500) problem = r.body;
    }
    assert.equal(seen.filter((s) => s === 'valid').length, 3);
    assert.equal(seen.filter((s) => s === 'status 500').length, 3);
    assert.match(problem, /no-backend/);
    assert.match(problem, /not valid/);
    for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.url}/none`)).status, 500);
  });
});

describe('an Ingress wildcard host covers one label', () => {
  const ups: Record<string, Upstream> = {};
  let gw: InProcessGateway;
  before(async () => {
    for (const n of ['wild', 'any']) ups[n] = await named(n);
    const svc = (name: string): KubeObject[] => [
      { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { ports: [{ port: 80 }] } },
      { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-1`, namespace: 'apps', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4', ports: [{ port: ups[name]!.port, protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] },
    ];
    const rule = (host: string | undefined, name: string) => ({ ...(host !== undefined ? { host } : {}), http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }] } });
    const ing: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'apps' }, spec: { ingressClassName: 'northgate', rules: [rule('*.foo.test', 'wild'), rule(undefined, 'any')] } };
    const parts = translateIngresses(snapshotOf([ing, ...svc('wild'), ...svc('any')]), { bindAddress: '127.0.0.1', portMap: new Map([[80, 0]]), addresses: ['127.0.0.1'] });
    gw = await startGateway(JSON.stringify({ _format_version: '1', listen: { proxy: parts.listeners, status: null, admin: null }, access_log: { enabled: false }, upstreams: parts.upstreams, services: parts.services }));
  });
  after(async () => {
    await gw?.close();
    for (const u of Object.values(ups)) await u.close();
  });

  test('"*.foo.test" serves a.foo.test; a.b.foo.test and foo.test fall through to the rule without host', async () => {
    const to = async (host: string) => {
      const r = await http(`${gw.url}/x`, { headers: { host } });
      return outcome(r.status, r.body);
    };
    assert.equal(await to('a.foo.test'), 'wild');
    assert.equal(await to('A.Foo.test:80'), 'wild');
    assert.equal(await to('a.b.foo.test'), 'any');
    assert.equal(await to('foo.test'), 'any');
    assert.equal(await to('.foo.test'), 'status 400');
  });
});

describe('listen.proxy[].sni_names in a config, through a reload', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  const config = (names: string) => `
_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      name: main
      tls: { certificates: [{ cert: "${certs.path('gw.crt')}", key: "${certs.path('gw.key')}" }] }
      sni_names: ${names}
  status: null
  admin: null
access_log: { enabled: false }
services:
  - name: s
    url: "${up.url}"
    routes:
      - { name: main, paths: ["/main"], listeners: [main] }
      - { name: a, paths: ["/a"], listeners: [a] }
`;
  before(async () => {
    up = await named('up');
    gw = await startGateway(config('{ "a.test": a }'));
  });
  after(async () => {
    await gw?.close();
    await up?.close();
  });

  /** The status of GET `path` over TLS with this server name ('' sends none) and Host. */
  const status = (servername: string, host: string, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: gw.port, path, servername, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });

  test('a name selected by SNI serves its routes only; a reload changes the table for new connections', async () => {
    assert.equal(await status('a.test', 'a.test', '/a'), 200);
    assert.equal(await status('a.test', 'a.test', '/main'), 404);
    assert.equal(await status('a.test', 'b.test', '/a'), 421);
    assert.equal(await status('b.test', 'b.test', '/main'), 200);
    assert.equal(await status('b.test', 'a.test', '/a'), 404);
    assert.equal(await status('', 'a.test', '/main'), 200);
    assert.equal(gw.reload(config('{ "b.test": a }')).ok, true);
    assert.equal(await status('a.test', 'a.test', '/main'), 200);
    assert.equal(await status('b.test', 'b.test', '/a'), 200);
    assert.equal(await status('b.test', 'a.test', '/a'), 421);
    assert.equal(gw.reload(config('{ "c.test": a }')).ok, true);
    assert.equal(await status('b.test', 'b.test', '/main'), 200);
    assert.equal(await status('b.test', 'b.test', '/a'), 404);
  });
});
