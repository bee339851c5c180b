// The forward-auth plugin against a real HTTP policy service (node:http on 127.0.0.1): what
// the service is sent, each kind of answer, failures, the body, the decision cache, and the
// attack cases (forged identity headers, a hostile service's huge or malformed answers).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { remoteFetchFailedChannel } from '../../src/base/events.js';
import type { RemoteFetchFailure } from '../../src/base/remote-document.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

type Answer = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

/** A policy service whose answer each test sets; it records every check it gets. */
class PolicyService {
  readonly calls: Seen[] = [];
  answer: Answer = (_req, res) => res.end();
  readonly #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
        this.calls.push(seen);
        this.answer(req, res, seen);
      });
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/check?tenant=a`;
    return this;
  }

  reset(answer: Answer): void {
    this.calls.length = 0;
    this.answer = answer;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

function gatewayWith(plugin: Record<string, unknown>): TestGateway {
  return createTestGateway({
    config: { services: [{ name: 'api', url: 'http://api', routes: [{ name: 'r', paths: ['/'] }], plugins: { 'forward-auth': plugin } }] },
    upstreams: { api: echoUpstream },
  });
}

/** Failure events (which the process log writes) published while `fn` runs. */
async function failuresDuring(fn: () => Promise<void>): Promise<RemoteFetchFailure[]> {
  const seen: RemoteFetchFailure[] = [];
  const on = (m: unknown): void => void seen.push(m as RemoteFetchFailure);
  subscribe(remoteFetchFailedChannel.name, on);
  try {
    await fn();
  } finally {
    unsubscribe(remoteFetchFailedChannel.name, on);
  }
  return seen;
}

const problemsOf = (cfg: string): string[] => configProblems(routeWithPlugin('forward-auth', cfg), 'f.yaml');

describe('forward-auth schema', () => {
  test('a minimal config is valid', () => {
    assert.deepEqual(problemsOf('{ url: "http://auth:9000/check" }'), []);
  });

  test('refused at load: another scheme, credentials in the URL, a body with GET, an out-of-range timeout', () => {
    assert.match(problemsOf('{ url: "ftp://auth/check" }').join('\n'), /forward-auth\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(problemsOf('{ url: "http://u:p@auth/check" }').join('\n'), /must not carry credentials/);
    assert.match(problemsOf('{ url: "http://auth/check", body: { max_bytes: 10 } }').join('\n'), /forward-auth\.body: the body is sent with method: POST only/);
    assert.match(problemsOf('{ url: "http://auth/check", timeout: 10ms }').join('\n'), /forward-auth\.timeout: must be between 100ms and 60s/);
  });

  test('headers the gateway sets or owns cannot be listed', () => {
    assert.match(problemsOf('{ url: "http://auth/check", headers: [X-Forwarded-For] }').join('\n'), /headers\[0\]: "X-Forwarded-For" is set by the gateway on every check/);
    assert.match(problemsOf('{ url: "http://auth/check", upstream_headers: [Host] }').join('\n'), /upstream_headers\[0\]: "Host" is managed by the gateway/);
    assert.match(problemsOf('{ url: "http://auth/check", client_headers: [Content-Length] }').join('\n'), /client_headers\[0\]: "Content-Length" is managed by the gateway/);
    assert.match(problemsOf('{ url: "http://auth/check", upstream_headers: ["bad name"] }').join('\n'), /upstream_headers\[0\]/);
  });

  test('a cache key must name every header sent to the service', () => {
    const lines = problemsOf('{ url: "http://auth/check", headers: [Authorization, Cookie], cache: { key: [Authorization], ttl: 10s } }');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /cache\.key: must name every header in "headers" \("Cookie" is sent to the service but not in the key\)/);
    assert.deepEqual(problemsOf('{ url: "http://auth/check", headers: [Authorization], cache: { key: [authorization, client_ip], ttl: 10s } }'), []);
  });

  test('TLS files must be readable, and a client certificate comes with its key', () => {
    const lines = problemsOf('{ url: "https://auth/check", tls: { ca: /nonexistent/ca.pem, client_cert: /nonexistent/c.pem } }').join('\n');
    assert.match(lines, /forward-auth\.tls: client_cert and client_key go together/);
    assert.match(lines, /forward-auth\.tls\.ca: cannot be read: ENOENT/);
  });
});

describe('forward-auth decisions', () => {
  let policy: PolicyService;
  let gw: TestGateway;
  before(async () => {
    policy = await new PolicyService().start();
    // Long enough that a loaded machine answers in time; only the test of a policy service that never answers waits it out.
    gw = gatewayWith({ url: policy.url, headers: ['Authorization'], upstream_headers: ['X-User', 'X-Groups'], client_headers: ['WWW-Authenticate', 'Set-Cookie'], timeout: '1s' });
  });
  after(async () => {
    await gw.close();
    await policy.close();
  });

  test('2xx lets the request through with the configured response headers, and only those', async () => {
    policy.reset((_req, res) => res.writeHead(200, { 'x-user': 'alice', 'x-groups': 'staff', 'x-other': 'no' }).end('ok'));
    const res = await gw.request({ path: '/orders/7?x=1', headers: { authorization: 'Bearer t1' } });
    assert.equal(res.status, 200);
    const up = res.json<{ headers: IncomingHttpHeaders }>().headers;
    assert.equal(up['x-user'], 'alice');
    assert.equal(up['x-groups'], 'staff');
    assert.equal(up['x-other'], undefined);
    assert.equal(up.authorization, 'Bearer t1');
    assert.equal(policy.calls.length, 1);
    assert.equal(policy.calls[0]!.url, '/check?tenant=a');
  });

  test('the client cannot pre-set a header the service vouches for', async () => {
    policy.reset((_req, res) => res.writeHead(200, { 'x-groups': 'staff' }).end());
    const res = await gw.request({ headers: ['Host', 'localhost', 'X-User', 'admin', 'x-user', 'root', 'X-Groups', 'admins'] });
    assert.equal(res.status, 200);
    const up = res.json<{ headers: IncomingHttpHeaders; rawHeaders: string[] }>();
    assert.equal(up.headers['x-user'], undefined);
    assert.equal(up.headers['x-groups'], 'staff');
    assert.deepEqual(up.rawHeaders.filter((_, i, a) => i % 2 === 1 && /^x-groups$/i.test(a[i - 1]!)), ['staff']);
  });

  test('the service sees the forwarding headers and the listed ones, never a Cookie or anything else', async () => {
    policy.reset((_req, res) => res.writeHead(204).end());
    await gw.request({ method: 'DELETE', path: '/a/b?c=d', headers: { host: 'shop.example:8080', authorization: 'Basic eDp5', cookie: 'sid=secret', 'user-agent': 'ua', 'x-custom': '1' }, clientIp: '203.0.113.9' });
    const seen = policy.calls[0]!;
    assert.equal(seen.method, 'GET');
    assert.deepEqual(Object.keys(seen.headers).sort(), ['authorization', 'connection', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-uri', 'x-real-ip', 'x-request-id']);
    assert.equal(seen.headers['x-forwarded-method'], 'DELETE');
    assert.equal(seen.headers['x-forwarded-uri'], '/a/b?c=d');
    assert.equal(seen.headers['x-forwarded-host'], 'shop.example:8080');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9');
    assert.equal(seen.headers['x-real-ip'], '203.0.113.9');
    assert.equal(seen.headers.authorization, 'Basic eDp5');
    assert.equal(seen.body.length, 0);
  });

  test('401 goes back to the client with its challenge, cookies, body and content type; the upstream is not reached', async () => {
    const before = gw.received('api').length;
    policy.reset((_req, res) => {
      res.setHeader('www-authenticate', 'Bearer realm="shop"');
      res.setHeader('set-cookie', ['a=1; HttpOnly', 'b=2']);
      res.setHeader('x-internal', 'secret');
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"login"}');
    });
    const res = await gw.request({ headers: { authorization: 'Bearer bad' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="shop"');
    assert.deepEqual(res.headers['set-cookie'], ['a=1; HttpOnly', 'b=2']);
    assert.equal(res.headers['x-internal'], undefined);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.body, '{"error":"login"}');
    assert.ok(res.headers['x-request-id']);
    assert.equal(gw.received('api').length, before);
  });

  test('a denial without a body becomes problem+json with the service status, keeping its headers', async () => {
    policy.reset((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="x"', 'set-cookie': ['a=1', 'b=2'] }).end());
    const r401 = await gw.request();
    assert.equal(r401.status, 401);
    assert.equal(r401.headers['content-type'], 'application/problem+json');
    assert.equal(r401.json<{ type: string }>().type, 'urn:northgate:problem:unauthorized');
    assert.equal(r401.headers['www-authenticate'], 'Basic realm="x"');
    assert.deepEqual(r401.headers['set-cookie'], ['a=1', 'b=2']);
    policy.reset((_req, res) => res.writeHead(403).end());
    const r403 = await gw.request();
    assert.equal(r403.status, 403);
    assert.equal(r403.json<{ type: string }>().type, 'urn:northgate:problem:forbidden');
    policy.reset((_req, res) => res.writeHead(429).end());
    const r429 = await gw.request();
    assert.equal(r429.status, 429);
    const body = r429.json<{ type: string; status: number; title: string }>();
    assert.deepEqual([body.type, body.status, body.title], ['urn:northgate:problem:access-denied', 429, 'Too Many Requests']);
  });

  test('a 302 login redirect goes to the client with its Location; the service is not followed', async () => {
    const before = gw.received('api').length;
    policy.reset((_req, res) => res.writeHead(302, { location: 'https://login.example/?rd=%2Forders', 'set-cookie': 'state=1' }).end());
    const res = await gw.request({ path: '/orders' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, 'https://login.example/?rd=%2Forders');
    assert.equal(res.headers['set-cookie']?.[0], 'state=1');
    assert.equal(policy.calls.length, 1);
    assert.equal(gw.received('api').length, before);
  });

  test('a 5xx, an unreachable service and a slow one all refuse with 503 auth-unavailable, never reaching the upstream', async () => {
    const before = gw.received('api').length;
    policy.reset((_req, res) => res.writeHead(500).end('boom'));
    const failures = await failuresDuring(async () => {
      const r500 = await gw.request();
      assert.equal(r500.status, 503);
      assert.equal(r500.json<{ type: string }>().type, 'urn:northgate:problem:auth-unavailable');
      assert.doesNotMatch(r500.body, /boom/);
    });
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.what, 'forward-auth service');
    assert.match(failures[0]!.reason, /^answered 500; requests refused with 503/);

    policy.reset(() => {}); // never answers
    const slow = await gw.request();
    assert.equal(slow.status, 503);

    const down = gatewayWith({ url: 'http://127.0.0.1:1/check', timeout: '300ms' });
    try {
      assert.equal((await down.request()).status, 503);
    } finally {
      await down.close();
    }
    assert.equal(gw.received('api').length, before);
  });

  test('a hostile service: a huge denial page is not relayed, a huge 2xx body does not hold the request', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 97);
    policy.reset((_req, res) => res.writeHead(403, { 'content-type': 'text/html' }).end(big));
    const denied = await gw.request();
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.ok(denied.bytes.length < 1024);
    policy.reset((_req, res) => {
      res.writeHead(200, { 'x-user': 'bob' });
      res.write(big); // and never ends
    });
    const allowed = await gw.request();
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json<{ headers: IncomingHttpHeaders }>().headers['x-user'], 'bob');
  });
});

describe('forward-auth after authentication', () => {
  test('the service may be given the consumer an auth plugin identified, never a client-sent copy', async () => {
    const policy = await new PolicyService().start();
    const gw = createTestGateway({
      config: {
        consumers: [{ username: 'alice', credentials: { 'key-auth': [{ key: 'alice-secret-key-1' }] } }],
        services: [{ name: 'api', url: 'http://api', routes: [{ paths: ['/'] }], plugins: { 'key-auth': {}, 'forward-auth': { url: policy.url, headers: ['X-Consumer-Username', 'apikey'] } } }],
      },
      upstreams: { api: echoUpstream },
    });
    try {
      policy.reset((_req, res) => res.writeHead(200).end());
      const res = await gw.request({ headers: { apikey: 'alice-secret-key-1', 'x-consumer-username': 'root' } });
      assert.equal(res.status, 200);
      assert.equal(policy.calls[0]!.headers['x-consumer-username'], 'alice');
      // Read from the client's request: the key reaches the policy service though key-auth hides it from the upstream.
      assert.equal(policy.calls[0]!.headers.apikey, 'alice-secret-key-1');
      assert.equal(res.json<{ headers: IncomingHttpHeaders }>().headers.apikey, undefined);
    } finally {
      await gw.close();
      await policy.close();
    }
  });
});

describe('forward-auth failure: allow', () => {
  test('a failing service lets the request through without the vouched headers, and the log says so', async () => {
    const gw = gatewayWith({ url: 'http://127.0.0.1:1/check', failure: 'allow', upstream_headers: ['X-User'], timeout: '300ms' });
    try {
      const failures = await failuresDuring(async () => {
        const res = await gw.request({ headers: { 'x-user': 'admin' } });
        assert.equal(res.status, 200);
        assert.equal(res.json<{ headers: IncomingHttpHeaders }>().headers['x-user'], undefined);
      });
      assert.equal(failures.length, 1);
      assert.match(failures[0]!.reason, /cannot be reached \(ECONNREFUSED\); requests let through \(failure: allow\)/);
      assert.equal(failures[0]!.url, 'http://127.0.0.1:1/check');
    } finally {
      await gw.close();
    }
  });
});

describe('forward-auth with the request body', () => {
  let policy: PolicyService;
  before(async () => {
    policy = await new PolicyService().start();
  });
  after(() => policy.close());

  test('POST sends the body up to max_bytes with its content type; the upstream still gets it', async () => {
    const gw = gatewayWith({ url: policy.url, method: 'POST', body: { max_bytes: 16 } });
    try {
      policy.reset((_req, res) => res.writeHead(200).end());
      const res = await gw.request({ method: 'PUT', path: '/doc', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      assert.equal(res.status, 200);
      assert.equal(policy.calls[0]!.method, 'POST');
      assert.equal(policy.calls[0]!.body.toString(), '{"a":1}');
      assert.equal(policy.calls[0]!.headers['content-type'], 'application/json');
      assert.equal(res.json<{ body: string }>().body, '{"a":1}');

      policy.reset((_req, res) => res.writeHead(200).end());
      const big = await gw.request({ method: 'PUT', path: '/doc', body: 'x'.repeat(17) });
      assert.equal(big.status, 413);
      assert.equal(big.json<{ type: string }>().type, 'urn:northgate:problem:body-too-large');
      assert.equal(policy.calls.length, 0);
      const chunked = await gw.request({ method: 'PUT', path: '/doc', headers: { 'transfer-encoding': 'chunked' }, body: 'x'.repeat(40) });
      assert.equal(chunked.status, 413);
      assert.equal(policy.calls.length, 0);
    } finally {
      await gw.close();
    }
  });

  test('too_large: omit sends the check without the body, and says so', async () => {
    const gw = gatewayWith({ url: policy.url, method: 'POST', body: { max_bytes: 4, too_large: 'omit' } });
    try {
      policy.reset((_req, res) => res.writeHead(200).end());
      const res = await gw.request({ method: 'POST', body: 'too long' });
      assert.equal(res.status, 200);
      assert.equal(policy.calls[0]!.body.length, 0);
      assert.equal(policy.calls[0]!.headers['x-forwarded-body'], 'omitted');
      assert.equal(res.json<{ body: string }>().body, 'too long');
    } finally {
      await gw.close();
    }
  });
});

describe('forward-auth decision cache', () => {
  let policy: PolicyService;
  before(async () => {
    policy = await new PolicyService().start();
  });
  after(() => policy.close());
  beforeEach(() => policy.reset((req, res) => (req.headers.authorization === 'Bearer good' ? res.writeHead(200, { 'x-user': 'alice' }).end() : res.writeHead(401).end())));

  test('an allow is answered from the cache for the same identity, method and URI only', async () => {
    const gw = gatewayWith({ url: policy.url, headers: ['Authorization'], upstream_headers: ['X-User'], cache: { ttl: '60s' } });
    try {
      const good = { authorization: 'Bearer good' };
      for (let i = 0; i < 3; i++) {
        const res = await gw.request({ path: '/a', headers: good });
        assert.equal(res.status, 200);
        assert.equal(res.json<{ headers: IncomingHttpHeaders }>().headers['x-user'], 'alice');
      }
      assert.equal(policy.calls.length, 1);
      // Another URI, another query, another method, another host: each asks the service.
      await gw.request({ path: '/b', headers: good });
      await gw.request({ path: '/a?admin=1', headers: good });
      await gw.request({ method: 'DELETE', path: '/a', headers: good });
      await gw.request({ path: '/a', headers: { ...good, host: 'other.example' } });
      assert.equal(policy.calls.length, 5);
      // Another identity (or none) never rides on a cached allow.
      assert.equal((await gw.request({ path: '/a', headers: { authorization: 'Bearer evil' } })).status, 401);
      assert.equal((await gw.request({ path: '/a' })).status, 401);
      assert.equal((await gw.request({ path: '/a', headers: { authorization: '' } })).status, 401);
      assert.equal(policy.calls.length, 8);
      // Denials are not cached unless configured.
      assert.equal((await gw.request({ path: '/a' })).status, 401);
      assert.equal(policy.calls.length, 9);
    } finally {
      await gw.close();
    }
  });

  test('a cached allow sets the vouched headers again, over a forged copy', async () => {
    const gw = gatewayWith({ url: policy.url, headers: ['Authorization'], upstream_headers: ['X-User'], cache: { ttl: '60s' } });
    try {
      await gw.request({ headers: { authorization: 'Bearer good' } });
      const res = await gw.request({ headers: { authorization: 'Bearer good', 'x-user': 'root' } });
      assert.equal(policy.calls.length, 1);
      assert.deepEqual(res.json<{ rawHeaders: string[] }>().rawHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'x-user'), ['alice']);
    } finally {
      await gw.close();
    }
  });

  test('denials: true caches 401/403; include_request: false makes one decision per key; no-store is not cached; client_ip keys', async () => {
    const denials = gatewayWith({ url: policy.url, headers: ['Authorization'], cache: { ttl: '60s', denials: true } });
    try {
      assert.equal((await denials.request()).status, 401);
      assert.equal((await denials.request()).status, 401);
      assert.equal(policy.calls.length, 1);
    } finally {
      await denials.close();
    }
    policy.calls.length = 0;
    const wide = gatewayWith({ url: policy.url, headers: ['Authorization'], cache: { ttl: '60s', include_request: false, key: ['Authorization', 'client_ip'] } });
    try {
      await wide.request({ path: '/a', headers: { authorization: 'Bearer good' } });
      await wide.request({ method: 'POST', path: '/b', headers: { authorization: 'Bearer good' } });
      assert.equal(policy.calls.length, 1);
      await wide.request({ path: '/a', headers: { authorization: 'Bearer good' }, clientIp: '198.51.100.1' });
      assert.equal(policy.calls.length, 2);
    } finally {
      await wide.close();
    }
    policy.reset((_req, res) => res.writeHead(200, { 'cache-control': 'no-store' }).end());
    const noStore = gatewayWith({ url: policy.url, cache: { ttl: '60s' } });
    try {
      await noStore.request();
      await noStore.request();
      assert.equal(policy.calls.length, 2);
    } finally {
      await noStore.close();
    }
  });

  test('the cache is bounded by max_entries (least recently used out first)', async () => {
    const gw = gatewayWith({ url: policy.url, headers: ['Authorization'], cache: { ttl: '60s', max_entries: 2 } });
    try {
      const good = { authorization: 'Bearer good' };
      await gw.request({ path: '/1', headers: good });
      await gw.request({ path: '/2', headers: good });
      await gw.request({ path: '/1', headers: good }); // hit: /1 is now the most recent
      await gw.request({ path: '/3', headers: good }); // evicts /2
      assert.equal(policy.calls.length, 3);
      await gw.request({ path: '/1', headers: good });
      assert.equal(policy.calls.length, 3);
      await gw.request({ path: '/2', headers: good });
      assert.equal(policy.calls.length, 4);
    } finally {
      await gw.close();
    }
  });
});

describe('forward-auth against a malformed answer', () => {
  let server: ReturnType<typeof createTcpServer>;
  let url: string;
  let head = '';
  before(async () => {
    server = createTcpServer((socket) => {
      socket.once('data', () => socket.end(head));
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('CR, LF or another control character in a copied value is a malformed answer: 503, nothing injected', async () => {
    const gw = gatewayWith({ url, upstream_headers: ['X-User'], client_headers: ['WWW-Authenticate'], timeout: '500ms' });
    try {
      for (const status of ['200 OK', '401 Unauthorized']) {
        for (const value of ['alice\rX-Admin: true', 'alice\nX-Admin: true', 'alice\r\n X-Admin: true', 'a\u0000b', 'a\u0001b']) {
          const name = status.startsWith('200') ? 'X-User' : 'WWW-Authenticate';
          head = `HTTP/1.1 ${status}\r\n${name}: ${value}\r\nContent-Length: 0\r\n\r\n`;
          const res = await gw.request();
          assert.equal(res.status, 503, `${status} ${JSON.stringify(value)}`);
          assert.equal(res.headers['x-admin'], undefined);
          assert.equal(res.headers['www-authenticate'], undefined);
        }
      }
      assert.equal(gw.received('api').length, 0);
    } finally {
      await gw.close();
    }
  });
});
