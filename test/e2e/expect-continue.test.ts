// `Expect: 100-continue` is answered by the gateway: a refusal (413 over the body limit, 401
// from auth, 404 without a route) comes first and without a 100; the 100 comes once the
// request passed its checks and plugins, and the body then goes through. Other expectations
// get a 417 problem. The client here is a raw socket that sends its body only after a 100.
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rawExchange, startEchoUpstream, startGateway, type InProcessGateway, type Upstream } from '../helpers/servers.js';

interface Exchange {
  /** The status line of the first answer the gateway wrote. */
  first: string;
  /** Everything received. */
  text: string;
  /** Whether the body was sent (a 100 came). */
  sentBody: boolean;
}

/** Sends `head`; sends `body` only once a `100 Continue` arrives; reads until the server closes (or 5 s). */
function expectExchange(port: number, head: string, body: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sentBody = false;
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!sentBody && /^HTTP\/1\.1 100 [^\r]*\r\n\r\n/.test(text)) {
        sentBody = true;
        socket.write(body);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ first: text.slice(0, text.indexOf('\r\n')), text, sentBody });
    });
    socket.on('error', reject);
    socket.write(head);
  });
}

const finalBody = (text: string) => text.slice(text.lastIndexOf('\r\n\r\n') + 4);

describe('Expect: 100-continue and other expectations', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: [{ address: "127.0.0.1:0", http2: true }], status: null }
limits: { max_body_bytes: 1000 }
consumers:
  - { username: alice, credentials: { key-auth: [{ key: "alice-key-0123456789" }] } }
services:
  - name: echo
    url: "${echo.url}"
    routes:
      - { name: open, paths: ["/open"] }
      - { name: keyed, paths: ["/keyed"], plugins: { key-auth: {} } }
      - { name: small, paths: ["/small"], plugins: { request-size-limit: { max_bytes: 100 } } }
      - { name: json, paths: ["/json"], plugins: { transform: { request: { json: { set: { added: yes } } } } } }
`);
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('a declared body over the limit gets 413 first, never a 100 (several spellings)', async () => {
    const heads = [
      'POST /open HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n',
      'PUT /open HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\ncontent-length: 1001\r\n\r\n',
      'POST /open HTTP/1.1\r\nHost: a\r\nEXPECT:    100-CONTINUE   \r\nContent-Length: 99999999999999\r\n\r\n',
      'POST /open HTTP/1.1\r\nContent-Length: 4096\r\nHost: a\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n',
      'POST /open HTTP/1.1\r\nHost: a\r\nExpect: 100-continue,\r\nContent-Length: 5000\r\n\r\n',
      // A route's own lower limit (request-size-limit) too.
      'POST /small HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n',
    ];
    for (const head of heads) {
      const r = await expectExchange(gw.port, head, 'x'.repeat(10));
      assert.match(r.first, /^HTTP\/1\.1 413 /, `${JSON.stringify(head)} → ${JSON.stringify(r.text.slice(0, 80))}`);
      assert.equal(r.sentBody, false);
      assert.doesNotMatch(r.text, /HTTP\/1\.1 100/);
      assert.match(r.text, /application\/problem\+json/);
    }
  });

  test('auth and routing refuse before the body is asked for: 401 and 404 without a 100', async () => {
    const unauthorized = await expectExchange(gw.port, 'POST /keyed HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n', '0123456789');
    assert.match(unauthorized.first, /^HTTP\/1\.1 401 /);
    assert.equal(unauthorized.sentBody, false);
    const noRoute = await expectExchange(gw.port, 'POST /nowhere HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n', '0123456789');
    assert.match(noRoute.first, /^HTTP\/1\.1 404 /);
    assert.equal(noRoute.sentBody, false);
  });

  test('a request that passes gets one 100, then its body is forwarded (plain, keyed, chunked, and read by a plugin)', async () => {
    const cases: Array<[string, string, string]> = [
      ['POST /open HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\nConnection: close\r\n\r\n', '0123456789', '0123456789'],
      ['POST /keyed HTTP/1.1\r\nHost: a\r\napikey: alice-key-0123456789\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n', 'abc', 'abc'],
      ['POST /open HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', '3\r\nabc\r\n0\r\n\r\n', 'abc'],
      ['POST /json HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 8\r\nConnection: close\r\n\r\n', '{"a":1}\n', '{"a":1,"added":"yes"}'],
    ];
    for (const [head, body, forwarded] of cases) {
      const r = await expectExchange(gw.port, head, body);
      assert.equal(r.first, 'HTTP/1.1 100 Continue', JSON.stringify(r.text.slice(0, 120)));
      assert.equal(r.text.split('HTTP/1.1 100').length - 1, 1);
      assert.match(r.text, /\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      assert.equal((JSON.parse(finalBody(r.text)) as { body: string }).body, forwarded);
    }
  });

  test('no 100 when there is no body to wait for', async () => {
    const { text } = await rawExchange(gw.port, 'GET /open HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  });

  test('an expectation other than 100-continue gets a 417 problem (several spellings); HTTP/1.0 expectations are ignored', async () => {
    const expects = ['Expect: foo', 'Expect: 100-continue, foo', 'Expect: 100-continue=1', 'Expect: 100-continue;q=1', 'Expect: 200-ok', 'Expect: 100-continue\r\nExpect: x', 'Expect: "100-continue"', 'Expect: 100-continue\u00a0'];
    for (const e of expects) {
      const { text } = await rawExchange(gw.port, `POST /open HTTP/1.1\r\nHost: a\r\n${e}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`);
      assert.match(text, /^HTTP\/1\.1 417 Expectation Failed\r\n/, `${e}: ${text.slice(0, 80)}`);
      assert.match(text, /application\/problem\+json/);
      assert.match(text, /urn:northgate:problem:expectation-failed/);
    }
    const old = await rawExchange(gw.port, 'POST /open HTTP/1.0\r\nHost: a\r\nExpect: foo\r\nContent-Length: 2\r\n\r\nok');
    assert.match(old.text, /^HTTP\/1\.1 200 OK\r\n/);
    const oldContinue = await rawExchange(gw.port, 'POST /open HTTP/1.0\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok');
    assert.match(oldContinue.text, /^HTTP\/1\.1 200 OK\r\n/);
  });

  test('HTTP/2: 413 without a 100 over the limit, a 100 then the answer under it, 417 for other expectations', async () => {
    const session = h2connect(`http://127.0.0.1:${gw.port}`);
    const call = (headers: Record<string, string>, body: string) =>
      new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ...headers }, { endStream: false });
        let continued = false;
        let status = 0;
        let data = '';
        stream.on('continue', () => {
          continued = true;
          stream.end(body);
        });
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: Buffer) => (data += c.toString()));
        stream.on('close', () => resolve({ status, continued, body: data }));
        stream.on('error', reject);
      });
    try {
      const over = await call({ ':path': '/open', expect: '100-continue', 'content-length': '5000' }, 'x');
      assert.equal(over.status, 413);
      assert.equal(over.continued, false);
      const under = await call({ ':path': '/open', expect: '100-continue', 'content-length': '2' }, 'ok');
      assert.equal(under.status, 200);
      assert.equal(under.continued, true);
      assert.equal((JSON.parse(under.body) as { body: string }).body, 'ok');
      const odd = await call({ ':path': '/open', expect: 'something-else', 'content-length': '2' }, 'ok');
      assert.equal(odd.status, 417);
      assert.match(odd.body, /expectation-failed/);
    } finally {
      session.close();
    }
  });
});
