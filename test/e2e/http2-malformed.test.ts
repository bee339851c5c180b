// HTTP/2 requests with malformed header fields (RFC 9113 §8.2.1, §8.3), sent as hand-encoded
// HPACK over a raw h2c connection (node's own client refuses to send them). Pins what node's
// HTTP/2 layer does, since the gateway only sees what it passes on: uppercase names,
// unknown or misplaced pseudo-headers, connection-specific fields and bad :path values reset
// the stream (PROTOCOL_ERROR) before the gateway sees a request; other invalid fields (a
// space, colon, tab, DEL or non-ASCII byte in a name; CR, LF, NUL or edge whitespace in a
// value) are dropped by node without a trace — the request is forwarded without them, and
// never with the bytes. docs/protocols.md lists both.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { CertDir } from '../helpers/certs.js';
import { FRAME, indexedStatus, rawH2, resetCode } from '../helpers/h2-raw.js';
import { startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const PROTOCOL_ERROR = 1;
const certs = new CertDir();
const BASE: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x']];

describe('HTTP/2 requests with malformed header fields', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  const received: Array<{ url: string; rawHeaders: string[] }> = [];
  before(async () => {
    certs.ca('ca');
    certs.leaf('server', 'localhost', 'ca', 'DNS:localhost,IP:127.0.0.1');
    up = await startUpstream((req, res) => {
      received.push({ url: req.url!, rawHeaders: req.rawHeaders });
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    gw = await startGateway(`
_format_version: "1"
listen:
  proxy:
    - { address: "127.0.0.1:0", http2: true }
    - address: "127.0.0.1:0"
      http2: true
      tls: { certificates: [{ cert: "${certs.path('server.crt')}", key: "${certs.path('server.key')}" }] }
  status: null
services:
  - { name: e, url: "${up.url}", routes: [{ name: all, paths: ["/"] }] }
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  async function send(fields: Array<[string, string]>, body?: string) {
    const session = await rawH2(gw.port);
    try {
      const before = received.length;
      const frames = await session.outcome(session.request(fields, body), 3000);
      // The upstream request (if any) was made before the response frames came back.
      return { frames, upstream: received.slice(before) };
    } finally {
      session.close();
    }
  }

  test('reset with PROTOCOL_ERROR, nothing forwarded: uppercase names, bad pseudo-headers, connection-specific fields, bad :path', async () => {
    const cases: Array<[string, Array<[string, string]>]> = [
      ['uppercase name', [...BASE, ['X-Upper', 'v']]],
      ['uppercase Host', [...BASE, ['HOST', 'a']]],
      ['one uppercase letter', [...BASE, ['authorizatioN', 'Bearer x']]],
      ['unknown pseudo-header', [...BASE, [':bogus', 'v']]],
      ['pseudo-header after a field', [[':method', 'GET'], ['x-a', '1'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x']]],
      ['duplicate :path', [...BASE, [':path', '/y']]],
      ['no :path', BASE.filter(([n]) => n !== ':path')],
      ['no :method', BASE.filter(([n]) => n !== ':method')],
      ['connection', [...BASE, ['connection', 'close']]],
      ['keep-alive', [...BASE, ['keep-alive', '1']]],
      ['upgrade', [...BASE, ['upgrade', 'websocket']]],
      ['transfer-encoding', [...BASE, ['transfer-encoding', 'chunked']]],
      ['te other than trailers', [...BASE, ['te', 'gzip']]],
      ['empty :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '']]],
      ['relative :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', 'x']]],
      [':path with a space', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x y']]],
      [':path with CR LF', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x\r\nX-Injected: 1']]],
      [':path with NUL', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x\u0000']]],
      ['method with a space', [[':method', 'G T'], [':scheme', 'http'], [':authority', 'a'], [':path', '/x']]],
      ['invalid content-length', [...BASE, ['content-length', 'abc']]],
    ];
    for (const [name, fields] of cases) {
      const { frames, upstream } = await send(fields);
      assert.equal(resetCode(frames), PROTOCOL_ERROR, name);
      assert.equal(frames.filter((f) => f.type === FRAME.HEADERS).length, 0, name);
      assert.deepEqual(upstream, [], name);
    }
  });

  test('node drops the other invalid fields without telling: the request is forwarded without them, never with CR, LF or NUL', async () => {
    const dropped: Array<[string, [string, string]]> = [
      ['space in a name', ['x sp', 'v']],
      ['colon in a name', ['x:c', 'v']],
      ['tab in a name', ['x\tt', 'v']],
      ['empty name', ['', 'v']],
      ['DEL in a name', ['x-\u007f', 'v']],
      ['non-ASCII name', ['x-\u00e9', 'v']],
      ['CR in a value', ['x-v', 'a\rb']],
      ['LF in a value', ['x-v', 'a\nb']],
      ['CR LF header injection in a value', ['x-v', 'a\r\nX-Injected: 1']],
      ['NUL in a value', ['x-v', 'a\u0000b']],
      ['leading space in a value', ['x-v', ' a']],
      ['trailing tab in a value', ['x-v', 'a\t']],
    ];
    for (const [name, field] of dropped) {
      const { frames, upstream } = await send([...BASE, field, ['x-after', 'kept']]);
      assert.equal(indexedStatus(frames), 200, name);
      assert.equal(upstream.length, 1, name);
      const raw = upstream[0]!.rawHeaders;
      const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      assert.ok(!names.includes(field[0].toLowerCase()) && !names.includes('x-v') && !names.includes('x-injected'), `${name}: ${JSON.stringify(raw)}`);
      assert.ok(names.includes('x-after'), name);
      assert.ok(raw.every((s) => !/[\r\n\u0000]/.test(s)), name);
    }
  });

  test('CONNECT: HTTP/2 gets the 405 of node on h2c and TLS listeners; HTTP/1.1 over the same TLS port gets a 400 problem', async () => {
    for (const url of [`http://127.0.0.1:${gw.ports[0]}`, `https://localhost:${gw.ports[1]}`]) {
      const session = h2connect(url, { ca: certs.read('ca.crt') });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':method': 'CONNECT', ':authority': 'a:443' });
          stream.on('response', (h) => resolve(Number(h[':status'])));
          stream.on('error', reject);
        });
        assert.equal(status, 405, url);
      } finally {
        session.close();
      }
    }
    const text = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.ports[1]!, servername: 'localhost', ca: certs.read('ca.crt'), ALPNProtocols: ['http/1.1'] }, () => socket.write('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'));
      let out = '';
      const timer = setTimeout(() => socket.destroy(), 3000);
      socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      socket.on('error', reject);
    });
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*application\/problem\+json[^]*reverse proxy/);
  });
});
