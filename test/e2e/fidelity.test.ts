// Request fidelity: the upstream receives the request the client sent. Requests with Upgrade
// headers keep their method (or are refused when they carry a body), pipelined requests reach
// the upstream and their answers the client in order, and trailers pass where the protocol
// carries them. Raw client bytes, a recording upstream, a real gateway on port 0.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer as createH2Server, constants as h2 } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { converse, startRecordingServer, statuses, type RecordingServer } from '../helpers/recording-upstream.js';
import { startGateway, TEST_ENGINE, type InProcessGateway } from '../helpers/servers.js';

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

function names(rawHeaders: string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('requests with Upgrade headers', () => {
  let upstream: RecordingServer;
  let gw: InProcessGateway;
  before(async () => {
    upstream = await startRecordingServer({ upgrades: true });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a DELETE with WebSocket upgrade headers reaches the upstream as the DELETE it is, without them', async () => {
    const before = upstream.received.length;
    const { text } = await converse(gw.port, `DELETE /item/7 HTTP/1.1\r\nHost: a.test\r\n${UPGRADE}\r\n`, (t) => t.includes('ok DELETE'));
    assert.deepEqual(statuses(text), [200]);
    const got = upstream.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.method, 'DELETE');
    assert.equal(got[0]!.url, '/item/7');
    assert.equal(got[0]!.upgrade, false);
    assert.ok(!names(got[0]!.rawHeaders).includes('upgrade'));
    assert.ok(text.includes('ok DELETE /item/7'));
  });

  // llhttp numbers methods with gaps (QUERY is 46, after RTSP's methods): each must reach the
  // upstream by its own name, whatever its code.
  test('every method node\'s parser accepts reaches the upstream under its own name', async () => {
    const methods = ['GET', 'DELETE', 'OPTIONS', 'PATCH', 'PURGE', 'PROPFIND', 'SEARCH', 'MKCALENDAR', 'REPORT', 'QUERY'];
    for (const method of methods) {
      const before = upstream.received.length;
      const { text } = await converse(gw.port, `${method} /m HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.deepEqual(statuses(text), [200], method);
      assert.deepEqual(upstream.received.slice(before).map((r) => r.method), [method]);
    }
  });

  test('a POST with upgrade headers and a body is refused with a 400 problem, never forwarded', async () => {
    const before = upstream.received.length;
    const { text, closed } = await converse(gw.port, `POST /item HTTP/1.1\r\nHost: a.test\r\n${UPGRADE}Content-Length: 5\r\n\r\nhello`);
    assert.deepEqual(statuses(text), [400]);
    assert.match(text, /content-type: application\/problem\+json/i);
    assert.match(text, /cannot carry a body/);
    assert.equal(closed, true);
    assert.equal(upstream.received.length, before);
  });

  test('a chunked GET with upgrade headers is refused too (its body cannot be read)', async () => {
    const before = upstream.received.length;
    const { text } = await converse(gw.port, `GET /ws HTTP/1.1\r\nHost: a.test\r\n${UPGRADE}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.deepEqual(statuses(text), [400]);
    assert.equal(upstream.received.length, before);
  });

  test('node skips its Host and Expect checks for upgrades: the gateway refuses those requests itself', async () => {
    const before = upstream.received.length;
    // An expectation the gateway does not know is 417 (expectation-failed), as without Upgrade.
    const cases: Array<[string, number]> = [
      [`GET /ws HTTP/1.1\r\n${UPGRADE}\r\n`, 400],
      [`GET /ws HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\n${UPGRADE}\r\n`, 400],
      [`DELETE /x HTTP/1.1\r\nHost: a.test\r\nExpect: nothing\r\n${UPGRADE}\r\n`, 417],
    ];
    for (const [req, status] of cases) {
      const { text } = await converse(gw.port, req);
      assert.deepEqual(statuses(text), [status], req);
      assert.match(text, /application\/problem\+json/);
    }
    assert.equal(upstream.received.length, before);
  });

  test('an HTTP/1.0 GET with upgrade headers is an ordinary GET (RFC 9110 7.8)', async () => {
    const before = upstream.received.length;
    const { text } = await converse(gw.port, `GET /old HTTP/1.0\r\nHost: a.test\r\n${UPGRADE}\r\n`, (t) => t.includes('ok GET'));
    assert.deepEqual(statuses(text), [200]);
    const got = upstream.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.upgrade, false);
    assert.equal(got[0]!.method, 'GET');
  });

  test('a GET WebSocket handshake is still forwarded as an upgrade', async () => {
    const before = upstream.received.length;
    const { text } = await converse(gw.port, `GET /ws HTTP/1.1\r\nHost: a.test\r\n${UPGRADE}\r\n`);
    assert.deepEqual(statuses(text), [403]);
    const got = upstream.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.upgrade, true);
    assert.equal(got[0]!.method, 'GET');
  });
});

describe('pipelined requests', () => {
  let upstream: RecordingServer;
  /** What the upstream had received when it answered the last GET /slow. */
  let seenBySlowAnswer: string[] = [];
  let gw: InProcessGateway;
  before(async () => {
    upstream = await startRecordingServer({
      upgrades: true,
      answer: (req, res) => {
        // A slow answer, so that a request pipelined behind it has every chance to overtake it.
        const body = `ok ${req.method} ${req.url}\n`;
        setTimeout(() => {
          if (req.url === '/slow') seenBySlowAnswer = upstream.received.map((r) => `${r.method} ${r.url}`);
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
        }, req.url === '/slow' ? 150 : 0);
      },
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes: [{ paths: ["/a", "/b", "/c", "/slow", "/ws", "/never"] }]
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a PUT then a POST pipelined reach the upstream in that order, and their answers the client', async () => {
    // Two warm upstream connections, so that neither request waits for a connect of its own.
    const slow = 'GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n';
    await Promise.all([converse(gw.port, slow, (t) => t.includes('ok GET')), converse(gw.port, slow, (t) => t.includes('ok GET'))]);
    const before = upstream.received.length;
    const put = 'PUT /a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nput';
    // The POST carries no body: nothing to read, it could be sent at once.
    const post = 'POST /b HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n';
    const { text } = await converse(gw.port, put + post, (t) => statuses(t).length === 2);
    const got = upstream.received.slice(before);
    assert.deepEqual(
      got.map((r) => `${r.method} ${r.url} ${r.body.toString()}`),
      ['PUT /a put', 'POST /b '],
    );
    assert.ok(text.indexOf('ok PUT /a') < text.indexOf('ok POST /b'));
  });

  test('a request pipelined behind a slow one waits for it, whatever its method', async () => {
    const before = upstream.received.length;
    const slow = 'GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n';
    const del = 'DELETE /c HTTP/1.1\r\nHost: a.test\r\n\r\n';
    const { text } = await converse(gw.port, slow + del, (t) => statuses(t).length === 2);
    // The DELETE was not sent before the GET was answered.
    assert.equal(seenBySlowAnswer.at(-1), 'GET /slow');
    assert.deepEqual(
      upstream.received.slice(before).map((r) => `${r.method} ${r.url}`),
      ['GET /slow', 'DELETE /c'],
    );
    assert.ok(text.indexOf('ok GET /slow') < text.indexOf('ok DELETE /c'));
  });

  test('requests of any HTTP/1 version are answered in order (node reads "HTTP/0.9" in a request line too)', async () => {
    await Promise.all([converse(gw.port, 'GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n', (t) => t.includes('ok GET')), converse(gw.port, 'GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n', (t) => t.includes('ok GET'))]);
    const before = upstream.received.length;
    const put = 'PUT /a HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nput';
    const old = 'GET /c HTTP/0.9\r\nHost: a.test\r\n\r\n';
    const { text } = await converse(gw.port, put + old, (t) => statuses(t).length === 2);
    // The PUT is forwarded and answered first; the HTTP/0.9 request is refused (505) after it, never forwarded.
    assert.deepEqual(statuses(text), [200, 505]);
    assert.deepEqual(
      upstream.received.slice(before).map((r) => `${r.method} ${r.url}`),
      ['PUT /a'],
    );
  });

  test('an upgrade pipelined behind a pending request waits for its answer instead of breaking the connection', async () => {
    const before = upstream.received.length;
    const slow = 'GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n';
    const ws = `GET /ws HTTP/1.1\r\nHost: a.test\r\n${UPGRADE}\r\n`;
    const { text } = await converse(gw.port, slow + ws);
    assert.deepEqual(statuses(text), [200, 403]);
    assert.deepEqual(
      upstream.received.slice(before).map((r) => `${r.method} ${r.url} ${r.upgrade}`),
      ['GET /slow false', 'GET /ws true'],
    );
  });

  test('a request pipelined after an answer that closes the connection is never forwarded', async () => {
    const before = upstream.received.length;
    // No route: a 404 while the body is unread (it is longer than one read of the socket), so
    // the gateway closes the connection after it.
    const first = `POST /nowhere HTTP/1.1\r\nHost: a.test\r\nContent-Length: 200000\r\n\r\n${'0'.repeat(200_000)}`;
    const second = 'POST /never HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\n\r\nx';
    const { text, closed } = await converse(gw.port, first + second);
    assert.equal(closed, true);
    assert.deepEqual(statuses(text), [404]);
    assert.deepEqual(upstream.received.slice(before).map((r) => `${r.method} ${r.url}`), []);
  });
});

describe('trailers', () => {
  let upstream: RecordingServer;
  let gw: InProcessGateway;
  before(async () => {
    upstream = await startRecordingServer({
      answer: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        if (req.url !== '/empty') res.write('data');
        res.addTrailers({ 'x-checksum': 'sha256-abc', 'x-served': 'yes' });
        res.end();
      },
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const complete = (t: string) => /\r\n0\r\n(?:[^\r]*\r\n)*\r\n$/.test(t);

  test('response trailers of a chunked upstream answer reach an HTTP/1.1 client, also after an empty body', async () => {
    for (const path of ['/full', '/empty']) {
      const { text } = await converse(gw.port, `GET ${path} HTTP/1.1\r\nHost: a.test\r\nTE: trailers\r\n\r\n`, complete);
      assert.match(text, /transfer-encoding: chunked/i, path);
      assert.match(text, /\r\n0\r\nx-checksum: sha256-abc\r\nx-served: yes\r\n\r\n$/, path);
    }
  });

  test('response trailers reach an HTTP/2 client', async () => {
    const session = connect(`http://127.0.0.1:${gw.port}`);
    try {
      for (const path of ['/full', '/empty']) {
        const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const stream = session.request({ ':path': path });
          let got: Record<string, unknown> = {};
          stream.on('trailers', (t) => (got = { ...t }));
          stream.on('error', reject);
          stream.resume();
          stream.on('end', () => resolve(got));
        });
        assert.equal(trailers['x-checksum'], 'sha256-abc', path);
        assert.equal(trailers['x-served'], 'yes', path);
      }
    } finally {
      session.close();
    }
  });

  // undici's HTTP/1.1 client has no way to send request trailers (engine: node drops them,
  // docs/protocols.md); the native engine's client sends them in the last chunk.
  test(TEST_ENGINE === 'native' ? 'request trailers reach an HTTP/1.1 upstream in the last chunk, the body intact' : 'request trailers cannot be sent to an HTTP/1.1 upstream: dropped, the body intact', async () => {
    const before = upstream.received.length;
    const req = 'POST /upload HTTP/1.1\r\nHost: a.test\r\nTrailer: x-digest\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nx-digest: 123\r\n\r\n';
    const { text } = await converse(gw.port, req, complete);
    assert.deepEqual(statuses(text), [200]);
    const got = upstream.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.body.toString(), 'abcde');
    assert.deepEqual(got[0]!.rawTrailers, TEST_ENGINE === 'native' ? ['x-digest', '123'] : []);
  });

  // A PUT is retried, so its body is read whole (the replay buffer) and sent in one piece:
  // chunked all the same when the client sent trailers, so that they still pass.
  test(`request trailers of a body kept for retries ${TEST_ENGINE === 'native' ? 'reach' : 'cannot reach'} an HTTP/1.1 upstream, the body intact`, async () => {
    const before = upstream.received.length;
    const req = 'PUT /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nx-digest: 123\r\nx-count: 2\r\n\r\n';
    const { text } = await converse(gw.port, req, complete);
    assert.deepEqual(statuses(text), [200]);
    const got = upstream.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.method, 'PUT');
    assert.equal(got[0]!.body.toString(), 'abcde');
    assert.deepEqual(got[0]!.rawTrailers, TEST_ENGINE === 'native' ? ['x-digest', '123', 'x-count', '2'] : []);
  });
});

describe('request trailers to an HTTP/2 upstream', () => {
  const seen: Array<{ body: string; trailers: Record<string, unknown> }> = [];
  const upstream = createH2Server((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const trailers: Record<string, unknown> = { ...req.trailers };
      seen.push({ body, trailers });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  let gw: InProcessGateway;
  before(async () => {
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
upstreams:
  - name: h2
    targets: [{ url: "grpc://127.0.0.1:${(upstream.address() as AddressInfo).port}" }]
services:
  - name: s
    upstream: h2
    routes: [{ paths: ["/"] }]
`);
  });
  after(async () => {
    await gw.close();
    upstream.close();
  });

  const call = (trailers: Record<string, string> | null): Promise<number> => {
    const session = connect(`http://127.0.0.1:${gw.port}`);
    return new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/upload' }, { waitForTrailers: trailers !== null });
      if (trailers !== null) stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      let status = 0;
      stream.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
      stream.on('error', reject);
      stream.resume();
      stream.on('end', () => resolve(status));
      stream.end('abc');
    }).finally(() => session.close());
  };

  test("an HTTP/2 client's request trailers reach an HTTP/2 upstream", async () => {
    assert.equal(await call({ 'x-digest': 'sha256-1', 'x-count': '3' }), 200);
    const last = seen.at(-1)!;
    assert.equal(last.body, 'abc');
    assert.equal(last.trailers['x-digest'], 'sha256-1');
    assert.equal(last.trailers['x-count'], '3');
  });

  test('a request without trailers still ends cleanly (an empty trailer set)', async () => {
    assert.equal(await call(null), 200);
    assert.equal(seen.at(-1)!.body, 'abc');
    assert.equal(seen.at(-1)!.trailers['x-digest'], undefined);
  });
});
