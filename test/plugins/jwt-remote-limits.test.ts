// The jwt plugin's remote documents against a hostile identity provider (a real node:http
// server on 127.0.0.1): an endless JWKS, a huge declared one, a gzip bomb, one that trickles,
// one that never answers, a redirect loop, HTML, JSON that is no key set, and the same for a
// discovery document. Each request gets the documented 503 auth-unavailable in bounded time,
// the gateway stays up, its memory does not follow the document's size, and the failure
// event (which the process log writes) says why.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { fetchDocument, type RemoteFetchFailure } from '../../src/base/remote-document.js';
import { remoteFetchFailedChannel } from '../../src/base/events.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { http, startCli, startEchoUpstream, startGateway, writeConfig, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const MiB = 1024 * 1024;
/** The most a hostile handler sends, whatever happens: every loop here is bounded. */
const MAX_SEND = 256 * MiB;

interface Hostile {
  url: string;
  /** Bytes written per path. */
  sent: Map<string, number>;
  close(): Promise<void>;
}

/** Writes `chunk` until the client goes away or MAX_SEND, with backpressure. */
async function endless(res: ServerResponse, head: string, chunk: Buffer, onSent: (n: number) => void): Promise<void> {
  res.write(head);
  let sent = head.length;
  const closed = new Promise((r) => res.once('close', r));
  while (sent < MAX_SEND && !res.destroyed) {
    if (!res.write(chunk)) await Promise.race([new Promise((r) => res.once('drain', r)), closed]);
    sent += chunk.length;
    onSent(sent);
  }
  res.end();
}

async function startHostileIdp(): Promise<Hostile> {
  const sent = new Map<string, number>();
  const key = Buffer.from(`{"kty":"oct","k":"${'A'.repeat(4000)}"},`);
  const chunk = Buffer.concat(Array.from({ length: 16 }, () => key));
  const bomb = gzipSync(Buffer.concat([Buffer.from('{"keys":['), Buffer.alloc(32 * MiB, ' '), Buffer.from(']}')]));
  let base = '';
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname.replace(/^\/discovery/, '');
    const record = (n: number) => sent.set(req.url!, n);

    const doc = req.url!.startsWith('/discovery');
    switch (path) {
      case '/endless':
        void endless(res.writeHead(200, { 'content-type': 'application/json' }), doc ? `{"issuer":"https://idp.test","jwks_uri":"${base}/jwks","x":[` : '{"keys":[', chunk, record);
        return;
      case '/declared':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * MiB) });
        void endless(res, '{"keys":[', chunk, record);
        return;
      case '/bomb':
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb);
        return;
      case '/trickle': {
        res.writeHead(200, { 'content-type': 'application/json' });
        let n = 0;
        const t = setInterval(() => {
          // At most 600 bytes (a minute), or until the client is gone.
          if (res.destroyed || ++n > 600) {
            clearInterval(t);
            timers.delete(t);
            return void res.end();
          }
          res.write(n === 1 ? '{"keys":[' : ' ');
        }, 100);
        timers.add(t);
        return;
      }
      case '/silent':
        return; // never answers; closed with the server
      case '/loop':
        return void res.writeHead(302, { location: req.url! }).end();
      case '/elsewhere':
        return void res.writeHead(301, { location: `${base}/jwks` }).end();
      case '/html':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>{"keys":[]}</html>');
      case '/no-type':
        return void res.writeHead(200).end('{"keys":[]}');
      case '/not-json':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[');
      case '/not-jwks':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
      case '/jwks':
        return void res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end('{"keys":[]}');
      default:
        res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    sent,
    close: () =>
      new Promise((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const CASES: Array<[string, RegExp]> = [
  ['/endless', /larger than 1048576 bytes/],
  ['/declared', /larger than 1048576 bytes \(Content-Length 104857600\)/],
  ['/bomb', /larger than 1048576 bytes/],
  ['/trickle', /no complete answer within 1000 ms/],
  ['/silent', /no complete answer within 1000 ms/],
  ['/loop', /answered 302 \(redirects are not followed/],
  ['/elsewhere', /answered 301 \(redirects are not followed/],
  ['/html', /is not JSON \(Content-Type "text\/html"\)/],
  ['/no-type', /is not JSON \(Content-Type ""\)/],
  ['/not-json', /is not valid JSON/],
  ['/not-jwks', /is not a JSON Web Key Set/],
];

describe('jwt: remote documents are bounded', () => {
  let idp: Hostile;
  let echo: Upstream;
  let gw: InProcessGateway;
  let token: string;
  const failures: RemoteFetchFailure[] = [];
  const onFailure = (m: unknown) => failures.push(m as RemoteFetchFailure);

  before(async () => {
    idp = await startHostileIdp();
    echo = await startEchoUpstream();
    const { privateKey } = await generateKeyPair('ES256');
    token = await new SignJWT({ sub: 'erin' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://idp.test').setExpirationTime('5m').sign(privateKey);
    const route = (name: string, jwt: string) => `      - { paths: ["/${name}"], plugins: { jwt: { ${jwt}, algorithms: [ES256], jwks_timeout: 1s, jwks_cooldown: 1s } } }`;
    const routes = CASES.flatMap(([path]) => [
      route(`jwks${path}`, `jwks_uri: "${idp.url}${path}"`),
      route(`discovery${path}`, `discovery: "${idp.url}/discovery${path}", issuer: "https://idp.test"`),
    ]);
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${echo.url}"
    routes:
${routes.join('\n')}
      - { paths: ["/open"] }
`);
    subscribe(remoteFetchFailedChannel.name, onFailure);
  });
  after(async () => {
    unsubscribe(remoteFetchFailedChannel.name, onFailure);
    await gw?.close();
    await idp?.close();
    await echo?.close();
  });

  for (const kind of ['jwks', 'discovery'] as const) {
    test(`attack: a hostile ${kind === 'jwks' ? 'JWKS' : 'discovery document'}: 503 auth-unavailable in bounded time, the reason reported`, async () => {
      const rssBefore = process.memoryUsage().rss;
      for (const [path, reason] of CASES) {
        const started = Date.now();
        const res = await http(`${gw.url}/${kind}${path}`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 503, `${path}: ${res.body}`);
        assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:auth-unavailable');
        assert.ok(Date.now() - started < 10_000, `${path} answered before 10 s`);
        const failure = failures.find((f) => f.url === `${idp.url}${kind === 'discovery' ? '/discovery' : ''}${path}`);
        assert.ok(failure !== undefined, `${path}: a failure is reported`);
        assert.match(failure.reason, kind === 'discovery' && path === '/not-jwks' ? /has no http\(s\) jwks_uri/ : reason, path);
        assert.equal(failure.what, kind === 'jwks' ? 'JWKS' : 'OpenID discovery document');
      }
      // The endless answers were given up after about the limit: not read to the end.
      for (const path of ['/endless', '/declared']) {
        const sent = idp.sent.get(`${kind === 'discovery' ? '/discovery' : ''}${path}`) ?? 0;
        assert.ok(sent < 64 * MiB, `${path}: ${sent} bytes sent before the gateway hung up`);
      }
      const grown = process.memoryUsage().rss - rssBefore;
      assert.ok(grown < 150 * MiB, `RSS grew by ${Math.round(grown / MiB)} MiB`);
      assert.equal((await http(gw.url + '/open')).status, 200, 'the gateway still serves');
    });
  }

  test('a redirect is not followed, even to a good JWKS', async () => {
    const before = failures.length;
    const res = await http(`${gw.url}/jwks/elsewhere`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 503);
    assert.ok(failures.length > before || failures.some((f) => f.url.endsWith('/elsewhere')));
  });
});

describe('jwt: a JWKS that cannot be used is in the process log', () => {
  test('the error line names the document, its URL without the query, and why', async () => {
    const idp = await startHostileIdp();
    const echo = await startEchoUpstream();
    const gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${echo.url}"
    routes:
      - { paths: ["/"], plugins: { jwt: { jwks_uri: "${idp.url}/endless?secret=hunter2", algorithms: [ES256], jwks_max_bytes: 65536 } } }
`)]);
    try {
      const { privateKey } = await generateKeyPair('ES256');
      const token = await new SignJWT({ sub: 'erin' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('5m').sign(privateKey);
      assert.equal((await http(gw.url + '/', { headers: { authorization: `Bearer ${token}` } })).status, 503);
      const line = await gw.waitFor((l) => l['type'] === 'remote_fetch');
      assert.equal(line['level'], 'error');
      assert.equal(line['what'], 'JWKS');
      assert.equal(line['url'], `${idp.url}/endless`);
      assert.match(String(line['reason']), /larger than 65536 bytes/);
      assert.ok(!JSON.stringify(gw.lines).includes('hunter2'), 'the query of the URL is not logged');
    } finally {
      await gw.stop();
      await idp.close();
      await echo.close();
    }
  });
});

describe('jwt: remote document limits in the config', () => {
  test('jwks_timeout and jwks_max_bytes are checked at load, with their position', () => {
    const lines = (jwt: string) => configProblems(routeWithPlugin('jwt', `{ jwks_uri: "https://idp.example/jwks", algorithms: [ES256], ${jwt} }`), 'j.yaml');
    assert.deepEqual(lines('jwks_timeout: 0s'), ['j.yaml:8:91 services[0].routes[0].plugins.jwt.jwks_timeout: must be at least 100ms']);
    assert.match(lines('jwks_timeout: soon')[0]!, /^j\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.jwt\.jwks_timeout: must be a duration/);
    assert.match(lines('jwks_max_bytes: 10')[0]!, /^j\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.jwt\.jwks_max_bytes: /);
    assert.match(lines('jwks_max_bytes: 1e9')[0]!, /jwks_max_bytes: /);
    assert.deepEqual(lines('jwks_timeout: 2s, jwks_max_bytes: 65536'), []);
  });
});

describe('remote documents: secrets in a URL', () => {
  test('attack: userinfo and query of a URL never appear in the error', async () => {
    for (const url of ['http://user:hunter2@127.0.0.1:9/jwks', 'http://127.0.0.1:9/jwks?token=hunter2', 'http://127.0.0.1:9/jwks#hunter2']) {
      await assert.rejects(fetchDocument(url, { what: 'JWKS', timeoutMs: 2000, maxBytes: 1024 }), (err: Error) => {
        assert.ok(!err.message.includes('hunter2'), err.message);
        assert.match(err.message, /^JWKS at http:\/\/127\.0\.0\.1:9\/jwks: /);
        return true;
      });
    }
  });
});
