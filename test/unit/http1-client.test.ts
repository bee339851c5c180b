// The HTTP/1.1 upstream client against real servers on 127.0.0.1: framing both ways,
// request trailers, keep-alive and its limits, backpressure, 1xx, timeouts, strictness on
// responses, retries on stale connections, the connection limit and queue, close/destroy.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createH1Pool, H1Pool } from '../../src/http1/client-pool.js';
import { upstreamErrorCode } from '../../src/upstream/errors.js';
import { exchange, startScriptedUpstream, type ScriptedUpstream } from '../helpers/http1-client.js';

/** Waits (5 ms steps, at most 5 s) until the pool holds no connection; the assertion after it says what was expected. */
async function drained(pool: { stats: { connections: number } }): Promise<void> {
  for (let i = 0; i < 1000 && pool.stats.connections > 0; i++) await new Promise((r) => setTimeout(r, 5));
}

const header = (ex: { headers: Array<[string, string]> }, name: string) => ex.headers.find(([n]) => n.toLowerCase() === name)?.[1];

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

describe('HTTP/1.1 client against node:http', () => {
  let server: Server;
  let origin: string;
  const ports: number[] = [];
  before(async () => {
    server = createServer(async (req, res) => {
      ports.push(req.socket.remotePort!);
      // A request the client cut short (a body shorter than its Content-Length) just ends here.
      const body = await readBody(req).catch(() => null);
      if (body === null) return;
      if (req.url === '/trailers-out') {
        res.writeHead(200, { trailer: 'x-sum' });
        res.write('part');
        res.addTrailers({ 'x-sum': '42' });
        return res.end();
      }
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url === '/big') return res.end(Buffer.alloc(1 << 20, 97));
      if (req.url === '/close') return res.setHeader('connection', 'close').end('bye');
      res.setHeader('x-method', req.method!);
      res.setHeader('x-te', req.headers['transfer-encoding'] ?? '');
      res.setHeader('x-cl', req.headers['content-length'] ?? '');
      res.setHeader('x-trailers', JSON.stringify(req.trailers));
      res.setHeader('x-host', req.headers.host ?? '');
      if (req.method === 'HEAD') return res.setHeader('content-length', '5').end();
      res.end(`${req.method} ${req.url} ${body}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('GET: status, headers as Buffers, body; the connection is reused', async () => {
    const pool = createH1Pool(origin);
    ports.length = 0;
    const a = await exchange(pool, { path: '/a?q=1', method: 'GET', headers: ['x-one', '1'] });
    assert.equal(a.error, null);
    assert.equal(a.status, 200);
    assert.equal(a.statusText, 'OK');
    assert.equal(a.body.toString(), 'GET /a?q=1 ');
    assert.equal(header(a, 'x-host'), new URL(origin).host);
    await new Promise((r) => setImmediate(r));
    const b = await exchange(pool, { path: '/b', method: 'GET', headers: ['host', 'example.test'] });
    assert.equal(header(b, 'x-host'), 'example.test');
    assert.equal(ports[0], ports[1], 'the second request reuses the first socket');
    assert.equal(pool.stats.connections, 1);
    await pool.close();
    assert.equal(pool.stats.connections, 0);
  });

  test('bodies: Buffer, string, stream with Content-Length, async iterable chunked', async () => {
    const pool = new H1Pool(origin);
    const buf = await exchange(pool, { path: '/p', method: 'POST', headers: [], body: Buffer.from('hello') });
    assert.equal(buf.body.toString(), 'POST /p hello');
    assert.equal(header(buf, 'x-cl'), '5');
    const str = await exchange(pool, { path: '/p', method: 'PUT', headers: [], body: 'héllo' });
    assert.equal(str.body.toString(), 'PUT /p héllo');
    const stream = await exchange(pool, { path: '/s', method: 'POST', headers: ['content-length', '6'], body: Readable.from([Buffer.from('abc'), Buffer.from('def')]) });
    assert.equal(stream.body.toString(), 'POST /s abcdef');
    assert.equal(header(stream, 'x-te'), '');
    async function* gen() {
      yield Buffer.from('x');
      yield Buffer.from('yz');
    }
    const chunked = await exchange(pool, { path: '/c', method: 'POST', headers: [], body: gen() });
    assert.equal(chunked.body.toString(), 'POST /c xyz');
    assert.equal(header(chunked, 'x-te'), 'chunked');
    const none = await exchange(pool, { path: '/n', method: 'POST', headers: [] });
    assert.equal(header(none, 'x-cl'), '0');
    const big = Buffer.alloc(200_000, 98);
    const large = await exchange(pool, { path: '/l', method: 'POST', headers: [], body: big });
    assert.equal(large.body.length, 'POST /l '.length + big.length);
    await pool.close();
  });

  test('request trailers go in the last chunk; forbidden names and bad values are left out', async () => {
    const pool = new H1Pool(origin);
    const trailers = () => ({ 'x-checksum': 'abc', 'content-length': '1', host: 'evil', 'x-bad': 'a\r\nb', 'x-list': ['1', '2'] });
    const ex = await exchange(pool, { path: '/t', method: 'POST', headers: [], body: Readable.from([Buffer.from('data')]) }, { requestTrailers: trailers });
    assert.equal(ex.body.toString(), 'POST /t data');
    assert.deepEqual(JSON.parse(header(ex, 'x-trailers')!), { 'x-checksum': 'abc', 'x-list': '1, 2' });
    // An empty body still carries trailers (chunked with only the last chunk).
    const empty = await exchange(pool, { path: '/t', method: 'POST', headers: [], body: Readable.from([]) }, { requestTrailers: () => ({ 'x-a': '1' }) });
    assert.deepEqual(JSON.parse(header(empty, 'x-trailers')!), { 'x-a': '1' });
    await pool.close();
  });

  test('response trailers, 204, HEAD with a Content-Length and no body', async () => {
    const pool = new H1Pool(origin);
    const t = await exchange(pool, { path: '/trailers-out', method: 'GET' });
    assert.equal(t.body.toString(), 'part');
    assert.deepEqual(t.trailers, [['x-sum', '42']]);
    const e = await exchange(pool, { path: '/empty', method: 'GET' });
    assert.equal(e.status, 204);
    assert.equal(e.body.length, 0);
    const h = await exchange(pool, { path: '/h', method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.ok(Number(header(h, 'content-length')) > 0);
    const after = await exchange(pool, { path: '/after', method: 'GET' });
    assert.equal(after.body.toString(), 'GET /after ');
    await pool.close();
  });

  test('backpressure: onData false stops the body until resume()', async () => {
    const pool = new H1Pool(origin);
    let paused = false;
    let violations = 0;
    const ex = await exchange(pool, { path: '/big', method: 'GET' }, {
      onData(_chunk, resume) {
        if (paused) violations++;
        paused = true;
        setTimeout(() => {
          paused = false;
          resume();
        }, 1);
        return false;
      },
    });
    assert.equal(ex.error, null);
    assert.equal(ex.body.length, 1 << 20);
    assert.equal(violations, 0);
    await pool.close();
  });

  test('Connection: close from the upstream closes after the exchange', async () => {
    const pool = new H1Pool(origin);
    const ex = await exchange(pool, { path: '/close', method: 'GET' });
    assert.equal(ex.body.toString(), 'bye');
    await drained(pool);
    assert.equal(pool.stats.connections, 0);
    await pool.close();
  });

  test('invalid requests fail at dispatch with UND_ERR_INVALID_ARG; after close, UND_ERR_CLOSED', async () => {
    const pool = new H1Pool(origin);
    for (const opts of [
      { path: '/x', method: 'GET', headers: ['x-a', 'a\r\nInjected: 1'] },
      { path: '/x y', method: 'GET' },
      { path: '/x', method: 'GE T' },
      { path: '/x', method: 'GET', headers: ['bad name', '1'] },
      { path: '/x', method: 'GET', headers: ['transfer-encoding', 'chunked'] },
    ]) {
      const ex = await exchange(pool, opts);
      assert.equal(ex.error?.code, 'UND_ERR_INVALID_ARG', JSON.stringify(opts));
      assert.equal(ex.connected, false);
    }
    const mismatch = await exchange(pool, { path: '/x', method: 'POST', headers: ['content-length', '3'], body: Buffer.from('hello') });
    assert.equal(mismatch.error?.code, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
    const short = await exchange(pool, { path: '/x', method: 'POST', headers: ['content-length', '10'], body: Readable.from([Buffer.from('abc')]) });
    assert.equal(short.error?.code, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
    await pool.close();
    const late = await exchange(pool, { path: '/x', method: 'GET' });
    assert.equal(late.error?.code, 'UND_ERR_CLOSED');
  });

  test('close() lets requests in flight finish', async () => {
    const pool = new H1Pool(origin);
    const pending = exchange(pool, { path: '/big', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const closing = pool.close();
    const ex = await pending;
    await closing;
    assert.equal(ex.error, null);
    assert.equal(ex.body.length, 1 << 20);
  });
});

/** A scripted upstream's answer: every connection answers its first request and silently drops on the second. */
function firstAnswerThenDrop(_head: string, socket: Socket): void {
  const first = !(socket as unknown as { used?: boolean }).used;
  (socket as unknown as { used?: boolean }).used = true;
  if (first) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  else socket.destroy();
}

describe('HTTP/1.1 client against raw upstreams', () => {
  const ups: ScriptedUpstream[] = [];
  const start = async (answer: Parameters<typeof startScriptedUpstream>[0]) => {
    const up = await startScriptedUpstream(answer);
    ups.push(up);
    return up;
  };
  after(async () => {
    for (const up of ups) await up.close();
  });

  test('1xx: 100 skipped, 103 handed on, then the final answer; 101 is a bad upgrade', async () => {
    const up = await start((head, socket) => {
      if (head.startsWith('GET /switch')) return void socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n');
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const pool = new H1Pool(up.url);
    const ex = await exchange(pool, { path: '/', method: 'GET' });
    assert.deepEqual(ex.interim, [103]);
    assert.equal(ex.status, 200);
    assert.equal(ex.body.toString(), 'ok');
    const sw = await exchange(pool, { path: '/switch', method: 'GET' });
    assert.deepEqual(sw.interim, [101]);
    assert.equal(sw.error?.code, 'UND_ERR_SOCKET');
    await pool.destroy();
  });

  test('strictness: what llhttp refuses is an HPE_* error, mapped to an invalid response', async () => {
    const bad: Record<string, string> = {
      '/cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      '/dup-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      '/bad-status': 'HTTP/1.1 2x0 OK\r\n\r\n',
      '/bad-chunk': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '/space-name': 'HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n',
    };
    const up = await start((head, socket) => {
      const path = /^[A-Z]+ (\S+)/.exec(head)![1]!;
      socket.write(bad[path]!);
    });
    const pool = new H1Pool(up.url);
    for (const path of Object.keys(bad)) {
      const ex = await exchange(pool, { path, method: 'GET' });
      assert.match(ex.error?.code ?? '', /^HPE_/, path);
      assert.equal(upstreamErrorCode(ex.error), 'upstream-invalid-response', path);
    }
    await pool.destroy();
  });

  test('a body without framing is read to EOF; a short Content-Length body before close is a mismatch', async () => {
    const up = await start((head, socket) => {
      if (head.startsWith('GET /eof')) socket.end('HTTP/1.1 200 OK\r\n\r\nall of it');
      else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort');
    });
    const pool = new H1Pool(up.url);
    const eof = await exchange(pool, { path: '/eof', method: 'GET' });
    assert.equal(eof.error, null);
    assert.equal(eof.body.toString(), 'all of it');
    const short = await exchange(pool, { path: '/short', method: 'GET' });
    assert.equal(short.error?.code, 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH');
    await pool.destroy();
  });

  test('timeouts: response head, body gap (UND_ERR_HEADERS_TIMEOUT, UND_ERR_BODY_TIMEOUT)', async () => {
    const up = await start((head, socket) => {
      if (head.startsWith('GET /body')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
    });
    const pool = new H1Pool(up.url);
    const h = await exchange(pool, { path: '/head', method: 'GET', headersTimeout: 50, bodyTimeout: 0 });
    assert.equal(h.error?.code, 'UND_ERR_HEADERS_TIMEOUT');
    const b = await exchange(pool, { path: '/body', method: 'GET', headersTimeout: 1000, bodyTimeout: 50 });
    assert.equal(b.status, 200);
    assert.equal(b.error?.code, 'UND_ERR_BODY_TIMEOUT');
    assert.equal(upstreamErrorCode(b.error), 'upstream-timeout');
    await pool.destroy();
  });

  test('an answer that ended while its reader was paused leaves a connection that reads again: the next request on it is answered', async () => {
    let n = 0;
    const up = await start((_head, socket) => {
      n++;
      // Head, body and end in one write: the end arrives while the reader holds the first chunk.
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello`);
    });
    const pool = new H1Pool(up.url, { connections: 1 });
    const first = await exchange(pool, { path: '/one', method: 'GET' }, {
      onData(_chunk, resume) {
        setTimeout(resume, 5);
        return false;
      },
    });
    assert.equal(first.error, null);
    assert.equal(first.body.toString(), 'hello');
    assert.equal(pool.stats.idle, 1, 'the connection went back to the pool');
    const second = await exchange(pool, { path: '/two', method: 'GET', headersTimeout: 2000 });
    assert.equal(second.error, null, 'the reused connection reads its answer');
    assert.equal(second.body.toString(), 'hello');
    assert.equal(n, 2);
    assert.equal(pool.stats.connections, 1, 'one connection served both');
    await pool.destroy();
  });

  test('keep-alive: idle timeout, a shorter Keep-Alive: timeout from the upstream, unsolicited bytes drop a connection', async () => {
    let n = 0;
    const up = await start((head, socket) => {
      n++;
      if (head.startsWith('GET /ka')) socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 1\r\n\r\nk');
      else if (head.startsWith('GET /extra')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny');
    });
    const pool = new H1Pool(up.url, { keepAliveTimeoutMs: 60_000 });
    // timeout=1 less the 1 s threshold: not reused at all.
    await exchange(pool, { path: '/ka', method: 'GET' });
    await drained(pool);
    assert.equal(pool.stats.connections, 0);
    const extra = await exchange(pool, { path: '/extra', method: 'GET' });
    assert.equal(extra.body.toString(), 'x');
    await drained(pool);
    assert.equal(pool.stats.connections, 0, 'a second answer to one request: the connection is dropped');
    const short = new H1Pool(up.url, { keepAliveTimeoutMs: 30 });
    await exchange(short, { path: '/', method: 'GET' });
    assert.equal(short.stats.idle, 1);
    await drained(short);
    assert.equal(short.stats.connections, 0);
    assert.ok(n >= 3);
    await pool.destroy();
    await short.destroy();
  });

  test('bytes an upstream sends on an idle connection, even a bare CRLF, drop it from the pool', async () => {
    const up = await start((head, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz');
      // After the answer, in a later segment: nothing asked for these.
      const late = head.startsWith('GET /crlf') ? '\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
      setTimeout(() => socket.write(late), 20);
    });
    for (const path of ['/crlf', '/response']) {
      const pool = new H1Pool(up.url, { keepAliveTimeoutMs: 60_000 });
      const r = await exchange(pool, { path, method: 'GET' });
      assert.equal(r.body.toString(), 'z');
      assert.equal(pool.stats.idle, 1);
      await drained(pool);
      assert.equal(pool.stats.connections, 0, `${path}: the connection is dropped`);
      await pool.destroy();
    }
  });

  test('a reused connection the upstream closed: an idempotent request is retried once on a fresh one, a sent POST is not', async () => {
    const up = await start(firstAnswerThenDrop);
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/1', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const retried = await exchange(pool, { path: '/2', method: 'GET' });
    assert.equal(retried.error, null);
    assert.equal(retried.body.toString(), 'ok');
    assert.equal(up.connections, 2);
    await new Promise((r) => setImmediate(r));
    const post = await exchange(pool, { path: '/3', method: 'POST', body: Buffer.from('once') });
    assert.equal(post.error?.code, 'UND_ERR_SOCKET');
    assert.equal(up.connections, 2);
    await pool.destroy();
  });

  test('pipelined requests dispatched together go out on one connection and are answered in order; one with a body is never pipelined', async () => {
    const up = await start((head, socket) => {
      const path = head.split(' ')[1]!;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/warm', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const paths = ['/1', '/2', '/3', '/4', '/5'];
    const all = await Promise.all(paths.map((path) => exchange(pool, { path, method: 'GET', pipelined: true })));
    assert.deepEqual(all.map((x) => x.error), paths.map(() => null));
    assert.deepEqual(all.map((x) => x.body.toString()), paths);
    assert.equal(up.connections, 1, 'the five went behind each other on the warm connection');
    assert.deepEqual(up.requests.map((r) => r.head.split(' ')[1]), ['/warm', ...paths]);
    await new Promise((r) => setImmediate(r));
    const mixed = await Promise.all([
      exchange(pool, { path: '/g', method: 'GET', pipelined: true }),
      exchange(pool, { path: '/p', method: 'POST', body: Buffer.from('x'), pipelined: true }),
    ]);
    assert.deepEqual(mixed.map((x) => x.body.toString()), ['/g', '/p']);
    assert.equal(up.connections, 2, 'the POST took a connection of its own');
    await pool.destroy();
  });

  test('a connection that closes with pipelined requests unanswered sends each of them again, once, on a fresh connection', async () => {
    // Each connection answers two requests, the second with Connection: close, and no more.
    const up = await start((head, socket) => {
      const s = socket as unknown as { answered?: number };
      const n = (s.answered = (s.answered ?? 0) + 1);
      const path = head.split(' ')[1]!;
      if (n === 1) socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
      else if (n === 2) socket.end(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/warm', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const paths = ['/1', '/2', '/3', '/4'];
    const all = await Promise.all(paths.map((path) => exchange(pool, { path, method: 'GET', pipelined: true })));
    assert.deepEqual(all.map((x) => x.error), paths.map(() => null));
    assert.deepEqual(all.map((x) => x.body.toString()), paths);
    // /1 was answered on the first connection, which then closed: /2 to /4 went again, each on a new one.
    assert.deepEqual(up.requests.filter((r) => r.socket === 1).map((r) => r.head.split(' ')[1]), ['/warm', ...paths]);
    assert.deepEqual(up.requests.filter((r) => r.socket !== 1).map((r) => r.head.split(' ')[1]).sort(), ['/2', '/3', '/4']);
    assert.equal(up.connections, 4);
    await pool.destroy();
  });

  test('a pipelined request aborted while it waits for its turn ends at once; the connection closes at its turn and the ones behind it go again', async () => {
    const answers: Array<() => void> = [];
    const up = await start((head, socket) => {
      const path = head.split(' ')[1]!;
      answers.push(() => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`));
    });
    const pool = new H1Pool(up.url);
    const warm = exchange(pool, { path: '/warm', method: 'GET' });
    while (answers.length < 1) await new Promise((r) => setTimeout(r, 5));
    answers.shift()!();
    await warm;
    await new Promise((r) => setImmediate(r));
    let abortSecond: (err?: Error) => void = () => undefined;
    const [first, second, third] = [
      exchange(pool, { path: '/1', method: 'GET', pipelined: true }),
      exchange(pool, { path: '/2', method: 'GET', pipelined: true }, { onConnect: (abort) => (abortSecond = abort) }),
      exchange(pool, { path: '/3', method: 'GET', pipelined: true }),
    ];
    while (answers.length < 3) await new Promise((r) => setTimeout(r, 5));
    abortSecond(new Error('gave up'));
    assert.equal((await second).error?.message, 'gave up');
    for (const answer of answers.splice(0)) answer();
    assert.equal((await first).body.toString(), '/1');
    // Its answer behind /1 was not read: /3 went again on a fresh connection.
    while (answers.length < 1) await new Promise((r) => setTimeout(r, 5));
    answers.shift()!();
    const last = await third;
    assert.equal(last.error, null);
    assert.equal(last.body.toString(), '/3');
    assert.deepEqual(up.requests.map((r) => [r.head.split(' ')[1], r.socket]), [['/warm', 1], ['/1', 1], ['/2', 1], ['/3', 1], ['/3', 2]]);
    await pool.destroy();
  });

  test('the handler decides on that replay: false keeps the failure (one try), true sends it again', async () => {
    const up = await start(firstAnswerThenDrop);
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/1', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const asked: string[] = [];
    const refused = await exchange(pool, { path: '/2', method: 'GET' }, { onReplay: (err) => (asked.push((err as Error & { code?: string }).code ?? ''), false) });
    assert.equal(refused.error?.code, 'UND_ERR_SOCKET');
    assert.deepEqual(asked, ['UND_ERR_SOCKET'], 'asked once, with the failure');
    assert.equal(up.requests.length, 2, 'the GET reached the upstream once');
    assert.equal(up.connections, 1);
    await exchange(pool, { path: '/3', method: 'GET' });
    await new Promise((r) => setImmediate(r));
    const allowed = await exchange(pool, { path: '/4', method: 'GET' }, { onReplay: () => true });
    assert.equal(allowed.error, null);
    assert.equal(allowed.body.toString(), 'ok');
    assert.equal(up.connections, 3);
    await pool.destroy();
  });

  test('the connection limit queues requests; a full queue fails at once', async () => {
    const waiting: Array<() => void> = [];
    const up = await start((_head, socket) => {
      waiting.push(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nq'));
    });
    const pool = new H1Pool(up.url, { connections: 1, maxQueue: 1 });
    const a = exchange(pool, { path: '/a', method: 'GET' });
    const b = exchange(pool, { path: '/b', method: 'GET' });
    const c = await exchange(pool, { path: '/c', method: 'GET' });
    assert.equal(c.error?.code, 'ERR_NORTHGATE_UPSTREAM_QUEUE_FULL');
    assert.equal(pool.stats.queued, 1);
    while (waiting.length < 1) await new Promise((r) => setTimeout(r, 5));
    waiting.shift()!();
    assert.equal((await a).body.toString(), 'q');
    while (waiting.length < 1) await new Promise((r) => setTimeout(r, 5));
    waiting.shift()!();
    assert.equal((await b).body.toString(), 'q');
    assert.equal(up.connections, 1);
    await pool.destroy();
  });

  test('abort: before the request is written the connection stays usable; mid-response it is UND_ERR_ABORTED', async () => {
    const up = await start((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'));
    const pool = new H1Pool(up.url);
    const early = await exchange(pool, { path: '/early', method: 'GET' }, { onConnect: (abort) => abort(new Error('client gone')) });
    assert.equal(early.error?.message, 'client gone');
    assert.equal(up.requests.length, 0);
    const mid = await exchange(pool, { path: '/mid', method: 'GET' }, { onHeaders: (_s, abort) => abort() });
    assert.equal(mid.error?.code, 'UND_ERR_ABORTED');
    assert.equal(up.connections, 1);
    await pool.destroy();
  });

  test('an idle connection the upstream closes leaves the pool; the next request opens a fresh one', async () => {
    const up = await start((_head, socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na'));
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/1', method: 'POST', body: Buffer.from('x') });
    await drained(pool);
    assert.equal(pool.stats.connections, 0);
    const next = await exchange(pool, { path: '/2', method: 'POST', body: Buffer.from('y') });
    assert.equal(next.error, null);
    assert.equal(up.connections, 2);
    await pool.destroy();
  });

  test('upload backpressure: a full socket pauses the body source', async () => {
    let server: Socket | undefined;
    // The upstream reads nothing until told to.
    const silent = createNetServer((socket) => {
      server = socket;
      socket.pause();
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const silentPool = new H1Pool(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    let produced = 0;
    const total = 64 * 1024 * 1024;
    const source = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        produced += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    const pending = exchange(silentPool, { path: '/up', method: 'POST', headers: ['content-length', String(total)], body: source, headersTimeout: 0 });
    while (server === undefined) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(produced < total / 4, `${produced} bytes read from the source while the upstream read nothing`);
    let received = 0;
    server.on('data', (c: Buffer) => {
      received += c.length;
      if (received >= total) server!.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    });
    server.resume();
    const ex = await pending;
    assert.equal(ex.error, null);
    assert.equal(produced, total);
    await silentPool.destroy();
    silent.close();
  });

  test('an answer before the whole request body was sent completes the exchange and closes the connection', async () => {
    const early = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write('HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig'));
    });
    early.listen(0, '127.0.0.1');
    await once(early, 'listening');
    const pool = new H1Pool(`http://127.0.0.1:${(early.address() as AddressInfo).port}`);
    let produced = 0;
    const source = new Readable({
      read() {
        produced++;
        // Ends only when read to the end, which the client must not wait for.
        if (produced < 100_000) setTimeout(() => this.push(Buffer.alloc(1024)), 1);
      },
    });
    const ex = await exchange(pool, { path: '/upload', method: 'POST', body: source });
    assert.equal(ex.error, null);
    assert.equal(ex.status, 413);
    assert.equal(ex.body.toString(), 'big');
    await drained(pool);
    assert.equal(pool.stats.connections, 0);
    assert.ok(produced < 100_000);
    source.destroy();
    await pool.destroy();
    early.close();
  });

  test('request trailers from an async iterable body; chunked framing on the wire', async () => {
    const up = await start((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const pool = new H1Pool(up.url);
    async function* body() {
      yield Buffer.from('ab');
      yield 'cd';
    }
    const ex = await exchange(pool, { path: '/t', method: 'POST', body: body() }, { requestTrailers: () => ({ 'grpc-status': '0', 'transfer-encoding': 'chunked', 'x-inject': 'a\nb' }) });
    assert.equal(ex.error, null);
    assert.match(up.requests[0]!.head, /\r\ntransfer-encoding: chunked$/);
    assert.equal(up.requests[0]!.body.toString(), 'abcd\n--trailers--\ngrpc-status: 0\r\n');
    await pool.destroy();
  });

  test('a TLS handshake that never completes is a connect timeout (UND_ERR_CONNECT_TIMEOUT)', async () => {
    const mute = createNetServer((socket) => socket.on('error', () => undefined));
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    const pool = new H1Pool(`https://127.0.0.1:${(mute.address() as AddressInfo).port}`, { connectTimeoutMs: 50 });
    const ex = await exchange(pool, { path: '/', method: 'GET' });
    assert.equal(ex.error?.code, 'UND_ERR_CONNECT_TIMEOUT');
    assert.equal(upstreamErrorCode(ex.error), 'upstream-timeout');
    await pool.destroy();
    mute.close();
  });

  test('connect failures reach onError without onConnect', async () => {
    const up = await start(() => undefined);
    const url = up.url;
    await up.close();
    const pool = new H1Pool(url);
    const ex = await exchange(pool, { path: '/', method: 'GET' });
    assert.equal(ex.error?.code, 'ECONNREFUSED');
    assert.equal(ex.connected, false);
    await pool.destroy();
  });

  test('the request on the wire: one head, host and keep-alive, framing chosen by the client', async () => {
    const up = await start((_head, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const pool = new H1Pool(up.url);
    await exchange(pool, { path: '/w', method: 'GET', headers: ['X-Case', 'Kept', 'connection', 'keep-alive'] });
    assert.equal(up.requests[0]!.head, `GET /w HTTP/1.1\r\nhost: ${new URL(up.url).host}\r\nX-Case: Kept\r\nconnection: keep-alive`);
    await pool.destroy();
  });
});
