// Interim (1xx) answers of the upstream: the final answer always reaches the client; 100
// and 102 are skipped; 103 Early Hints reaches HTTP/1.1 and HTTP/2 clients (Link only, a
// bounded number of times); an unasked-for 101 is a 502, never a tunnel; the access log
// records the final status. The upstream is a raw socket writing the bytes under test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { AccessLog } from '../../src/observability/access-log.js';
import { MAX_EARLY_HINTS, splitLinks } from '../../src/proxy/interim.js';
import { createLogger } from '../../src/base/logger.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { rawExchange, startGateway, tempDir, type InProcessGateway } from '../helpers/servers.js';

const FINAL = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';
const HINT = 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n';

/** What the raw upstream answers, by request path. */
const SCRIPTS: Record<string, string | string[]> = {
  '/continue': ['HTTP/1.1 100 Continue\r\n\r\n', FINAL],
  // Several spellings: headers on the 100, an empty reason, another reason, twice in a row, body-like headers.
  '/continue-spellings': ['HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n', 'HTTP/1.1 100 \r\n\r\n', 'HTTP/1.1 100 Whatever\r\nContent-Length: 10\r\n\r\n', 'HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n', FINAL],
  '/continue-split': ['HTTP/1.1 10', '0 Continue\r\n\r', '\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  '/processing': ['HTTP/1.1 102 Processing\r\n\r\n', 'HTTP/1.1 102 Processing\r\nContent-Length: 3\r\n\r\n', FINAL],
  '/hints': ['HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\nSet-Cookie: s=1\r\nX-Internal: secret\r\nConnection: keep-alive\r\n\r\n', FINAL],
  '/hints-list': ['HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style, </b,c.js>; rel=preload; as=script\r\nLink: not a link\r\nlink: <https://cdn.example>; rel=preconnect\r\n\r\n', FINAL],
  '/hints-no-link': ['HTTP/1.1 103 Early Hints\r\nX-Only: 1\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: garbage\r\n\r\n', FINAL],
  '/hints-body-like': ['HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\nContent-Length: 5\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </b>; rel=preload\r\nTransfer-Encoding: chunked\r\n\r\n', FINAL],
  '/many-hints': [HINT.repeat(5000), FINAL],
  '/many-continue': ['HTTP/1.1 100 Continue\r\n\r\n'.repeat(5000), FINAL],
  '/many-mixed': [('HTTP/1.1 100 Continue\r\n\r\n' + 'HTTP/1.1 102 Processing\r\n\r\n' + HINT).repeat(1700), FINAL],
  '/switch': ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'TUNNELLED-BYTES'],
  '/switch-bare': ['HTTP/1.1 101 Switching Protocols\r\n\r\n', FINAL],
  '/switch-after-hint': [HINT, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n', 'TUNNELLED-BYTES'],
  '/not-found-after-hint': [HINT, 'HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope'],
};

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('upstream interim (1xx) answers', () => {
  let up: RawUpstream;
  let drip: ReturnType<typeof createServer>;
  const dripSockets = new Set<Socket>();
  let gw: InProcessGateway;
  let accessLog: AccessLog;
  let logFile: string;
  before(async () => {
    up = await startRawUpstream((head) => {
      const path = /^[A-Z]+ (\S+)/.exec(head)![1]!;
      return SCRIPTS[path] ?? FINAL;
    });
    // Answers every request with a 1xx every 20 ms, at most 500 of them, and never a final answer.
    drip = createServer((socket) => {
      dripSockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', (head: Buffer) => {
        const path = /^[A-Z]+ (\S+)/.exec(head.toString('latin1'))?.[1] ?? '';
        const line = path.includes('hint') ? HINT : path.includes('processing') ? 'HTTP/1.1 102 Processing\r\n\r\n' : 'HTTP/1.1 100 Continue\r\n\r\n';
        let sent = 0;
        const timer = setInterval(() => {
          if (++sent > 500 || socket.destroyed) return clearInterval(timer);
          socket.write(line);
        }, 20);
        socket.on('close', () => clearInterval(timer));
      });
    });
    drip.listen(0, '127.0.0.1');
    await once(drip, 'listening');
    const dripUrl = `http://127.0.0.1:${(drip.address() as AddressInfo).port}`;
    logFile = join(tempDir(), 'access.log');
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
access_log: { path: ${logFile}, fields: [request_id, status] }
services:
  - { name: raw, url: "${up.url}", routes: [{ name: all, paths: ["/"] }] }
  - { name: drip, url: "${dripUrl}", timeouts: { read: 300ms }, routes: [{ name: drip, paths: ["/drip"] }] }
`);
    accessLog = new AccessLog(createLogger({ level: 'silent' }));
    accessLog.configure(gw.gateway.snapshot);
  });
  after(async () => {
    await gw.close();
    await up.close();
    for (const s of dripSockets) s.destroy();
    drip.close();
  });

  const get = (path: string, id: string, version = '1.1') =>
    rawExchange(gw.port, `GET ${path} HTTP/${version}\r\nHost: a\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`, 10_000);

  async function statusLogged(id: string): Promise<number> {
    for (let i = 0; i < 100; i++) {
      accessLog.flush();
      const line = readFileSync(logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes(`"${id}"`));
      if (line !== undefined) return (JSON.parse(line) as { status: number }).status;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no access log line for ${id}`);
  }

  test('a 100 nobody asked for is skipped: the final answer arrives (several spellings, split across packets)', async () => {
    for (const path of ['/continue', '/continue-spellings', '/continue-split', '/processing']) {
      const { text } = await get(path, `c-${path.slice(1)}`);
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, `${path}: ${text.slice(0, 200)}`);
      assert.equal(count(text, 'HTTP/1.1 10'), 0, path);
      assert.ok(text.endsWith('\r\n\r\nok'), path);
      assert.equal(await statusLogged(`c-${path.slice(1)}`), 200, path);
    }
  });

  test('a 103 reaches an HTTP/1.1 client with its Link fields only, then the final answer', async () => {
    const { text } = await get('/hints', 'h-1');
    const [hint, rest] = [text.slice(0, text.indexOf('\r\n\r\n') + 4), text.slice(text.indexOf('\r\n\r\n') + 4)];
    assert.equal(hint, 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n');
    assert.match(rest, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(rest.endsWith('ok'));
    // Nothing of the 103 but its Link leaks into the final answer either.
    assert.doesNotMatch(rest, /set-cookie|x-internal/i);
    assert.equal(await statusLogged('h-1'), 200);
  });

  test('several links in one field are split; links node would refuse are dropped one by one; a 103 without a valid link is not relayed', async () => {
    const list = await get('/hints-list', 'h-list');
    assert.ok(list.text.startsWith('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style, </b,c.js>; rel=preload; as=script, <https://cdn.example>; rel=preconnect\r\n\r\nHTTP/1.1 200 OK'), list.text.slice(0, 300));
    const none = await get('/hints-no-link', 'h-none');
    assert.match(none.text, /^HTTP\/1\.1 200 OK\r\n/);
    const bodyLike = await get('/hints-body-like', 'h-body');
    assert.equal(count(bodyLike.text, 'HTTP/1.1 103'), 2);
    assert.match(bodyLike.text, /\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
    assert.doesNotMatch(bodyLike.text.slice(0, bodyLike.text.indexOf('HTTP/1.1 200')), /content-length|transfer-encoding/i);
    assert.equal(await statusLogged('h-body'), 200);
  });

  test('thousands of 1xx: the final answer still arrives, at most MAX_EARLY_HINTS 103s are relayed', async () => {
    for (const path of ['/many-hints', '/many-continue', '/many-mixed']) {
      const { text } = await get(path, `m-${path.slice(1)}`);
      assert.ok(count(text, 'HTTP/1.1 103') <= MAX_EARLY_HINTS, path);
      assert.equal(count(text, 'HTTP/1.1 100'), 0, path);
      assert.match(text, /HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/, path);
      assert.equal(await statusLogged(`m-${path.slice(1)}`), 200, path);
    }
  });

  test('an HTTP/1.0 client gets no 1xx', async () => {
    const { text } = await rawExchange(gw.port, 'GET /hints HTTP/1.0\r\nHost: a\r\n\r\n', 10_000);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(count(text, ' 103 '), 0);
  });

  test('a 101 the gateway did not ask for is a 502, never a tunnel', async () => {
    for (const path of ['/switch', '/switch-bare', '/switch-after-hint']) {
      const { text, serverClosed } = await get(path, `s-${path.slice(1)}`);
      assert.ok(serverClosed, path);
      const final = text.slice(text.lastIndexOf('HTTP/1.1 '));
      assert.match(final, /^HTTP\/1\.1 502 /, `${path}: ${text.slice(0, 300)}`);
      assert.match(final, /application\/problem\+json/);
      assert.doesNotMatch(text, /TUNNELLED|101 Switching/, path);
      assert.equal(await statusLogged(`s-${path.slice(1)}`), 502, path);
    }
  });

  test('an upstream dripping 1xx answers without a final one gets a 504 once timeouts.read has passed since the attempt started', async () => {
    for (const path of ['/drip/continue', '/drip/processing', '/drip/hint']) {
      const { text, serverClosed } = await get(path, `d-${path.slice(6)}`);
      assert.ok(serverClosed, path);
      assert.match(text.slice(text.lastIndexOf('HTTP/1.1 ')), /^HTTP\/1\.1 504 [^]*upstream-timeout/, `${path}: ${text.slice(0, 200)}`);
      assert.ok(text.split('HTTP/1.1 103').length - 1 <= MAX_EARLY_HINTS, path);
      assert.equal(await statusLogged(`d-${path.slice(6)}`), 504, path);
    }
  });

  test('a 103 then a 404: the client gets the hint and the 404; the log says 404', async () => {
    const { text } = await get('/not-found-after-hint', 'nf-1');
    assert.match(text, /^HTTP\/1\.1 103 Early Hints\r\n[^]*HTTP\/1\.1 404 Not Found\r\n[^]*nope$/);
    assert.equal(await statusLogged('nf-1'), 404);
  });

  test('HTTP/2 clients get the 103 as an informational HEADERS frame, at most MAX_EARLY_HINTS of them, and the final answer', async () => {
    const session = connect(`http://127.0.0.1:${gw.port}`);
    try {
      for (const [path, hints] of [['/hints', 1], ['/many-hints', MAX_EARLY_HINTS], ['/continue', 0], ['/many-mixed', MAX_EARLY_HINTS]] as const) {
        const informational: IncomingHttpHeaders[] = [];
        const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ':path': path, 'x-request-id': `h2-${path.slice(1)}` });
          let status = 0;
          let body = '';
          stream.on('headers', (h) => informational.push(h));
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('data', (c: Buffer) => (body += c.toString()));
          stream.on('end', () => resolve({ status, body }));
          stream.on('error', reject);
        });
        assert.equal(result.status, 200, path);
        assert.equal(result.body, 'ok', path);
        assert.equal(informational.length, hints, path);
        for (const h of informational) {
          assert.equal(h[':status'], 103);
          assert.equal(h['link'], '</a.css>; rel=preload; as=style');
          assert.equal(h['set-cookie'], undefined);
        }
        assert.equal(await statusLogged(`h2-${path.slice(1)}`), 200, path);
      }
    } finally {
      session.close();
    }
  });

  test('splitLinks splits at commas outside <...> and quoted strings', () => {
    assert.deepEqual(splitLinks('</a>; rel=preload, </b,c>; rel="x,y"; as=style ,, <c>'), ['</a>; rel=preload', '</b,c>; rel="x,y"; as=style', '<c>']);
    assert.deepEqual(splitLinks(' '), []);
    assert.deepEqual(splitLinks('<a>; title="q\\",r", <b>'), ['<a>; title="q\\",r"', '<b>']);
  });
});
