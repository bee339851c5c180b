// The OpenAPI features through a real gateway and a real upstream: routes generated from a
// document, `request-validator` (every parameter kind, JSON bodies, bounds, attack inputs),
// response checks in report and enforce mode, and `mock` answers from the document.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { http, ROOT, startGateway, startUpstream, tempDir, type InProcessGateway, type Upstream } from '../helpers/servers.js';
import { statuses } from '../helpers/recording-upstream.js';

const SHOP = join(ROOT, 'test', 'fixtures', 'openapi', 'shop', 'openapi.yaml');
const PETSTORE = join(ROOT, 'test', 'fixtures', 'openapi', 'petstore-3.0.yaml');

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors?: Array<{ pointer: string; message: string }>;
}
const pointers = (body: string): string[] => ((JSON.parse(body) as Problem).errors ?? []).map((e) => e.pointer).sort();

/** One raw connection: bytes written when the test says, everything answered collected. */
class RawClient {
  readonly #socket: Socket;
  text = '';
  closed = false;
  readonly #waiters = new Set<() => void>();
  constructor(port: number) {
    this.#socket = connect(port, '127.0.0.1');
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (c: Buffer) => {
      this.text += c.toString('latin1');
      for (const w of this.#waiters) w();
    });
    this.#socket.on('error', () => undefined);
    this.#socket.on('close', () => {
      this.closed = true;
      for (const w of this.#waiters) w();
    });
  }
  /** Writes, and waits until the kernel took the bytes (so that the next write is a read of its own on a quiet machine). */
  write(bytes: string): Promise<void> {
    return new Promise((resolve) => this.#socket.write(bytes, () => setTimeout(resolve, 20)));
  }
  /** Resolves once the answer so far satisfies `done` (or the connection closed, or `capMs` passed). */
  until(done: (text: string) => boolean, capMs = 5000): Promise<string> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!done(this.text) && !this.closed) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(this.text);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(this.text);
      }, capMs);
      this.#waiters.add(check);
      check();
    });
  }
  destroy(): void {
    this.#socket.destroy();
  }
}
/** Whether a raw answer holds `n` whole final responses (each with a Content-Length). */
const responses = (n: number) => (text: string): boolean => {
  let count = 0;
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) return false;
    const head = text.slice(at, end);
    at = end + 4;
    if (/^HTTP\/1\.1 1\d\d /.test(head)) continue;
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    at += m === null ? 0 : Number(m[1]);
    if (at > text.length) return false;
    if (++count === n) return true;
  }
};

interface Seen {
  kind: string;
  operation: string | null;
  status: number;
  issues: Array<{ pointer: string }>;
}

describe('request-validator', () => {
  let upstream: Upstream;
  let gw: InProcessGateway;
  let upstreamStatus = 200;
  let upstreamBody = '{}';
  let received: Array<{ method: string; url: string; body: string }> = [];
  const violations: Seen[] = [];
  const onViolation = (m: unknown): void => void violations.push(m as Seen);
  before(async () => {
    subscribe('northgate:openapi:violation', onViolation);
    upstream = await startUpstream((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks).toString() });
        res.writeHead(upstreamStatus, { 'content-type': 'application/json' });
        res.end(upstreamBody);
      });
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0" }
services:
  - name: shop
    url: ${upstream.url}
    openapi: { spec: ${JSON.stringify(SHOP)}, routes: true, prefix: /shop }
    plugins:
      request-validator: { max_body_bytes: 2048, max_depth: 16, responses: report }
  - name: strict
    url: ${upstream.url}
    openapi: { spec: ${JSON.stringify(SHOP)}, prefix: /strict }
    plugins:
      request-validator: { responses: enforce }
    routes:
      - paths: ["/strict"]
  - name: pets
    url: ${upstream.url}
    openapi: { spec: ${JSON.stringify(PETSTORE)}, prefix: /pets-open }
    plugins:
      request-validator: { unknown_operations: pass }
    routes:
      - paths: ["/pets-open"]
`);
  });
  after(async () => {
    unsubscribe('northgate:openapi:violation', onViolation);
    await gw.close();
    await upstream.close();
  });
  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    received = [];
    violations.length = 0;
    return http(gw.url, { method, path, headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers, ...(body !== undefined ? { body } : {}) });
  };
  const order = JSON.stringify({ customer: 'ada@example.com', lines: [{ sku: 'A-1', quantity: 2 }], note: null });

  test('a request that matches its operation reaches the upstream unchanged', async () => {
    upstreamBody = JSON.stringify({ id: 1, customer: 'ada@example.com', lines: [], total: 0, status: 'open', created_at: '2026-01-02T03:04:05Z' });
    upstreamStatus = 201;
    const r = await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, order);
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(received, [{ method: 'POST', url: '/shop/orders', body: order }]);
    assert.equal((await send('GET', '/shop/orders?limit=5&status=open')).status, 201);
    assert.equal((await send('GET', '/shop/orders/42')).status, 201);
    assert.equal((await send('GET', '/shop/categories/garden-tools.json')).status, 201);
  });

  test('every error of a request is listed with its JSON pointer, in one 400 problem', async () => {
    const body = JSON.stringify({ id: 9, customer: 'not-an-email', lines: [{ sku: 'a1', quantity: 0 }], extra: true });
    const r = await send('POST', '/shop/orders', {}, body);
    assert.equal(r.status, 400);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    const problem = JSON.parse(r.body) as Problem;
    assert.equal(problem.type, 'urn:northgate:problem:request-invalid');
    assert.deepEqual(pointers(r.body), ['/body/customer', '/body/extra', '/body/id', '/body/lines/0/quantity', '/body/lines/0/sku', '/header/Idempotency-Key']);
    assert.deepEqual(received, [], 'nothing reached the upstream');
    assert.deepEqual(violations.map((v) => [v.kind, v.operation, v.status]), [['request', 'createOrder', 400]]);
  });

  test('query, path, header and cookie parameters', async () => {
    assert.deepEqual(pointers((await send('GET', '/shop/orders?limit=500&status=lost')).body), ['/query/limit', '/query/status']);
    assert.deepEqual(pointers((await send('GET', '/shop/orders?limit=1&limit=2')).body), ['/query/limit'], 'a repeated scalar');
    assert.deepEqual(pointers((await send('GET', '/shop/orders/abc')).body), ['/path/orderId']);
    assert.deepEqual(pointers((await send('GET', '/shop/orders/0')).body), ['/path/orderId']);
    assert.deepEqual(pointers((await send('GET', '/shop/categories/Garden.json')).body), ['/path/slug']);
    const pay = JSON.stringify({ method: 'card', number: '4111111111111111' });
    assert.deepEqual(pointers((await send('POST', '/shop/orders/7/payments', { cookie: 'theme=dark; session=ab' }, pay)).body), ['/cookie/session']);
    assert.equal((await send('POST', '/shop/orders/7/payments', { cookie: 'session=abcd' }, pay)).status, 201);
    assert.deepEqual(pointers((await send('POST', '/shop/orders', { 'idempotency-key': 'short' }, order)).body), ['/header/Idempotency-Key']);
  });

  test('discriminator, nullable, required body', async () => {
    assert.deepEqual(pointers((await send('POST', '/shop/orders/7/payments', {}, JSON.stringify({ method: 'card', number: '12' }))).body), ['/body/number']);
    assert.deepEqual(pointers((await send('POST', '/shop/orders/7/payments', {}, JSON.stringify({ method: 'cash' }))).body), ['/body/method']);
    assert.equal((await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, JSON.stringify({ customer: 'a@b.co', lines: [], note: null }))).status, 201);
    assert.deepEqual(pointers((await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' })).body), ['/body']);
  });

  test('bodies: media type, size (declared and streamed), nesting, JSON, __proto__', async () => {
    const wrongType = await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1', 'content-type': 'text/plain' }, order);
    assert.equal(wrongType.status, 415);
    assert.match(wrongType.body, /takes application\/json/);
    const big = JSON.stringify({ customer: 'a@b.co', lines: [], note: 'x'.repeat(3000) });
    assert.equal((await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, big)).status, 413);
    const chunked = await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1', 'transfer-encoding': 'chunked' }, big);
    assert.equal(chunked.status, 413);
    assert.deepEqual(received, []);
    const deep = '{"customer":"a@b.co","lines":[],"note":' + '['.repeat(40) + ']'.repeat(40) + '}';
    const nested = await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, deep);
    assert.equal(nested.status, 400);
    assert.match(nested.body, /nested deeper than 16 levels/);
    assert.deepEqual(pointers((await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, '{"customer":')).body), ['/body']);
    const proto = await send('POST', '/shop/orders', { 'idempotency-key': 'abcdefgh-1' }, '{"customer":"a@b.co","lines":[],"__proto__":{"polluted":true}}');
    assert.deepEqual(pointers(proto.body), ['/body/__proto__']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  describe('the body as the client sends it', () => {
    const head = (length: number | 'chunked', extra = ''): string =>
      `POST /shop/orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nIdempotency-Key: abcdefgh-1\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n${extra}\r\n`;
    const chunked = (body: string, pieces: number): string => {
      let out = '';
      const size = Math.ceil(body.length / pieces);
      for (let i = 0; i < body.length; i += size) out += `${(Math.min(size, body.length - i)).toString(16)}\r\n${body.slice(i, i + size)}\r\n`;
      return out + '0\r\n\r\n';
    };
    const bad = JSON.stringify({ customer: 'not-an-email', lines: [{ sku: 'a1', quantity: 2 }] });
    const start = (): RawClient => {
      received = [];
      upstreamStatus = 201;
      upstreamBody = '{}';
      return new RawClient(gw.port);
    };

    test('in the same read as the head: checked, and forwarded byte for byte (length-delimited and chunked)', async () => {
      const c = start();
      await c.write(head(order.length) + order + head('chunked') + chunked(order, 3) + head(bad.length) + bad);
      const text = await c.until(responses(3));
      c.destroy();
      assert.deepEqual(statuses(text), [201, 201, 400]);
      assert.match(text, /\/body\/lines\/0\/sku/);
      assert.deepEqual(received, [
        { method: 'POST', url: '/shop/orders', body: order },
        { method: 'POST', url: '/shop/orders', body: order },
      ]);
    });

    test('split over several reads: the same answers', async () => {
      const c = start();
      await c.write(head(order.length) + order.slice(0, 7));
      await c.write(order.slice(7, 30));
      await c.write(order.slice(30));
      await c.until(responses(1));
      await c.write(head(bad.length));
      await c.write(bad.slice(0, 20));
      await c.write(bad.slice(20) + head('chunked') + chunked(order, 2).slice(0, 12));
      await c.write(chunked(order, 2).slice(12));
      const text = await c.until(responses(3));
      c.destroy();
      assert.deepEqual(statuses(text), [201, 400, 201]);
      assert.deepEqual(received.map((r) => r.body), [order, order]);
    });

    test('a chunked body over max_body_bytes, whole in one read or streamed: 413, nothing forwarded', async () => {
      const big = JSON.stringify({ customer: 'a@b.co', lines: [], note: 'x'.repeat(3000) });
      const c = start();
      await c.write(head('chunked') + chunked(big, 2));
      const whole = await c.until(responses(1));
      c.destroy();
      assert.deepEqual(statuses(whole), [413]);
      const d = start();
      await d.write(head('chunked') + chunked(big, 4).slice(0, 900));
      await d.write(chunked(big, 4).slice(900));
      const streamed = await d.until(responses(1));
      d.destroy();
      assert.deepEqual(statuses(streamed), [413]);
      assert.deepEqual(received, []);
    });

    test('Expect: 100-continue: the 100, then the body is read and checked; a body sent without waiting too', async () => {
      const c = start();
      await c.write(head(order.length, 'Expect: 100-continue\r\n'));
      assert.deepEqual(statuses(await c.until((t) => /^HTTP\/1\.1 100 /.test(t))), [100]);
      await c.write(order);
      const text = await c.until(responses(1));
      c.destroy();
      assert.deepEqual(statuses(text), [100, 201]);
      const d = new RawClient(gw.port);
      await d.write(head(bad.length, 'Expect: 100-continue\r\n') + bad);
      const refused = await d.until(responses(1));
      d.destroy();
      assert.equal(statuses(refused).at(-1), 400);
      assert.deepEqual(received.map((r) => r.body), [order]);
    });

    test('a client that goes away in the middle of its body: nothing forwarded, the gateway serves on', async () => {
      const c = start();
      await c.write(head(order.length) + order.slice(0, 25));
      c.destroy();
      const again = new RawClient(gw.port);
      await again.write(head(order.length) + order);
      const text = await again.until(responses(1));
      again.destroy();
      assert.deepEqual(statuses(text), [201]);
      assert.deepEqual(received.map((r) => r.body), [order]);
    });
  });

  test('responses: report counts what breaks the document and changes nothing', async () => {
    upstreamStatus = 200;
    upstreamBody = JSON.stringify({ customer: 42 });
    const r = await send('GET', '/shop/orders/42');
    assert.equal(r.status, 200);
    assert.equal(r.body, upstreamBody);
    assert.deepEqual(violations.map((v) => [v.kind, v.operation, v.status, v.issues.map((i) => i.pointer).sort()]), [['response', 'getOrder', 200, ['/body', '/body/customer']]]);
    upstreamStatus = 500;
    const undescribed = await send('GET', '/shop/orders/42');
    assert.equal(undescribed.status, 500);
    assert.deepEqual(violations.map((v) => [v.kind, v.status, v.issues[0]!.pointer]), [['response', 500, '/status']]);
  });

  test('responses: enforce answers 502 for an undescribed status or media type', async () => {
    upstreamStatus = 500;
    upstreamBody = '{"secret":"stack trace"}';
    const r = await send('GET', '/strict/orders/42');
    assert.equal(r.status, 502);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.match(r.body, /response-invalid/);
    assert.doesNotMatch(r.body, /stack trace/);
    upstreamStatus = 200;
    upstreamBody = JSON.stringify({ customer: 'a@b.co', lines: [] });
    assert.equal((await send('GET', '/strict/orders/42')).status, 200);
  });

  test('an unknown operation: 404 by default, forwarded with unknown_operations: pass', async () => {
    upstreamStatus = 200;
    upstreamBody = '{}';
    const refused = await send('DELETE', '/strict/orders/42');
    assert.equal(refused.status, 404);
    assert.match(refused.body, /operation-not-found/);
    assert.deepEqual(violations.map((v) => [v.kind, v.operation, v.status]), [['unknown-operation', null, 404]]);
    const passed = await send('GET', '/pets-open/owners');
    assert.equal(passed.status, 200);
    assert.equal(received.length, 1);
    assert.deepEqual(violations.map((v) => [v.kind, v.status]), [['unknown-operation', 0]]);
    assert.deepEqual(pointers((await send('GET', '/pets-open/pets?limit=1000')).body), ['/query/limit']);
    assert.equal((await send('HEAD', '/pets-open/pets/7')).status, 200, 'HEAD is checked as the GET operation');
  });
});

describe('mock', () => {
  let gw: InProcessGateway;
  before(async () => {
    // No upstream listens at port 1: every answer below comes from the document.
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0" }
services:
  - name: shop
    url: http://127.0.0.1:1
    openapi: { spec: ${JSON.stringify(SHOP)}, routes: true }
    plugins:
      request-validator: {}
      mock: {}
`);
  });
  after(() => gw.close());
  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => http(gw.url, { method, path, headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers, ...(body !== undefined ? { body } : {}) });
  const order = JSON.stringify({ customer: 'ada@example.com', lines: [] });

  test('the first named example of the first 2xx, or the one Prefer names', async () => {
    const r = await send('POST', '/orders', { 'idempotency-key': 'abcdefgh-1' }, order);
    assert.equal(r.status, 201);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal((JSON.parse(r.body) as { id: number }).id, 7);
    const empty = await send('POST', '/orders', { 'idempotency-key': 'abcdefgh-1', prefer: 'example=empty' }, order);
    assert.equal((JSON.parse(empty.body) as { id: number }).id, 8);
    const listed = await send('GET', '/orders');
    assert.deepEqual((JSON.parse(listed.body) as Array<{ id: number }>).map((o) => o.id), [1], 'the media type example');
  });

  test('generated from the schema when the document has no example', async () => {
    const r = await send('GET', '/orders/5');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(typeof body['customer'], 'string');
    assert.ok(Array.isArray(body['lines']));
    const tree = JSON.parse((await send('GET', '/categories/tools.json')).body) as { slug: string };
    assert.equal(typeof tree.slug, 'string', 'a recursive schema gives a finite sample');
  });

  test('Prefer: code picks the response; an undescribed code or example is a 400', async () => {
    const r = await send('POST', '/orders', { 'idempotency-key': 'abcdefgh-1', prefer: 'code=422' }, order);
    assert.equal(r.status, 422);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal((await send('GET', '/orders/5', { prefer: 'code=404' })).status, 404);
    const unknown = await send('GET', '/orders/5', { prefer: 'code=418' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /describes 200, 404/);
    assert.equal((await send('POST', '/orders', { 'idempotency-key': 'abcdefgh-1', prefer: 'example=nope' }, order)).status, 400);
  });

  test('the request is checked before the mock answers', async () => {
    const r = await send('POST', '/orders', {}, order);
    assert.equal(r.status, 400);
    assert.deepEqual(pointers(r.body), ['/header/Idempotency-Key']);
    assert.equal((await send('POST', '/orders/7/payments', {}, JSON.stringify({ method: 'card', number: '4111111111111111' }))).status, 202);
  });
});

describe('mock: HEAD, and answers without a body', () => {
  let gw: InProcessGateway;
  before(async () => {
    const spec = join(tempDir(), 'no-content.yaml');
    writeFileSync(spec, `openapi: 3.0.3
info: { title: t, version: "1" }
paths:
  /items/{id}:
    delete:
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      responses: { "204": { description: gone } }
    get:
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      responses:
        "200":
          description: one item
          content: { application/json: { example: { id: x, name: spanner } } }
  /empty:
    get:
      responses: { "200": { description: no content described } }
`);
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0" }
services:
  - name: items
    url: http://127.0.0.1:1
    openapi: { spec: ${JSON.stringify(spec)} }
    plugins: { mock: {} }
    routes: [{ paths: ["/"] }]
`);
  });
  after(() => gw.close());

  test('HEAD gets the GET answer\'s head (its Content-Length) without a body; answers are reused', async () => {
    const get = await http(gw.url, { path: '/items/a' });
    assert.equal(get.body, '{"id":"x","name":"spanner"}');
    const head = await http(gw.url, { method: 'HEAD', path: '/items/a' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String(get.body.length));
    assert.equal(head.headers['cache-control'], 'no-store');
    assert.equal(head.headers['content-type'], 'application/json');
    const again = await http(gw.url, { path: '/items/b', headers: { accept: 'application/json' } });
    assert.equal(again.body, get.body);
    const ids = new Set((await Promise.all(Array.from({ length: 5 }, () => http(gw.url, { path: '/items/a' })))).map((r) => r.headers['x-request-id']));
    assert.equal(ids.size, 5, 'a request id of its own on each reused answer');
  });

  test('204 carries no Content-Length (RFC 9110 8.6); a 200 without content has length 0', async () => {
    const gone = await http(gw.url, { method: 'DELETE', path: '/items/a' });
    assert.equal(gone.status, 204);
    assert.equal(gone.headers['content-length'], undefined);
    assert.equal(gone.headers['cache-control'], 'no-store');
    const empty = await http(gw.url, { path: '/empty' });
    assert.equal(empty.status, 200);
    assert.equal(empty.headers['content-length'], '0');
    assert.equal(empty.headers['content-type'], undefined);
    // The connection stays usable after both.
    assert.equal((await http(gw.url, { method: 'DELETE', path: '/items/b' })).status, 204);
  });
});
