// Ingresses translated and served: a real gateway compiled from the translation, with local
// HTTP servers as the Services' endpoints. Exact and element-wise prefix paths, the longest
// path across Ingresses, the oldest Ingress keeping a contested path, host rules falling
// through to rules without host and then to the default backend, wildcard hosts and
// Host header tricks against them, paths with ".." and encoded slashes, the annotations, a
// refused Ingress that leaves the others served, 503 for a Service without endpoints, and
// HTTPS with the certificate of a TLS Secret chosen by SNI.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createH2cServer } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { after, before, describe, test } from 'node:test';
import type { Kind, KubeObject } from '../../src/kubernetes/resources.js';
import type { ResourceSnapshot } from '../../src/kubernetes/store.js';
import { translateIngresses } from '../../src/kubernetes/translate/ingress.js';
import type { ConfigParts } from '../../src/kubernetes/translate/model.js';
import { CertDir } from '../helpers/certs.js';
import { http, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

function snapshot(objects: KubeObject[]): ResourceSnapshot {
  const byKind = new Map<Kind, KubeObject[]>();
  for (const o of objects) byKind.set(o.kind as Kind, [...(byKind.get(o.kind as Kind) ?? []), o]);
  return { version: 1, get: (kind) => byKind.get(kind) ?? [] };
}

const backend = (name: string, port: number | string = 80) => ({ service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } });
type PathSpec = [string, string, ReturnType<typeof backend>];
const rule = (host: string | undefined, ...paths: PathSpec[]) => ({ ...(host ? { host } : {}), http: { paths: paths.map(([path, pathType, b]) => ({ path, pathType, backend: b })) } });

function ingress(name: string, created: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'apps', creationTimestamp: created, annotations }, spec: { ingressClassName: 'northgate', ...spec } };
}

/** A Service (port 80 named http) whose one ready endpoint is a local server. */
function service(name: string, up: Upstream | null): KubeObject[] {
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'apps' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${name}-1`, namespace: 'apps', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: up?.port ?? 1, protocol: 'TCP' }],
      endpoints: up === null ? [] : [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
  ];
}

interface Seen { name: string; path: string; host: string }

/** An endpoint that answers with its name, the path and the Host it received. */
const named = (name: string): Promise<Upstream> =>
  startUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, path: req.url ?? '', host: req.headers.host ?? '' } satisfies Seen));
  });

/** The translation as a config (listener certificates are inline PEM). */
function configText(parts: ConfigParts): string {
  return JSON.stringify({ _format_version: '1', listen: { proxy: parts.listeners, status: null, admin: null }, access_log: { enabled: false }, upstreams: parts.upstreams, services: parts.services });
}

describe('Ingresses served by a gateway built from their translation', () => {
  const certs = new CertDir().ca('ca').leaf('secure', 'secure.test', 'ca', 'DNS:secure.test');
  const ups: Record<string, Upstream> = {};
  let gw: InProcessGateway;
  let parts: ConfigParts;
  let httpPort: number;
  let httpsPort: number;

  before(async () => {
    for (const n of ['web', 'api', 'deep', 'fallback', 'wild', 'strip', 'secure', 'bad']) ups[n] = await named(n);
    const tlsSecret: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'secure-cert', namespace: 'apps' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': certs.read('secure.crt').toString('base64'), 'tls.key': certs.read('secure.key').toString('base64') },
    };
    const resources = [
      ingress('main', '2026-01-01T00:00:00Z', {
        rules: [
          rule('app.test', ['/exact', 'Exact', backend('web')], ['/foo', 'Prefix', backend('api', 'http')]),
          rule('*.wild.test', ['/', 'Prefix', backend('wild')]),
          rule(undefined, ['/shared', 'Prefix', backend('api')]),
        ],
      }),
      ingress('later', '2026-01-02T00:00:00Z', { rules: [rule('app.test', ['/foo/bar', 'Prefix', backend('deep')], ['/foo', 'Prefix', backend('deep')])] }),
      ingress('defaults', '2026-01-03T00:00:00Z', { defaultBackend: backend('fallback') }),
      ingress('strip', '2026-01-04T00:00:00Z', { rules: [rule('strip.test', ['/svc', 'Prefix', backend('strip')])] }, { 'northgate.io/strip-path': 'true', 'northgate.io/rate-limit': '3', 'northgate.io/plugins': '{"headers": {"response": {"set": {"x-ingress": "strip"}}}}' }),
      ingress('refused', '2026-01-05T00:00:00Z', { rules: [rule('bad.test', ['/', 'Prefix', backend('bad')])] }, { 'northgate.io/plugins': '{"rate-limit": {"limits": []}}' }),
      ingress('empty', '2026-01-06T00:00:00Z', { rules: [rule('empty.test', ['/', 'Prefix', backend('nobody')]), rule('gone.test', ['/', 'Prefix', backend('gone')])] }),
      ingress('secure', '2026-01-07T00:00:00Z', { tls: [{ hosts: ['secure.test'], secretName: 'secure-cert' }], rules: [rule('secure.test', ['/', 'Prefix', backend('secure')])] }),
      tlsSecret,
      ...service('web', ups['web']!),
      ...service('api', ups['api']!),
      ...service('deep', ups['deep']!),
      ...service('fallback', ups['fallback']!),
      ...service('wild', ups['wild']!),
      ...service('strip', ups['strip']!),
      ...service('secure', ups['secure']!),
      ...service('bad', ups['bad']!),
      ...service('nobody', null),
    ];
    parts = translateIngresses(snapshot(resources), { bindAddress: '127.0.0.1', portMap: new Map([[80, 0], [443, 0]]), addresses: ['127.0.0.1'] });
    gw = await startGateway(configText(parts));
    [httpPort, httpsPort] = gw.ports as [number, number];
  });

  after(async () => {
    await gw?.close();
    for (const u of Object.values(ups)) await u.close();
  });

  /** GET `path` with `Host: host` on the plain listener: the backend's name (or "status N"), and what it saw. */
  async function get(host: string, path: string): Promise<{ to: string; seen: Seen | null; headers: Record<string, unknown> }> {
    const res = await http(`http://127.0.0.1:${httpPort}`, { path, headers: { host } });
    if (res.status !== 200) return { to: `status ${res.status}`, seen: null, headers: res.headers };
    const seen = JSON.parse(res.body) as Seen;
    return { to: seen.name, seen, headers: res.headers };
  }

  test('the translation serves every Ingress but the refused one, on an HTTP and an HTTPS listener', () => {
    assert.equal(parts.listeners.length, 2);
    assert.deepEqual(
      parts.statuses.map((s) => [s.name, (s.status['loadBalancer'] as { ingress: unknown[] }).ingress.length]),
      [['main', 1], ['later', 1], ['defaults', 1], ['strip', 1], ['refused', 0], ['empty', 1], ['secure', 1]],
    );
  });

  test('Exact matches only its path; Prefix matches element-wise; the longest path wins across Ingresses; the oldest keeps a contested one', async () => {
    assert.equal((await get('app.test', '/exact')).to, 'web');
    assert.equal((await get('app.test', '/exact/more')).to, 'fallback');
    assert.equal((await get('app.test', '/exactly')).to, 'fallback');
    assert.equal((await get('app.test', '/foo')).to, 'api', 'main is older than later');
    assert.equal((await get('app.test', '/foo/')).to, 'api');
    assert.equal((await get('app.test', '/foo/x')).to, 'api');
    assert.equal((await get('app.test', '/foobar')).to, 'fallback', '/foo is not a prefix of /foobar');
    assert.equal((await get('app.test', '/foo/bar')).to, 'deep');
    assert.equal((await get('app.test', '/foo/bar/baz')).to, 'deep');
    assert.equal((await get('app.test', '/foo/barbaz')).to, 'api');
  });

  test('a host without a matching path falls through to the rules without host, then to the default backend', async () => {
    assert.equal((await get('app.test', '/shared/1')).to, 'api');
    assert.equal((await get('other.test', '/shared')).to, 'api');
    assert.equal((await get('other.test', '/anything')).to, 'fallback');
    assert.equal((await get('other.test', '/foo')).to, 'fallback', 'app.test rules are not for other hosts');
  });

  test('backends get the Host the client sent and the path as sent (strip-path removes the matched prefix)', async () => {
    const r = await get('app.test', '/foo/x?q=1');
    assert.equal(r.seen!.host, 'app.test');
    assert.equal(r.seen!.path, '/foo/x?q=1');
    const s = await get('strip.test', '/svc/inner?q=2');
    assert.equal(s.to, 'strip');
    assert.equal(s.seen!.path, '/inner?q=2');
    assert.equal(s.headers['x-ingress'], 'strip', 'northgate.io/plugins applied');
  });

  test('northgate.io/rate-limit: requests per minute per client address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i++) statuses.push((await http(`http://127.0.0.1:${httpPort}`, { path: '/svc/x', headers: { host: 'strip.test' } })).status);
    assert.ok(statuses.includes(429), String(statuses));
    assert.ok(statuses.filter((s) => s === 200).length >= 1, String(statuses));
  });

  test('a wildcard host needs a label before its suffix; Host header spellings cannot reach another rule', async () => {
    assert.equal((await get('a.wild.test', '/')).to, 'wild');
    assert.equal((await get('A.Wild.TEST', '/')).to, 'wild', 'host names compare without case');
    assert.equal((await get('a.wild.test.', '/')).to, 'wild', 'a trailing dot names the same host');
    assert.equal((await get('a.wild.test:8080', '/')).to, 'wild', 'the port is not part of the host');
    assert.equal((await get('wild.test', '/')).to, 'fallback', 'the wildcard needs a label');
    assert.equal((await get('a.wild.test.evil', '/')).to, 'fallback');
    assert.equal((await get('evilwild.test', '/')).to, 'fallback');
    for (const host of ['.wild.test', 'a..wild.test', 'a.wild.test@evil', 'a wild.test', '*.wild.test']) {
      const r = await get(host, '/');
      assert.ok(r.to === 'fallback' || r.to === 'status 400', `${host}: ${r.to}`);
    }
    // The request target's authority and the Host header must agree; X-Forwarded-Host is not read for routing.
    const absolute = await http(`http://127.0.0.1:${httpPort}`, { path: 'http://a.wild.test/', headers: { host: 'app.test' } });
    assert.equal(absolute.status, 400);
    const forwarded = await http(`http://127.0.0.1:${httpPort}`, { path: '/exact', headers: { host: 'other.test', 'x-forwarded-host': 'app.test' } });
    assert.equal((JSON.parse(forwarded.body) as Seen).name, 'fallback');
  });

  test('paths with dot segments or encoded slashes are refused before any rule is chosen', async () => {
    for (const path of ['/foo/../exact', '/foo/%2e%2e/exact', '/foo%2Fbar', '/foo%2fbar/x', '/shared/..', '/foo/bar%2F..%2Fx']) {
      const res = await http(`http://127.0.0.1:${httpPort}`, { path, headers: { host: 'app.test' } });
      assert.equal(res.status, 400, path);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/, path);
    }
  });

  test('a refused Ingress is not served (its host falls to the default backend); a missing Service or one without endpoints answers 503', async () => {
    assert.equal((await get('bad.test', '/')).to, 'fallback');
    const res = await http(`http://127.0.0.1:${httpPort}`, { path: '/', headers: { host: 'empty.test' } });
    assert.equal(res.status, 503);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:upstream-unhealthy');
    const gone = await http(`http://127.0.0.1:${httpPort}`, { path: '/x', headers: { host: 'gone.test' } });
    assert.equal(gone.status, 503);
    assert.match(String(gone.headers['content-type']), /application\/problem\+json/);
    const problem = JSON.parse(gone.body) as { type: string; detail: string };
    assert.equal(problem.type, 'urn:northgate:problem:upstream-unhealthy');
    assert.equal(problem.detail, 'Service apps/gone not found');
  });

  test('HTTPS: the TLS Secret\'s certificate is chosen by SNI and the rules apply', async () => {
    const res = await new Promise<{ status: number; body: string; subject: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/', servername: 'secure.test', headers: { host: 'secure.test' }, ca: certs.read('ca.crt'), agent: false }, (r) => {
        const chunks: Buffer[] = [];
        const subject = (r.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN;
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode!, body: Buffer.concat(chunks).toString(), subject: String(subject) }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.subject, 'secure.test');
    assert.equal((JSON.parse(res.body) as Seen).name, 'secure');
    assert.equal((await get('secure.test', '/')).to, 'secure', 'the host stays served over HTTP');
  });
});

describe('Service ports by appProtocol', () => {
  test('kubernetes.io/ws: a WebSocket through the Ingress; kubernetes.io/h2c: HTTP/2 without TLS to the endpoint', async () => {
    const wss = new WebSocketServer({ noServer: true });
    const wsUp = await startUpstream((_req, res) => res.writeHead(426).end());
    wsUp.server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(`echo:${d.toString()}`))));
    const h2 = createH2cServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`h2c ${req.httpVersion} ${req.url}`));
    h2.listen(0, '127.0.0.1');
    await once(h2, 'listening');
    const h2Port = (h2.address() as AddressInfo).port;
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'multi', namespace: 'apps' },
      spec: { ports: [{ name: 'ws', port: 8082, targetPort: 3000, appProtocol: 'kubernetes.io/ws' }, { name: 'h2c', port: 8081, targetPort: 3001, appProtocol: 'kubernetes.io/h2c' }] },
    };
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'multi-1', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'multi' } },
      addressType: 'IPv4',
      ports: [{ name: 'ws', port: wsUp.port }, { name: 'h2c', port: h2Port }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    };
    const parts = translateIngresses(snapshot([ingress('multi', '2026-01-01T00:00:00Z', { rules: [rule(undefined, ['/chat', 'Prefix', backend('multi', 'ws')], ['/h2', 'Prefix', backend('multi', 8081)])] }), svc, slice]), {
      bindAddress: '127.0.0.1',
      portMap: new Map([[80, 0]]),
    });
    const gw = await startGateway(configText(parts));
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/chat`);
      await once(ws, 'open');
      ws.send('hi');
      const [data] = (await once(ws, 'message')) as [Buffer];
      assert.equal(data.toString(), 'echo:hi');
      ws.close();
      await once(ws, 'close');
      const res = await http(`${gw.url}/h2/x`);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, 'h2c 2.0 /h2/x');
    } finally {
      wss.close();
      await gw.close();
      await wsUp.close();
      h2.close();
    }
  });
});
