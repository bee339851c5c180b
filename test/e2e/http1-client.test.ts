// The HTTP/1.1 client end to end: over TLS (CA, SNI, client certificate, ALPN http/1.1
// only), and a differential test: the same seeded set of raw responses, valid and mutated,
// read through undici's Pool (as the gateway configures it) and through H1Pool must give
// the same status, headers, body and trailers, or errors the gateway maps to the same problem.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { compileUpstreamTls } from '../../src/upstream/tls.js';
import { upstreamErrorCode } from '../../src/upstream/errors.js';
import { createPool } from '../../src/upstream/undici-pool.js';
import '../../src/upstream/interim-continue.js';
import { H1Pool } from '../../src/http1/client-pool.js';
import { CertDir } from '../helpers/certs.js';
import { exchange, startScriptedUpstream, type Exchange, type ScriptedUpstream } from '../helpers/http1-client.js';
import { seededRandom } from '../helpers/random.js';

describe('HTTP/1.1 client over TLS', () => {
  const certs = new CertDir();
  let url: string;
  let server: ReturnType<typeof createHttpsServer>;
  before(async () => {
    certs.ca('ca').ca('other-ca');
    certs.leaf('srv', 'api.test', 'ca', 'DNS:api.test');
    certs.leaf('client', 'northgate', 'ca');
    server = createHttpsServer({ key: certs.read('srv.key'), cert: certs.read('srv.crt'), ca: certs.read('ca.crt'), requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, (req, res) => {
      const socket = req.socket as import('node:tls').TLSSocket;
      res.end(JSON.stringify({ alpn: socket.alpnProtocol, sni: (socket as unknown as { servername?: string }).servername, client: socket.getPeerCertificate()?.subject?.CN ?? null }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('CA, SNI and a client certificate from the upstream tls block; ALPN offers http/1.1 only', async () => {
    const tls = compileUpstreamTls({ ca: certs.path('ca.crt'), client_cert: certs.path('client.crt'), client_key: certs.path('client.key'), servername: 'api.test' })!;
    const pool = new H1Pool(url, { tls: tls.connect });
    const ex = await exchange(pool, { path: '/', method: 'GET' });
    assert.equal(ex.error, null);
    assert.deepEqual(JSON.parse(ex.body.toString()), { alpn: 'http/1.1', sni: 'api.test', client: 'northgate' });
    await pool.close();
  });

  test('a certificate from another CA or for another name is a TLS error', async () => {
    const other = compileUpstreamTls({ ca: certs.path('other-ca.crt'), servername: 'api.test' })!;
    const a = await exchange(new H1Pool(url, { tls: other.connect }), { path: '/', method: 'GET' });
    assert.equal(upstreamErrorCode(a.error), 'upstream-tls-error', a.error?.code);
    const wrongName = compileUpstreamTls({ ca: certs.path('ca.crt'), servername: 'other.test' })!;
    const b = await exchange(new H1Pool(url, { tls: wrongName.connect }), { path: '/', method: 'GET' });
    assert.equal(upstreamErrorCode(b.error), 'upstream-tls-error', b.error?.code);
  });
});

/** A seeded response, valid or mutated, as the byte pieces the upstream writes before it ends the connection. */
function responseCase(rand: () => number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const eol = rand() < 0.08 ? '\n' : '\r\n';
  const version = rand() < 0.85 ? 'HTTP/1.1' : pick(['HTTP/1.0', 'HTTP/1.2', 'HTTP/2.0', 'HTTP/1', 'http/1.1', 'HTTP/1.1 ']);
  const status = rand() < 0.7 ? pick(['200', '201', '404', '500', '204', '304']) : pick(['100', '103', '999', '20', '2000', '-1', '600', '099', '2x0']);
  const reason = pick(['OK', '', 'Some Reason', 'r\x01', 'caf\xe9', ' ']);
  const body = pick(['', 'hello', 'x'.repeat(300), '0123456789']);
  const headers: string[] = [];
  const framing = pick(['cl', 'cl', 'chunked', 'chunked', 'none', 'both', 'cl-dup', 'cl-dup-same', 'cl-bad', 'te-odd']);
  let payload = body;
  if (framing === 'cl') headers.push(`Content-Length: ${rand() < 0.8 ? body.length : pick([body.length + 3, Math.max(0, body.length - 2)])}`);
  if (framing === 'cl-dup') headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
  if (framing === 'cl-dup-same') headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length}`);
  if (framing === 'cl-bad') headers.push(`Content-Length: ${pick(['+5', '-1', '5 5', '0x5', ' 5', '5 ', '', 'abc', '99999999999999999999'])}`);
  if (framing === 'chunked' || framing === 'both' || framing === 'te-odd') {
    headers.push(`Transfer-Encoding: ${framing === 'te-odd' ? pick(['chunked, gzip', 'gzip, chunked', 'chunked , chunked', 'xchunked', 'identity', 'chunked\t']) : 'chunked'}`);
    if (framing === 'both') headers.push(`Content-Length: ${body.length}`);
    const ext = rand() < 0.1 ? pick([';a=b', ';', ' ;x', ';"q"']) : '';
    const size = rand() < 0.85 ? body.length.toString(16) : pick(['0x5', '-1', 'fffffffffffffffff', 'z', '', ` ${body.length.toString(16)}`]);
    const trailers = rand() < 0.3 ? pick(['X-Sum: 1\r\n', 'Grpc-Status: 0\r\nX-T: 2\r\n', 'Bad Trailer: 1\r\n', 'X-T:\x00\r\n']) : '';
    payload = (body === '' ? '' : `${size}${ext}\r\n${body}\r\n`) + `0\r\n${trailers}\r\n`;
  }
  const extra = ['X-Ok: value', 'Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Empty:', 'X-Fold: a\r\n  folded', 'X-Space : v', 'X-Nul: a\x00b', 'X-Ctl: a\x7fb', 'X-High: caf\xe9', 'Connection: close', 'Connection: keep-alive', 'Keep-Alive: timeout=5', 'X-Tab:\tv\t', ' Leading: space', 'X-Long: ' + 'v'.repeat(2000), 'NoColon'];
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) headers.splice(Math.floor(rand() * (headers.length + 1)), 0, pick(extra));
  const prefix = rand() < 0.1 ? pick(['HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', 'HTTP/1.1 102 Processing\r\n\r\n']) : '';
  const text = `${prefix}${version} ${status} ${reason}${eol}${headers.map((h) => h + eol).join('')}${eol}${payload}`;
  // Written in one piece or split at a random point (the parser sees the bytes in two reads).
  if (rand() < 0.3) {
    const at = Math.floor(rand() * text.length);
    return [text.slice(0, at), text.slice(at)];
  }
  return [text];
}

interface Outcome {
  kind: 'response' | 'error';
  status?: number;
  statusText?: string;
  interim?: number[];
  headers?: Array<[string, string]>;
  body?: string;
  trailers?: Array<[string, string]> | null;
  problem?: string;
  code?: string | undefined;
}

/**
 * What the gateway would make of an exchange. Two normalisations, both where undici 7 is
 * the odd one out: its HTTPParserError loses llhttp's code (errors.ts then maps it as
 * "unavailable" rather than "invalid response", both 502), and it decodes the reason
 * phrase as UTF-8 where node's parser keeps latin1 bytes. Header values are compared
 * without trailing whitespace, which node's parser strips (RFC 9110 §5.5: not part of the value).
 */
function outcome(ex: Exchange, undici: boolean): Outcome {
  if (ex.error !== null) {
    const parse = ex.error.name === 'HTTPParserError' || (ex.error.code ?? '').startsWith('HPE_');
    return { kind: 'error', problem: parse ? 'upstream-invalid-response' : upstreamErrorCode(ex.error), code: ex.error.code };
  }
  return {
    kind: 'response',
    status: ex.status,
    statusText: undici ? ex.statusText : Buffer.from(ex.statusText, 'latin1').toString('utf8'),
    interim: ex.interim,
    headers: ex.headers.map(([n, v]) => [n, v.replace(/[ \t]+$/, '')]),
    body: ex.body.toString('latin1'),
    trailers: ex.trailers,
  };
}

/**
 * Where undici is wrong and this client is not: undici fails a 204 or 304 whose
 * Content-Length is not 0 (it compares the length with the body such answers never have),
 * a valid answer this client passes on; and a status below 100 trips an internal assertion
 * of undici's parser, where this client reports an invalid status. A reason phrase split
 * across two reads is cut to its last piece by undici (the proxy never uses it).
 */
function knownUndiciDeviation(a: Outcome, b: Outcome): boolean {
  if (a.kind !== 'error') return false;
  if (a.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return b.kind === 'response' && (b.status === 304 || b.status === 204) && b.body === '';
  return a.code === 'ERR_ASSERTION' && b.code === 'HPE_INVALID_STATUS';
}

describe('HTTP/1.1 client: differential against undici on seeded responses', () => {
  const CASES = Number(process.env.NORTHGATE_H1_DIFF_CASES ?? 400);
  const SEED = Number(process.env.NORTHGATE_H1_DIFF_SEED ?? 0x1f2e3d);
  let up: ScriptedUpstream;
  const cases: string[][] = [];
  before(async () => {
    const rand = seededRandom(SEED);
    for (let i = 0; i < CASES; i++) cases.push(responseCase(rand));
    up = await startScriptedUpstream((head, socket) => {
      const index = Number(/^GET \/case\/(\d+)/.exec(head)![1]);
      const [first, second] = cases[index]!;
      socket.write(first!, 'latin1');
      if (second === undefined) return void socket.end();
      setTimeout(() => socket.end(second, 'latin1'), 2);
    });
  });
  after(() => up.close());

  test(`the same outcome through both clients (${CASES} cases)`, async () => {
    const mismatches: string[] = [];
    const counts = { responses: 0, errors: 0, known: 0 };
    for (let i = 0; i < cases.length; i++) {
      const opts = { path: `/case/${i}`, method: 'GET', headers: [], body: null, headersTimeout: 3000, bodyTimeout: 3000 };
      const undici = createPool(up.url, { connections: 4, pipelining: 1, keepAliveTimeout: 4000, headersTimeout: 0, bodyTimeout: 0, strictContentLength: true });
      const ours = new H1Pool(up.url, { connections: 4 });
      const [a, b] = await Promise.all([exchange(undici as never, opts), exchange(ours, opts)]);
      await Promise.all([undici.destroy(), ours.destroy()]);
      const x = outcome(a, true);
      const y = outcome(b, false);
      if (x.kind === 'response' && y.kind === 'response' && x.statusText !== y.statusText && y.statusText!.endsWith(x.statusText!) && cases[i]!.length === 2) {
        x.statusText = y.statusText;
        counts.known++;
      }
      if (knownUndiciDeviation(x, y)) {
        counts.known++;
        continue;
      }
      const { code: codeA, ...restA } = x;
      const { code: codeB, ...restB } = y;
      try {
        assert.deepEqual(restB, restA);
        if (x.kind === 'error') counts.errors++;
        else counts.responses++;
      } catch {
        mismatches.push(`case ${i} ${JSON.stringify(cases[i]!.join('|'))}\n  undici: ${JSON.stringify({ ...x, code: codeA })}\n  h1:     ${JSON.stringify({ ...y, code: codeB })}`);
      }
    }
    assert.equal(mismatches.length, 0, `${mismatches.length} of ${cases.length} differ:\n${mismatches.slice(0, 15).join('\n')}`);
    // Both kinds are exercised, not only one.
    assert.ok(counts.responses > CASES / 10 && counts.errors > CASES / 10, JSON.stringify(counts));
  });
});
