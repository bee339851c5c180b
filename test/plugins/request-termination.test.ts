// The `request-termination` plugin: fixed answers without the upstream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 't.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('request-termination', plugin);

describe('request-termination plugin schema', () => {
  test('a header value with CR or LF is refused at load', () => {
    const lines = problemsOf(withPlugin('{ headers: { x-a: "1\\r\\nSet-Cookie: a=b" } }'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^t\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.request-termination\.headers\.x-a: must not contain CR, LF or NUL$/);
  });

  test('headers the gateway owns and a body on 204 are refused with their paths', () => {
    const lines = problemsOf(withPlugin('{ status: 204, body: "x", headers: { Content-Length: "5", content-type: "text/html", X-Request-Id: "fixed" } }'));
    assert.ok(lines.every((l) => /^t\.yaml:8:\d+ /.test(l)), lines.join('\n'));
    const rest = lines.map((l) => l.replace(/^t\.yaml:\d+:\d+ services\[0\]\.routes\[0\]\.plugins\.request-termination\./, ''));
    assert.deepEqual(rest.sort(), [
      'body: a 204 response has no body',
      'headers.Content-Length: "Content-Length" is managed by the gateway and cannot be set here',
      'headers.X-Request-Id: "X-Request-Id" is managed by the gateway and cannot be set here',
      'headers.content-type: use content_type',
    ]);
  });

  test('statuses outside 200..599 and unknown keys are refused', () => {
    assert.ok(problemsOf(withPlugin('{ status: 101 }')).some((l) => /request-termination\.status:/.test(l)));
    assert.ok(problemsOf(withPlugin('{ status: 503, bdy: "x" }')).some((l) => /unknown key "bdy" \(did you mean "body"\?\)/.test(l)));
  });
});

describe('request-termination plugin behaviour', () => {
  let gw: TestGateway;
  let seen = 0;
  before(async () => {
    const up = createServer((_q, r) => {
      seen++;
      r.end('upstream');
    });
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://up"
    routes:
      - paths: ["/maintenance"]
        plugins:
          request-termination:
            body: "<h1>Back soon</h1>"
            content_type: "text/html; charset=utf-8"
            headers: { Retry-After: "120", Cache-Control: no-store }
      - paths: ["/stub"]
        plugins:
          request-termination: { status: 200, body: { users: [{ id: 1 }], total: 1 } }
      - paths: ["/gone"]
        plugins:
          request-termination: { status: 410 }
      - paths: ["/open"]
`, upstreams: { up } });
  });
  after(async () => {
    await gw.close();
  });

  test('string body, content type and headers; the upstream sees nothing', async () => {
    const before = seen;
    const res = await gw.request({ path: '/maintenance/x?y=1', method: 'POST', body: 'ignored' });
    assert.equal(res.status, 503);
    assert.equal(res.body, '<h1>Back soon</h1>');
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['content-length'], String(Buffer.byteLength('<h1>Back soon</h1>')));
    assert.equal(res.headers['retry-after'], '120');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.ok(res.headers['x-request-id']);
    assert.equal(seen, before);
  });

  test('a JSON body is encoded once, with application/json; no body is an empty response', async () => {
    const stub = await gw.request({ path: '/stub' });
    assert.equal(stub.status, 200);
    assert.equal(stub.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(stub.body), { users: [{ id: 1 }], total: 1 });
    const gone = await gw.request({ path: '/gone' });
    assert.equal(gone.status, 410);
    assert.equal(gone.body, '');
    assert.equal(gone.headers['content-length'], '0');
    assert.equal((await gw.request({ path: '/open' })).body, 'upstream', 'other routes are forwarded');
  });

  test('HEAD gets the head only; an unread request body closes the connection after the answer', async () => {
    const head = await gw.request({ path: '/stub', method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    // raw() resolves only once the gateway has closed the connection.
    const text = await gw.raw('POST /maintenance HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\npartial');
    assert.match(text, /^HTTP\/1\.1 503 /, 'the gateway closes rather than reading 100 kB it does not need');
  });
});
