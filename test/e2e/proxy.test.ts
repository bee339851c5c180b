// The proxy's own behaviour against real sockets: header hygiene, forwarding headers,
// request ids, path joining, and every error the gateway answers itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, rawExchange, rawRequest, startEchoUpstream, startGateway, startUpstream, type InProcessGateway, type Upstream, DEAD_PORT } from '../helpers/servers.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  rawHeaders: string[];
  body: string;
}

const rawNames = (e: Echo) => e.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

describe('proxy core', () => {
  let echo: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    echo = await startEchoUpstream();
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: base
    url: "${echo.url}/base/path/"
    routes:
      - { name: strip, paths: ["/api/orders"], strip_path: true }
      - { name: keep, paths: ["/keep"] }
      - { name: host, paths: ["/host"], preserve_host: true }
  - name: root
    url: "${echo.url}"
    routes:
      - { name: root-strip, paths: ["/r"], strip_path: true }
`);
  });
  after(async () => {
    await gw.close();
    await echo.close();
  });

  test('strip_path joins the rest to the service base path without double slashes', async () => {
    const cases: Array<[string, string]> = [
      ['/api/orders/7', '/base/path/7'],
      ['/api/orders', '/base/path'],
      ['/api/orders/', '/base/path/'],
      ['/keep/x', '/base/path/keep/x'],
      ['/r', '/'],
      ['/r/a/b', '/a/b'],
    ];
    for (const [path, expected] of cases) {
      const res = await http(gw.url + path);
      assert.equal(res.status, 200, path);
      assert.equal((JSON.parse(res.body) as Echo).url, expected, path);
    }
  });

  test('the query string reaches the upstream byte for byte', async () => {
    const query = '?a=%2F&b=%2f%20x&c=+&d=%E2%9C%93&e&e=2&f=a%26b';
    const res = await http(gw.url + '/api/orders/7' + query);
    assert.equal((JSON.parse(res.body) as Echo).url, '/base/path/7' + query);
  });

  test('prefixes match on segment boundaries', async () => {
    assert.equal((await http(gw.url + '/api/ordersX')).status, 404);
  });

  test('hop-by-hop request headers and the ones Connection names are removed', async () => {
    const answer = await rawRequest(
      gw.port,
      'GET /keep HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: x-t\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n',
    );
    const e = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Echo;
    const names = rawNames(e);
    for (const h of ['x-secret-hop', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']) assert.ok(!names.includes(h), `${h} reached the upstream`);
    assert.equal(e.headers['x-kept'], 'yes');
  });

  test('client copies of identity headers never reach the upstream', async () => {
    const res = await http(gw.url + '/keep', {
      headers: { 'X-Consumer-Id': 'admin', 'X-Consumer-Username': 'root', 'X-Consumer-Groups': 'admins', 'X-Credential-Id': 'k1' },
    });
    const names = rawNames(JSON.parse(res.body) as Echo);
    for (const h of ['x-consumer-id', 'x-consumer-username', 'x-consumer-groups', 'x-credential-id']) assert.ok(!names.includes(h), h);
  });

  test('X-Forwarded-* are set and a spoofed X-Forwarded-For from an untrusted peer is replaced', async () => {
    const res = await http(gw.url + '/keep', { headers: { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'https', Forwarded: 'for=6.6.6.6', 'X-Real-IP': '6.6.6.6' } });
    const e = JSON.parse(res.body) as Echo;
    assert.equal(e.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(e.headers['x-forwarded-proto'], 'http');
    assert.equal(e.headers['x-forwarded-host'], `127.0.0.1:${gw.port}`);
    assert.equal(e.headers['x-forwarded-port'], String(gw.port));
    assert.equal(e.headers['forwarded'], undefined);
    assert.equal(e.headers['x-real-ip'], undefined);
  });

  test('the upstream gets its own Host unless preserve_host is set', async () => {
    const plain = JSON.parse((await http(gw.url + '/keep', { headers: { Host: 'api.example.com' } })).body) as Echo;
    assert.equal(plain.headers['host'], `127.0.0.1:${echo.port}`);
    const kept = JSON.parse((await http(gw.url + '/host', { headers: { Host: 'api.example.com' } })).body) as Echo;
    assert.equal(kept.headers['host'], 'api.example.com');
  });

  test('X-Request-Id: a sane one is kept, others are replaced; the same id goes up and comes back', async () => {
    const sane = await http(gw.url + '/keep', { headers: { 'X-Request-Id': 'abc-123.def' } });
    assert.equal(sane.headers['x-request-id'], 'abc-123.def');
    assert.equal((JSON.parse(sane.body) as Echo).headers['x-request-id'], 'abc-123.def');
    for (const bad of ['a'.repeat(500), 'abc<script>', 'has space']) {
      const res = await http(gw.url + '/keep', { headers: { 'X-Request-Id': bad } });
      const id = res.headers['x-request-id'] as string;
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal((JSON.parse(res.body) as Echo).headers['x-request-id'], id);
    }
    const fresh = await http(gw.url + '/keep');
    assert.match(fresh.headers['x-request-id'] as string, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const again = await http(gw.url + '/keep');
    assert.notEqual(again.headers['x-request-id'], fresh.headers['x-request-id'], 'every generated id is new');
  });

  test('404 is problem+json with type, title, status, detail and request_id', async () => {
    const res = await http(gw.url + '/nowhere');
    assert.equal(res.status, 404);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const p = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(p['type'], 'urn:northgate:problem:route-not-found');
    assert.equal(p['status'], 404);
    assert.equal(typeof p['title'], 'string');
    assert.equal(typeof p['detail'], 'string');
    assert.equal(p['request_id'], res.headers['x-request-id']);
  });

  test('ambiguous requests are refused with 400: two Hosts, dot segments, encoded dots, NUL, absolute-form host mismatch', async () => {
    const cases = [
      `GET /keep HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`,
      `GET /keep/../admin HTTP/1.1\r\nHost: a\r\n\r\n`,
      `GET /keep/%2e%2e/admin HTTP/1.1\r\nHost: a\r\n\r\n`,
      `GET /keep/%00 HTTP/1.1\r\nHost: a\r\n\r\n`,
      `GET /keep\\..\\x HTTP/1.1\r\nHost: a\r\n\r\n`,
      `GET http://evil.example/keep HTTP/1.1\r\nHost: a.example\r\n\r\n`,
      `GET /keep HTTP/1.1\r\nHost: a b\r\n\r\n`,
      `GET keep HTTP/1.1\r\nHost: a\r\n\r\n`,
    ];
    for (const c of cases) {
      const answer = await rawRequest(gw.port, c.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
      assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(c));
    }
  });

  test('Host: RFC 3986 names (underscores, sub-delims) pass and reach the upstream as sent', async () => {
    const hosts = ['gateway_api_conformance.echo_basic.grpcecho.GrpcEcho', '_sip._tcp.example:5060', 'a_b.example.', 'x~y.example', "a!$&'()+;=b.example", '127.0.0.1:65535', '[::1]:1', '-lead.example'];
    for (const host of hosts) {
      const res = await http(gw.url + '/host', { headers: { Host: host } });
      assert.equal(res.status, 200, `${host}: ${res.body}`);
      const seen = JSON.parse(res.body) as Echo;
      assert.equal(seen.headers['host'], host, 'preserve_host forwards it unchanged');
      assert.equal(seen.headers['x-forwarded-host'], host);
    }
  });

  test('Host: lists, percent-encoding, stars, userinfo, paths, empty labels, IPvFuture and bad ports are refused with 400', async () => {
    const hosts = ['a.example,b.example', 'a.example, b.example', 'a%2eexample', 'evil%2Eexample.com', '*.example', '*', 'user@a.example', 'a.example/x', 'a.example\\x', '.a.example', 'a..example',
      '[v1.x]', '[::1', 'a.example:0', 'a.example:65536', 'a.example:99999', 'a.example:080', 'a.example:', 'a.example:80:80', 'a.example:-1', 'a.example#x', 'a.example?x', 'a"b.example', 'a<b>.example', 'ex\u00e4mple.com'];
    for (const host of hosts) {
      const answer = await rawRequest(gw.port, `GET /host HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(host));
    }
    const one = await rawRequest(gw.port, `GET /host HTTP/1.1\r\nHost: a.example,b.example\r\nConnection: close\r\n\r\n`);
    assert.match(one, /malformed Host header/);
  });

  test('percent-encoded unreserved characters are decoded before routing (no route bypass)', async () => {
    const res = await http(gw.url + '/%61pi/%6Frders/7');
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as Echo).url, '/base/path/7');
  });

  test('absolute-form targets whose authority matches Host are accepted', async () => {
    const answer = await rawRequest(gw.port, `GET http://a.example/keep?x=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.match(answer, /"url":"\/base\/path\/keep\?x=1"/);
  });

  test('a malformed request line gets 400 problem+json from the parser layer', async () => {
    const answer = await rawRequest(gw.port, 'GARBAGE\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /application\/problem\+json/);
  });
});

describe('upstream failures and limits', () => {
  const upstreams: Upstream[] = [];
  let gw: InProcessGateway;
  let deadPort: number;
  before(async () => {
    const hang = await startUpstream(() => undefined);
    const reset = await startUpstream((req) => req.socket.destroy());
    const midway = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write('x'.repeat(1000));
      setImmediate(() => res.socket?.destroy());
    });
    const sink = await startUpstream((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(JSON.stringify({ received: n })));
      req.on('error', () => undefined);
    });
    deadPort = DEAD_PORT;
    upstreams.push(hang, reset, midway, sink);
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
limits: { max_body_bytes: 1000, max_header_bytes: 2048 }
services:
  - { name: hang, url: "${hang.url}", timeouts: { read: 200ms }, routes: [{ paths: ["/hang"] }] }
  - { name: reset, url: "${reset.url}", routes: [{ paths: ["/reset"] }] }
  - { name: midway, url: "${midway.url}", routes: [{ paths: ["/midway"] }] }
  - { name: sink, url: "${sink.url}", routes: [{ paths: ["/sink"] }] }
  - { name: dead, url: "http://127.0.0.1:${deadPort}", routes: [{ paths: ["/dead"] }] }
`);
  });
  after(async () => {
    await gw.close();
    for (const u of upstreams) await u.close();
  });

  const assertProblem = (res: { status: number; headers: Record<string, unknown>; body: string }, status: number, type: string) => {
    assert.equal(res.status, status);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const p = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(p['type'], `urn:northgate:problem:${type}`);
    assert.doesNotMatch(res.body, /127\.0\.0\.1|ECONN|\bat \w+ \(/, 'no internal addresses or stacks in the body');
  };

  test('502 when the upstream refuses the connection', async () => {
    assertProblem(await http(gw.url + '/dead'), 502, 'upstream-unavailable');
  });

  test('502 when the upstream resets the connection', async () => {
    assertProblem(await http(gw.url + '/reset'), 502, 'upstream-unavailable');
  });

  test('504 when the upstream does not answer within the read timeout', async () => {
    assertProblem(await http(gw.url + '/hang'), 504, 'upstream-timeout');
  });

  test('an upstream that dies mid-response makes the gateway cut the client connection', async () => {
    await assert.rejects(http(gw.url + '/midway'));
  });

  test('413 for a declared Content-Length over max_body_bytes, before anything is sent upstream', async () => {
    assertProblem(await http(gw.url + '/sink', { method: 'POST', body: 'x'.repeat(1001) }), 413, 'body-too-large');
  });

  test('413 for a chunked body that grows over max_body_bytes; the unfinished connection is closed', async () => {
    // The body never ends: the gateway must answer and close rather than wait for it.
    const answer = await rawExchange(gw.port, `POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n` + `258\r\n${'y'.repeat(600)}\r\n`.repeat(3), 10_000);
    assert.match(answer.text, /^HTTP\/1\.1 413 /);
    assert.ok(answer.serverClosed, 'the gateway closed the connection');
  });

  test('a body under the limit is streamed to the upstream whole (chunked and with Content-Length)', async () => {
    const res = await http(gw.url + '/sink', { method: 'POST', body: 'z'.repeat(999) });
    assert.deepEqual(JSON.parse(res.body), { received: 999 });
    const chunked = await rawRequest(gw.port, `POST /sink HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1f4\r\n${'y'.repeat(500)}\r\n0\r\n\r\n`);
    assert.match(chunked, /"received":500/);
  });

  test('431 when the request head is over max_header_bytes', async () => {
    const res = await http(gw.url + '/sink', { headers: { 'x-big': 'b'.repeat(4000) } });
    assertProblem(res, 431, 'headers-too-large');
  });
});

describe('hop-by-hop response headers and streaming', () => {
  let up: Upstream;
  let gw: InProcessGateway;
  let release: (() => void) | null = null;
  let upstreamSawClose = false;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url === '/hop') {
        res.writeHead(200, [
          ['Connection', 'X-Upstream-Hop'],
          ['X-Upstream-Hop', 'secret'],
          ['Keep-Alive', 'timeout=999'],
          ['Proxy-Connection', 'keep-alive'],
          ['Upgrade', 'h2c'],
          ['X-Request-Id', 'upstream-made-this'],
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
          ['Content-Length', '2'],
        ].flat() as unknown as string[]);
        res.end('ok');
      } else if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first;');
        release = () => res.end('last');
      } else if (req.url === '/abort') {
        res.writeHead(200);
        res.write('partial');
        req.socket.on('close', () => (upstreamSawClose = true));
      }
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services: [{ name: s, url: "${up.url}", routes: [{ paths: ["/"] }] }]
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('hop-by-hop response headers are removed; repeated headers survive; the request id is the gateway\'s', async () => {
    const res = await http(gw.url + '/hop');
    assert.equal(res.body, 'ok');
    const names = res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const h of ['x-upstream-hop', 'proxy-connection', 'upgrade']) assert.ok(!names.includes(h), h);
    assert.notEqual(res.headers['keep-alive'], 'timeout=999');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.notEqual(res.headers['x-request-id'], 'upstream-made-this');
  });

  test('the response streams: the first chunk reaches the client before the upstream finishes', async () => {
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(gw.url + '/stream', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          // Only once the first chunk arrived does the upstream finish.
          if (text === 'first;') release!();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'first;last');
  });

  test('a client that goes away aborts the upstream exchange', async () => {
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request(gw.url + '/abort', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.end();
    });
    for (let i = 0; i < 100 && !upstreamSawClose; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(upstreamSawClose, 'the upstream connection was closed after the client left');
  });
});

describe('load balancing', () => {
  test('round-robin follows target weights', async () => {
    const a = await startUpstream((_q, r) => r.end('a'));
    const b = await startUpstream((_q, r) => r.end('b'));
    const gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
upstreams: [{ name: u, targets: [{ url: "${a.url}", weight: 3 }, { url: "${b.url}", weight: 1 }] }]
services: [{ name: s, upstream: u, routes: [{ paths: ["/"] }] }]
`);
    try {
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) seen.push((await http(gw.url + '/')).body);
      assert.equal(seen.filter((x) => x === 'a').length, 30);
      assert.equal(seen.filter((x) => x === 'b').length, 10);
      // Smooth: never more than three a's in a row.
      assert.doesNotMatch(seen.join(''), /aaaa/);
    } finally {
      await gw.close();
      await a.close();
      await b.close();
    }
  });
});
