// The HTTP/1.1 engine on real sockets: framing of responses, one write per small response,
// pipelining in order, keep-alive and close decisions, trailers both ways, 100-continue and 103,
// backpressure, upgrades, parse errors with node's codes, timeouts and graceful close.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { createHttp1Server, type Http1Server, type Http1ServerOptions } from '../../src/http1/server.js';
import type { Http1Request } from '../../src/http1/server-request.js';
import type { Http1Response } from '../../src/http1/server-response.js';
import { converse } from '../helpers/recording-upstream.js';

const servers: Http1Server[] = [];
async function start(handler: (req: Http1Request, res: Http1Response) => void, opts: Http1ServerOptions = {}, extra: Partial<{ upgrade: (req: Http1Request, s: Socket, head: Buffer) => void; clientError: (e: NodeJS.ErrnoException, s: Socket) => void }> = {}): Promise<number> {
  const s = createHttp1Server(opts, handler, extra.upgrade ?? null, extra.clientError ?? null);
  servers.push(s);
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return (s.address() as AddressInfo).port;
}
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

const noDate = (t: string) => t.replace(/Date: [^\r]*\r\n/g, '');

describe('HTTP/1.1 engine', () => {
  test('a small response leaves in one socket write with its head; chunked without a length', async () => {
    let writes = 0;
    const port = await start((req, res) => {
      const socket = res.socket!;
      const write = socket.write;
      socket.write = function (this: Socket, ...args: unknown[]) {
        writes++;
        return (write as (...a: unknown[]) => boolean).apply(this, args);
      } as typeof socket.write;
      if (req.url === '/len') res.writeHead(200, ['content-length', '5']).end('hello');
      else res.writeHead(200, ['x-a', '1']).end('hello');
    });
    const a = await converse(port, 'GET /len HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('hello'));
    assert.equal(noDate(a.text), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nhello');
    assert.equal(writes, 1);
    const b = await converse(port, 'GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('0\r\n\r\n'));
    assert.equal(noDate(b.text), 'HTTP/1.1 200 OK\r\nx-a: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  });

  test('HEAD, 204 and 304 carry no body; HTTP/1.0 is close-delimited without a length', async () => {
    const port = await start((req, res) => {
      const status = req.url === '/204' ? 204 : req.url === '/304' ? 304 : 200;
      res.writeHead(status, ['x', '1']).end('body');
    });
    const t = await converse(port, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\r\n\r\n');
    assert.equal(noDate(t.text), ['HTTP/1.1 200 OK\r\nx: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n', 'HTTP/1.1 204 No Content\r\nx: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n', 'HTTP/1.1 304 Not Modified\r\nx: 1\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n', 'HTTP/1.1 200 OK\r\nx: 1\r\nConnection: close\r\n\r\nbody'].join(''));
    assert.equal(t.closed, true);
  });

  test('pipelined requests reach the handler one at a time, each after the previous response finished', async () => {
    const order: string[] = [];
    let active = 0;
    const port = await start((req, res) => {
      active++;
      order.push(`start ${req.url} ${active}`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        setTimeout(() => {
          active--;
          res.writeHead(200, ['content-length', String(Buffer.concat(chunks).length)]).end(Buffer.concat(chunks));
        }, 5),
      );
    });
    const t = await converse(port, 'PUT /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nxyGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.deepEqual(order, ['start /1 1', 'start /2 1', 'start /3 1']);
    assert.match(t.text, /\r\n\r\nabc[\s\S]*\r\n\r\nxy[\s\S]*content-length: 0/);
    assert.equal(t.closed, true);
  });

  test('a body in the same read as its head is in the request when the handler runs: takeBody has it at once', async () => {
    const seen: string[] = [];
    const port = await start((req, res) => {
      const limit = req.url === '/small-limit' ? 2 : 100;
      const taken = req.takeBody(limit);
      const answer = (body: string) => {
        seen.push(`${req.url} ${taken === undefined ? 'undefined' : taken === null ? 'null' : 'taken'} ${body} ended=${req.readableEnded}`);
        res.writeHead(200, ['content-length', String(body.length)]).end(body);
      };
      if (taken !== undefined && taken !== null) return answer(taken.toString());
      if (taken === undefined) seen.push(`${req.url} waits`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => answer(Buffer.concat(chunks).toString()));
    });
    // Each on a connection of its own, head and body in one write.
    for (const bytes of [
      'POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
      'POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n',
      'POST /small-limit HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nwxyz',
      'GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]) {
      assert.equal((await converse(port, bytes)).closed, true);
    }
    assert.deepEqual(seen, ['/whole taken abc ended=true', '/chunked taken xyz ended=true', '/small-limit null wxyz ended=true', '/none taken  ended=true']);
    // The head alone first: the body is still to come, and arrives as events.
    seen.length = 0;
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
    let sent = false;
    for (let i = 0; i < 300 && seen.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      // The body only once the handler has the request.
      if (seen.length === 1 && !sent) {
        sent = true;
        socket.write('hello');
      }
    }
    socket.destroy();
    assert.deepEqual(seen, ['/later waits', '/later undefined hello ended=true']);
  });

  test('a request and a malformed one in the same read: the handler gets the first, then onClientError the second', async () => {
    const seen: string[] = [];
    const port = await start(
      (req, res) => {
        seen.push(`request ${req.url} ${req.takeBody(10)?.toString()}`);
        res.writeHead(200, ['content-length', '0']).end();
      },
      {},
      { clientError: (e, s) => (seen.push(`error ${String(e.code)}`), s.destroy()) },
    );
    await converse(port, 'POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokBREW / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(seen, ['request /ok ok', 'error HPE_INVALID_METHOD']);
  });

  test('headers joined by node\'s rules, trailers after a chunked body, response trailers', async () => {
    const port = await start((req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        const out = JSON.stringify({ h: req.headers, t: req.trailers });
        res.writeHead(200, ['trailer', 'x-sum']);
        res.addTrailers([['x-sum', '42']]);
        res.end(out);
      });
    });
    const t = await converse(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\nSet-Cookie: 1\r\nSet-Cookie: 2\r\nX-A: 1\r\nX-A: 2\r\nCookie: a=1\r\nCookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-T: 9\r\n\r\n', (x) => x.endsWith('x-sum: 42\r\n\r\n'));
    const json = /\r\n\{.*\}\r\n/.exec(t.text)![0].trim();
    const { h, t: trailers } = JSON.parse(json) as { h: Record<string, unknown>; t: Record<string, string> };
    assert.equal(h['content-type'], 'a');
    assert.deepEqual(h['set-cookie'], ['1', '2']);
    assert.equal(h['x-a'], '1, 2');
    assert.equal(h['cookie'], 'a=1; b=2');
    assert.deepEqual(trailers, { 'x-t': '9' });
  });

  test('100-continue and 103 go out before the final response; a final status without 100 closes', async () => {
    const port = await start((req, res) => {
      if (req.url === '/refuse') return void res.writeHead(413, ['content-length', '0']).end();
      res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.writeContinue();
      req.on('data', () => undefined);
      req.on('end', () => res.writeHead(200, ['content-length', '2']).end('ok'));
    });
    const ok = await converse(port, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz', (t) => t.endsWith('ok'));
    assert.match(ok.text, /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    const refused = await converse(port, 'POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100\r\n\r\n');
    assert.match(refused.text, /^HTTP\/1\.1 413 .*\r\ncontent-length: 0\r\n.*Connection: close\r\n/s);
    assert.equal(refused.closed, true);
  });

  test('shouldKeepAlive = false and Connection: close end the connection after the response', async () => {
    const port = await start((req, res) => {
      if (req.url === '/drain') res.shouldKeepAlive = false;
      res.writeHead(200, ['content-length', '0']).end();
    });
    const a = await converse(port, 'GET /drain HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(a.text, /Connection: close/);
    assert.equal(a.closed, true);
    const b = await converse(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(b.closed, true);
  });

  test('a parse error reaches onClientError with node\'s code, bytesParsed and rawPacket', async () => {
    const seen: NodeJS.ErrnoException[] = [];
    const port = await start(() => assert.fail('no request'), {}, { clientError: (e, s) => (seen.push(e), s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')) });
    const t = await converse(port, 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(t.text, /^HTTP\/1\.1 400/);
    const e = seen[0] as NodeJS.ErrnoException & { bytesParsed: number; rawPacket: Buffer };
    assert.equal(e.code, 'HPE_INVALID_METHOD');
    assert.equal(typeof e.bytesParsed, 'number');
    assert.equal(e.rawPacket.toString('latin1').startsWith('BREW / HTTP/1.1'), true);
    const big = await converse(await start(() => undefined, { maxHeaderSize: 1024 }), `GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}\r\n\r\n`);
    assert.match(big.text, /^HTTP\/1\.1 431 /);
  });

  test('an upgrade hands over the socket with the bytes after the head', async () => {
    const port = await start(
      () => assert.fail('not a request'),
      {},
      {
        upgrade: (req, socket, head) => {
          socket.end(`HTTP/1.1 101 Switching Protocols\r\n\r\n${req.method} ${head.toString()}`);
        },
      },
    );
    const t = await converse(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nframe');
    assert.equal(t.text, 'HTTP/1.1 101 Switching Protocols\r\n\r\nGET frame');
  });

  test('the request is a body stream undici can send, with backpressure both ways', async () => {
    const { createServer } = await import('node:http');
    const upstream = createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const pool = new Pool(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    const port = await start((req, res) => {
      void pool.request({ method: 'POST', path: '/', body: req as unknown as Readable, headers: { 'content-length': req.headers['content-length'] } }).then(async (r) => {
        const text = await r.body.text();
        res.writeHead(200, ['content-length', String(text.length)]).end(text);
      });
    });
    const size = 4 * 1024 * 1024;
    const socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(size, 97));
    await new Promise<void>((resolve) => socket.on('data', () => Buffer.concat(got).toString().endsWith(String(size)) && resolve()));
    socket.destroy();
    await pool.close();
    upstream.close();
  });

  test('a head begun on a kept-alive connection runs under the head timeout, not the longer keep-alive timeout', async () => {
    const errors: string[] = [];
    const port = await start((_req, res) => void res.writeHead(200, ['content-length', '2']).end('ok'), { headersTimeout: 200, requestTimeout: 400, keepAliveTimeout: 60_000, connectionsCheckingInterval: 50 }, {
      clientError: (e, s) => {
        errors.push(String(e.code));
        s.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      },
    });
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    const closed = once(socket, 'close');
    socket.write('GET /first HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let i = 0; i < 300 && !text.endsWith('ok'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    // Idle and kept alive; then part of a second head, never finished.
    socket.write('GET /second HTTP/1.1\r\nHo');
    const timer = setTimeout(() => socket.destroy(), 5000);
    await closed;
    clearTimeout(timer);
    assert.deepEqual(errors, ['ERR_HTTP_REQUEST_TIMEOUT']);
    assert.match(text, /\r\n\r\nokHTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test('head timeout answers through onClientError; close() ends idle connections and lets busy ones finish', async () => {
    const errors: string[] = [];
    let release = null as (() => void) | null;
    const port = await start(
      (req, res) => {
        if (req.url === '/slow') release = () => res.writeHead(200, ['content-length', '4']).end('done');
        else res.writeHead(200, ['content-length', '0']).end();
      },
      { headersTimeout: 200, requestTimeout: 400, connectionsCheckingInterval: 50 },
      { clientError: (e, s) => (errors.push(String(e.code)), s.destroy()) },
    );
    const slowloris = await converse(port, 'GET / HTTP/1.1\r\nHost', () => false, 3000);
    assert.equal(slowloris.closed, true);
    assert.deepEqual(errors, ['ERR_HTTP_REQUEST_TIMEOUT']);
    const server = servers[servers.length - 1]!;
    const idle = connect(port, '127.0.0.1');
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(idle, 'data');
    const busy = converse(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', () => false, 3000);
    while (release === null) await new Promise((r) => setTimeout(r, 5));
    const closed = once(idle, 'close');
    server.close();
    await closed;
    (release as unknown as () => void)();
    const b = await busy;
    assert.match(b.text, /Connection: close\r\n\r\ndone$/);
    assert.equal(b.closed, true);
  });
});
