// HTTP/2 downstream: ALPN h2 with HTTP/1.1 fallback on one TLS port, h2c with prior
// knowledge beside HTTP/1.1 on one plain port, through to an HTTP/1.1 upstream, with
// key-auth on the route: pseudo-headers never reach the upstream, :authority is the host,
// the request-head checks apply, connection-specific upstream headers never reach an h2 client.
import assert from 'node:assert/strict';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { CertDir } from '../helpers/certs.js';
import { http, rawExchange, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const certs = new CertDir();

interface H2Result {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function h2(session: ClientHttp2Session, headers: Record<string, string>, body?: string | string[]): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let res: IncomingHttpHeaders = {};
    let data = '';
    stream.on('response', (h) => (res = h));
    stream.on('data', (c: Buffer) => (data += c.toString()));
    stream.on('end', () => resolve({ status: Number(res[':status']), headers: res, body: data }));
    stream.on('error', reject);
    if (body !== undefined) {
      // Several DATA frames and no content-length: the body streams (chunked upstream).
      for (const part of Array.isArray(body) ? body : [body]) stream.write(part);
      stream.end();
    }
  });
}

function echoOf(r: H2Result): { method: string; url: string; headers: Record<string, string>; rawHeaders: string[]; body: string } {
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as { method: string; url: string; headers: Record<string, string>; rawHeaders: string[]; body: string };
}

describe('HTTP/2 listeners', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  let tlsPort: number;
  let h2cPort: number;
  let mtlsPort: number;
  before(async () => {
    certs.ca('ca');
    certs.leaf('server', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
    certs.leaf('alice', 'alice', 'ca');
    echo = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString() });
        // Connection-specific headers an HTTP/2 response must not carry.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'keep-alive', 'keep-alive': 'timeout=5', 'x-upstream': 'yes' });
        res.end(body);
      });
    });
    gw = await startGateway(`
_format_version: "1"
listen:
  proxy:
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('server.crt')}", key: "${certs.path('server.key')}" }] }
    - { address: "127.0.0.1:0", http2: true }
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('server.crt')}", key: "${certs.path('server.key')}" }], client_ca: "${certs.path('ca.crt')}" }
  status: null
limits: { header_timeout: 500ms }
consumers:
  - username: alice
    credentials: { key-auth: [{ key: "alice-secret-key-1" }] }
services:
  - name: s
    url: "${echo.url}"
    routes:
      - { paths: ["/open"] }
      - { paths: ["/keyed"], plugins: { key-auth: {} } }
      - { paths: ["/mtls"], plugins: { mtls-auth: {} } }
`);
    [tlsPort, h2cPort, mtlsPort] = gw.ports as [number, number, number];
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('ALPN h2: key-auth applies, :authority is the host, no pseudo-header reaches the upstream', async () => {
    const session = connect(`https://localhost:${tlsPort}`, { ca: certs.read('ca.crt') });
    try {
      const denied = await h2(session, { ':path': '/keyed/x' });
      assert.equal(denied.status, 401);
      assert.equal(denied.headers['content-type'], 'application/problem+json');
      assert.equal((JSON.parse(denied.body) as { type: string }).type, 'urn:northgate:problem:unauthorized');

      const r = await h2(session, { ':path': '/keyed/x?q=1', ':authority': 'api.example.test', apikey: 'alice-secret-key-1' });
      const seen = echoOf(r);
      assert.equal(seen.url, '/keyed/x?q=1');
      assert.equal(seen.headers['x-consumer-username'], 'alice');
      assert.equal(seen.headers['x-forwarded-host'], 'api.example.test');
      assert.equal(seen.headers['x-forwarded-proto'], 'https');
      assert.equal(seen.headers['apikey'], undefined);
      for (let i = 0; i < seen.rawHeaders.length; i += 2) assert.ok(!seen.rawHeaders[i]!.startsWith(':'), `pseudo-header forwarded: ${seen.rawHeaders[i]}`);
      // The upstream's connection-specific headers were dropped (node's h2 server would refuse them).
      assert.equal(r.headers['x-upstream'], 'yes');
      assert.equal(r.headers['connection'], undefined);
      assert.equal(r.headers['keep-alive'], undefined);
      assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    } finally {
      session.close();
    }
  });

  test('ALPN h2: a streamed request body without content-length reaches the upstream whole', async () => {
    const session = connect(`https://localhost:${tlsPort}`, { ca: certs.read('ca.crt') });
    try {
      const seen = echoOf(await h2(session, { ':path': '/open/upload', ':method': 'POST', 'content-type': 'text/plain' }, ['part one, ', 'part two']));
      assert.equal(seen.method, 'POST');
      assert.equal(seen.body, 'part one, part two');
      assert.equal(seen.headers['transfer-encoding'], 'chunked');
    } finally {
      session.close();
    }
  });

  test('mtls-auth reads the client certificate over h2 as over HTTP/1.1', async () => {
    const withCert = connect(`https://localhost:${mtlsPort}`, { ca: certs.read('ca.crt'), cert: certs.read('alice.crt'), key: certs.read('alice.key') });
    const without = connect(`https://localhost:${mtlsPort}`, { ca: certs.read('ca.crt') });
    try {
      assert.equal(echoOf(await h2(withCert, { ':path': '/mtls' })).headers['x-consumer-username'], 'alice');
      assert.equal((await h2(without, { ':path': '/mtls' })).status, 401);
    } finally {
      withCert.close();
      without.close();
    }
  });

  test('the same TLS port still speaks HTTP/1.1 to clients without h2 in ALPN', async () => {
    const res = await new Promise<{ status: number; version: string; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: tlsPort, path: '/open/h1', servername: 'localhost', ca: certs.read('ca.crt'), agent: false }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode!, version: r.httpVersion, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.equal(res.version, '1.1');
    assert.equal((JSON.parse(res.body) as { url: string }).url, '/open/h1');
  });

  test('h2c with prior knowledge and HTTP/1.1 share one plain port', async () => {
    const session = connect(`http://127.0.0.1:${h2cPort}`);
    try {
      const denied = await h2(session, { ':path': '/keyed' });
      assert.equal(denied.status, 401);
      const seen = echoOf(await h2(session, { ':path': '/keyed/c', 'x-api-key': 'alice-secret-key-1' }));
      assert.equal(seen.headers['x-consumer-username'], 'alice');
      assert.equal(seen.headers['x-forwarded-proto'], 'http');
      assert.equal(seen.headers['x-forwarded-host'], `127.0.0.1:${h2cPort}`);
    } finally {
      session.close();
    }
    const h1 = await http(`http://127.0.0.1:${h2cPort}/open/one`);
    assert.equal(h1.status, 200);
    assert.equal((JSON.parse(h1.body) as { url: string }).url, '/open/one');
  });

  test('the HTTP/1.1 side of an h2c listener keeps the slow-header protection (408)', async () => {
    const { text, serverClosed } = await rawExchange(h2cPort, 'GET /open HTTP/1.1\r\nHost: a\r\nX-Slow: ', 5000);
    assert.equal(serverClosed, true);
    assert.match(text, /^HTTP\/1\.1 408 /);
  });

  test('request-head checks apply over HTTP/2: :authority names, ambiguous host, dot segments, no route', async () => {
    const session = connect(`http://127.0.0.1:${h2cPort}`);
    try {
      const two = await h2(session, { ':path': '/open', ':authority': 'a.example.test', host: 'b.example.test' });
      assert.equal(two.status, 400);
      assert.match((JSON.parse(two.body) as { detail: string }).detail, /:authority and Host/);
      // :authority is read as a Host is: an RFC 3986 name passes (the gRPC suite's service name), a list does not.
      const underscore = echoOf(await h2(session, { ':path': '/open/u', ':authority': 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho' }));
      assert.equal(underscore.headers['x-forwarded-host'], 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho');
      for (const authority of ['a.example,b.example', 'a%2eexample', 'a.example:65536']) {
        const bad = await h2(session, { ':path': '/open', ':authority': authority });
        assert.equal(bad.status, 400, authority);
        assert.match((JSON.parse(bad.body) as { detail: string }).detail, /malformed Host header/, authority);
      }
      const dots = await h2(session, { ':path': '/open/%2e%2e/keyed' });
      assert.equal(dots.status, 400);
      const none = await h2(session, { ':path': '/nothing-here' });
      assert.equal(none.status, 404);
      assert.equal((JSON.parse(none.body) as { type: string }).type, 'urn:northgate:problem:route-not-found');
    } finally {
      session.close();
    }
  });
});
