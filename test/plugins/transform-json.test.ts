// The `transform` plugin's JSON body edits, on requests and responses.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { applyEdits, parseJsonPath } from '../../src/plugins/transform/json-path.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'j.yaml');
const edits = (remove: string[], rename: Array<[string, string]>, set: Array<[string, unknown]>) => ({
  remove: remove.map((p) => parseJsonPath(p) as Array<string | number>),
  rename: rename.map(([a, b]) => [parseJsonPath(a) as Array<string | number>, parseJsonPath(b) as Array<string | number>] as const),
  set: set.map(([p, v]) => [parseJsonPath(p) as Array<string | number>, v] as const),
});

describe('JSON paths and edits', () => {
  test('path syntax: names, dots, indexes, quoted names; errors say why', () => {
    assert.deepEqual(parseJsonPath('a.b[0].c'), ['a', 'b', 0, 'c']);
    assert.deepEqual(parseJsonPath('["x.y"].z[2][1]'), ['x.y', 'z', 2, 1]);
    assert.deepEqual(parseJsonPath('[3]'), [3]);
    for (const bad of ['', 'a..b', 'a.', '.a', 'a[x]', 'a[0', 'a]b', 'a[0]b']) assert.equal(typeof parseJsonPath(bad), 'string', bad);
  });

  test('remove → rename → set; missing parents are created for names, never past an array end', () => {
    const doc = { user: { name: 'a', secret: 's', tags: ['x', 'y', 'z'] }, old: 1 };
    applyEdits(doc, edits(['user.secret', 'user.tags[1]', 'nope.deeper'], [['old', 'meta.legacy']], [['user.tags[2]', 'w'], ['user.tags[9]', 'no'], ['a.b.c', { n: 1 }], ['__proto__', { polluted: true }]]));
    assert.deepEqual(JSON.parse(JSON.stringify(doc)), JSON.parse('{"user":{"name":"a","tags":["x","z","w"]},"meta":{"legacy":1},"a":{"b":{"c":{"n":1}}},"__proto__":{"polluted":true}}'));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
    const arr = [1, 2];
    applyEdits(arr, edits([], [], [['[0]', 9], ['x', 1]]));
    assert.deepEqual(arr, [9, 2]);
  });

  test('config: bad paths are located; an empty json block is allowed', () => {
    const lines = problemsOf(routeWithPlugin('transform', '{ request: { json: { remove: ["a..b"], rename: { "x[": "y" } } }, response: { json: { set: { "a]": 1 } } } }'));
    assert.ok(lines.some((l) => /^j\.yaml:8:\d+ .*plugins\.transform\.request\.json\.remove\[0\]: "a\.\.b": an empty name/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /transform\.request\.json\.rename\["x\["\]: "x\[": "\[" at 1 is not closed/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /transform\.response\.json\.set\["a\]"\]/.test(l)), lines.join('\n'));
    assert.deepEqual(problemsOf(routeWithPlugin('transform', '{ max_body: 1024, response: { json: { set: { "v": [1, { a: null }] } } } }')), []);
  });
});

const LARGE = JSON.stringify({ secret: 's', pad: 'x'.repeat(3000) });

describe('JSON body edits through the gateway', () => {
  let gw: TestGateway;
  const seen: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
  before(async () => {
    const up = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        const path = req.url!;
        let body = '{"id":1,"secret":"s","user":{"first":"Ann"}}';
        let type = 'application/json; charset=utf-8';
        if (path.endsWith('/large')) body = LARGE;
        if (path.endsWith('/invalid')) body = '{"secret": "s",';
        if (path.endsWith('/text')) type = 'text/plain';
        if (path.endsWith('/problem')) type = 'application/problem+json';
        if (path.endsWith('/chunked-large')) {
          res.writeHead(200, { 'content-type': type });
          res.write(LARGE.slice(0, 1000));
          return res.end(LARGE.slice(1000));
        }
        res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), etag: '"r1"' });
        res.end(body);
      });
    });
    const plugin = `{ max_body: 2048, request: { json: { remove: [password], rename: { user: account }, set: { "meta.source": gateway } } }, response: { json: { remove: [secret], rename: { "user.first": "user.given_name" }, set: { "v": 2 } } } }`;
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://up"
    routes:
      - paths: ["/gz"]
        plugins: { transform: ${plugin}, compression: { min_size: 0 } }
      - paths: ["/"]
        plugins: { transform: ${plugin} }
`, upstreams: { up } });
  });
  after(async () => {
    await gw.close();
  });

  const post = async (path: string, body: string, type = 'application/json', extra: Record<string, string> = {}) => {
    seen.length = 0;
    const r = await gw.request({ path, method: 'POST', body, headers: { 'content-type': type, ...extra } });
    return { r, upstream: seen[0]! };
  };

  /** A chunked request body (no Content-Length), written in two pieces. */
  const postChunked = (path: string, body: string): Promise<{ status: number; upstream: (typeof seen)[number] }> =>
    new Promise((resolve, reject) => {
      seen.length = 0;
      const headers = { host: 'localhost', 'content-type': 'application/json', 'transfer-encoding': 'chunked' };
      const req = httpRequest({ path, method: 'POST', headers, createConnection: () => gw.connect() as Socket }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, upstream: seen[0]! }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 5));
      req.end(body.slice(5));
    });

  test('a JSON request body is edited and forwarded with a corrected Content-Length', async () => {
    const { r, upstream } = await post('/x', '{"password":"p","user":"ann","keep":[1,2]}');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(upstream.body), { account: 'ann', keep: [1, 2], meta: { source: 'gateway' } });
    assert.equal(upstream.headers['content-length'], String(Buffer.byteLength(upstream.body)));
    const vnd = await post('/x', '{"password":"p"}', 'application/vnd.api+json; charset=utf-8');
    assert.deepEqual(JSON.parse(vnd.upstream.body), { meta: { source: 'gateway' } });
  });

  test('a chunked JSON body under max_body is edited and sent with a Content-Length', async () => {
    const { status, upstream } = await postChunked('/x', '{"password":"p","user":"ann"}');
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(upstream.body), { account: 'ann', meta: { source: 'gateway' } });
    assert.equal(upstream.headers['content-length'], String(Buffer.byteLength(upstream.body)));
    assert.equal(upstream.headers['transfer-encoding'], undefined);
  });

  test('bodies over max_body (declared or chunked), non-JSON and invalid JSON pass through untouched', async () => {
    const big = JSON.stringify({ password: 'p', pad: 'y'.repeat(3000) });
    assert.equal((await post('/x', big)).upstream.body, big);
    const chunked = await postChunked('/x', big);
    assert.equal(chunked.status, 200);
    assert.equal(chunked.upstream.body, big, 'read up to max_body, then put back and streamed');
    assert.equal((await post('/x', '{"password":"p"}', 'text/plain')).upstream.body, '{"password":"p"}');
    const invalid = await post('/x', '{"password": "p",');
    assert.equal(invalid.r.status, 200);
    assert.equal(invalid.upstream.body, '{"password": "p",');
    assert.equal(invalid.upstream.headers['content-length'], '17');
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await post('/deep', deep, 'application/json');
    assert.equal(r.r.status, 200, 'a body over max_body is never parsed');
  });

  test('a JSON response is edited; ETag weakened; Content-Length dropped', async () => {
    const r = await gw.request({ path: '/doc' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { id: 1, user: { given_name: 'Ann' }, v: 2 });
    assert.equal(r.headers['etag'], 'W/"r1"');
    assert.equal(r.headers['content-length'], undefined);
    assert.deepEqual(JSON.parse((await gw.request({ path: '/problem' })).body), { id: 1, user: { given_name: 'Ann' }, v: 2 }, '+json types too');
  });

  test('responses over max_body (declared or chunked), non-JSON and invalid JSON are untouched', async () => {
    const declared = await gw.request({ path: '/large' });
    assert.equal(declared.body, LARGE);
    assert.equal(declared.headers['content-length'], String(LARGE.length));
    assert.equal((await gw.request({ path: '/chunked-large' })).body, LARGE);
    assert.equal((await gw.request({ path: '/text' })).body, '{"id":1,"secret":"s","user":{"first":"Ann"}}');
    assert.equal((await gw.request({ path: '/invalid' })).body, '{"secret": "s",');
  });

  test('with compression on the route, the client decompresses the edited body', async () => {
    const r = await gw.request({ path: '/gz/doc', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.deepEqual(JSON.parse(gunzipSync(r.bytes).toString()), { id: 1, user: { given_name: 'Ann' }, v: 2 });
  });
});
