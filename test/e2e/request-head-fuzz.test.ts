// A client's malformed request gets a 4xx (or a closed connection), never a 5xx: fixed cases
// for the request line's version, then 2,000 seeded mutations of request heads (framing,
// versions, methods, targets, control bytes…) sent over raw sockets to a plain listener and
// to an h2c-sniffing one. The upstream is a plain 200 responder, so any 5xx is the gateway's.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fuzzRequests, type FuzzCase } from '../helpers/head-fuzz.js';
import { http, rawExchange, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { converse, statuses } from '../helpers/recording-upstream.js';

describe('client mistakes get a 4xx, never a 5xx', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  const bugs: unknown[] = [];
  const onBug = (m: unknown) => bugs.push((m as { error: unknown }).error);
  before(async () => {
    up = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok'));
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: ["127.0.0.1:0", { address: "127.0.0.1:0", http2: true }], status: null }
limits: { header_timeout: 1s, request_timeout: 2s, idle_timeout: 1s, max_body_bytes: 100000 }
services:
  - { name: ok, url: "${up.url}", routes: [{ name: all, paths: ["/"] }] }
`);
    subscribe('northgate:request:error', onBug);
  });
  after(async () => {
    unsubscribe('northgate:request:error', onBug);
    await gw.close();
    await up.close();
  });

  test('request-line versions: HTTP/1.0 and 1.1 are served; other well-formed versions get 505, malformed ones 400', async () => {
    const cases: Array<[string, number]> = [
      ['HTTP/1.1', 200],
      ['HTTP/1.0', 200],
      ['HTTP/2.0', 505],
      ['HTTP/0.9', 505],
      ['HTTP/1.2', 505],
      ['HTTP/3.0', 505],
      ['HTTP/9.9', 505],
      ['HTTP/0.0', 505],
      ['HTTP/1.10', 400],
      ['HTTP/a.b', 400],
      ['HTTP/1.', 400],
      ['HTTP/2', 400],
      ['http/1.1', 400],
      ['HTTP/1.1\nHost: b', 400],
    ];
    for (const port of gw.ports) {
      for (const [version, status] of cases) {
        for (const method of ['GET', 'POST', 'PRI']) {
          const body = method === 'POST' ? 'Content-Length: 2\r\n\r\nok' : '\r\n';
          const { text } = await rawExchange(port, `${method} / ${version}\r\nHost: a\r\nConnection: close\r\n${body}`);
          // llhttp takes PRI with HTTP/2.0 only (the HTTP/2 preface): with 1.x it is malformed.
          const expected = method === 'PRI' && status === 200 ? 400 : status;
          assert.match(text, new RegExp(`^HTTP/1\\.1 ${expected} `), `${method} ${version} on ${port}: ${text.slice(0, 60)}`);
          assert.ok(!/^HTTP\/1\.1 5(?!05)/.test(text), `${method} ${version}: ${text.slice(0, 60)}`);
          if (status >= 400) assert.match(text, /application\/problem\+json/, `${method} ${version}`);
        }
      }
    }
    assert.deepEqual(bugs, []);
  });

  test('an HTTP/1.1 request without Host, and a CONNECT, get a 400 problem (not a bare 400, not a silent close)', async () => {
    const cases = [
      'GET / HTTP/1.1\r\nConnection: close\r\n\r\n',
      'POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
      'GET http://a/ HTTP/1.1\r\nConnection: close\r\n\r\n',
      'GET / HTTP/1.1\r\nX-Host: a\r\nConnection: close\r\n\r\n',
      'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
      'CONNECT a:443 HTTP/1.1\r\n\r\n',
      'CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n',
      'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\nSSH-2.0-x\r\n',
      'connect a:443 HTTP/1.1\r\nHost: a\r\n\r\n',
    ];
    for (const port of gw.ports) {
      for (const c of cases) {
        const { text, serverClosed } = await rawExchange(port, c);
        assert.ok(serverClosed, c);
        assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/, `${JSON.stringify(c)}: ${JSON.stringify(text.slice(0, 60))}`);
        assert.match(text, /application\/problem\+json/, c);
      }
    }
    // HTTP/1.0 needs no Host.
    assert.match((await rawExchange(gw.port, 'GET / HTTP/1.0\r\n\r\n')).text, /^HTTP\/1\.1 200 /);
  });

  test('a chunked body that turns malformed after the response started: the response is cut, no error head is written into it', async () => {
    const early = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first-part;');
      req.on('error', () => undefined);
      req.resume();
      req.on('end', () => res.end('end'));
    });
    const gwEarly = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - { name: early, url: "${early.url}", routes: [{ name: all, paths: ["/"] }] }
`);
    try {
      for (const bad of ['zz\r\n', '-1\r\n', 'ffffffffffffffffffff\r\n', '3\r\nabcXX\r\n', '0\r\nBad Trailer\r\n\r\n']) {
        const text = await new Promise<string>((resolve) => {
          const socket = connect(gwEarly.port, '127.0.0.1');
          let out = '';
          const cap = setTimeout(() => socket.destroy(), 5000);
          socket.on('data', (c: Buffer) => {
            out += c.toString('latin1');
            // The response has started: now the malformed chunk.
            if (out.includes('first-part;') && !socket.destroyed) socket.write(bad);
          });
          socket.on('error', () => undefined);
          socket.on('close', () => {
            clearTimeout(cap);
            resolve(out);
          });
          socket.write('POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        });
        assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, bad);
        assert.equal(text.split('HTTP/1.1 ').length - 1, 1, `${JSON.stringify(bad)}: ${JSON.stringify(text)}`);
      }
    } finally {
      await gwEarly.close();
      await early.close();
    }
  });

  test('2,000 seeded mutated request heads: no 5xx, no crash, every connection answered or closed in bounded time', async () => {
    const seed = Number(process.env['FUZZ_SEED'] ?? 17_2026);
    const cases = fuzzRequests(seed, 2000);
    const failures: string[] = [];
    let answered = 0;
    const describeCase = (c: FuzzCase, why: string) => `${why}: ${c.mutations.join(' | ')} :: ${JSON.stringify(c.bytes.subarray(0, 160).toString('latin1'))}`;
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const c = cases[i]!;
        // Half the cases go to the h2c-sniffing listener (an HTTP/1 client's first bytes take another path there).
        const { text, closed } = await converse(gw.ports[i % 2]!, c.bytes, () => false, 8000);
        const seen = statuses(text);
        if (seen.length > 0) answered++;
        // 505 is the one 5xx about the client: only for a request line that names another version
        // than 1.0 or 1.1, or none (node's parser reads a line without one as HTTP/0.9) — the first
        // request's line or a pipelined one's (a line after a blank line).
        const requestLines = c.bytes.toString('latin1').split(/\r?\n\r?\n/).map((part) => part.split(/\r?\n/, 1)[0]!).filter((line) => line !== '');
        const wrongVersion = requestLines.some((line) => !/ HTTP\/1\.[01]$/.test(line));
        if (seen.some((s) => s >= 500 && !(s === 505 && wrongVersion))) failures.push(describeCase(c, `status ${seen.join(',')}`));
        if (!closed) failures.push(describeCase(c, 'connection neither answered-and-closed nor closed within 8 s'));
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    assert.deepEqual(failures.slice(0, 20), [], `seed ${seed}: ${failures.length} failures`);
    assert.deepEqual(bugs, []);
    // The generator really produced both served and refused requests.
    assert.ok(answered > 1000, `only ${answered} answers`);
    // The gateway still serves.
    assert.equal((await http(`${gw.url}/after-fuzz`)).status, 200);
  });
});
