// Which operation a request is: concrete paths before templates, more literal text first,
// HEAD as GET, the gateway prefix; whole-segment parameters matched without a regex and
// parameters inside a segment on RE2; what a client sends in a path never throws.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contractOf } from '../../src/openapi/operations.js';
import type { OpenApiContract } from '../../src/sdk/openapi.js';
import { OperationIndex } from '../../src/plugins/openapi/operation-index.js';
import { firstHeader, hasEitherHeader, joinedHeader } from '../../src/base/raw-headers.js';

const ok = { responses: { '200': { description: 'ok' } } };

function index(paths: Record<string, Record<string, unknown>>, prefix = ''): OperationIndex {
  const doc = { openapi: '3.0.3', info: { title: 't', version: '1' }, paths };
  const c = contractOf(doc, 'doc.yaml', prefix);
  assert.equal(typeof c, 'object', String(c));
  return new OperationIndex(c as OpenApiContract);
}

const which = (ix: OperationIndex, method: string, path: string) => {
  const m = ix.match(method, path);
  return m === null ? null : { op: `${m.operation.method} ${m.operation.path}`, params: { ...m.params } };
};

test('concrete before templated, more literal text first, HEAD as GET', () => {
  const ix = index({
    '/orders/{id}': { get: { operationId: 'getOrder', ...ok }, delete: ok },
    '/orders/latest': { get: ok },
    '/orders/{id}/lines/{line}': { get: ok },
    '/{kind}/{id}/lines/{line}': { get: ok },
  });
  assert.deepEqual(which(ix, 'GET', '/orders/latest'), { op: 'GET /orders/latest', params: {} });
  assert.deepEqual(which(ix, 'GET', '/orders/7'), { op: 'GET /orders/{id}', params: { id: '7' } });
  assert.deepEqual(which(ix, 'HEAD', '/orders/7'), { op: 'GET /orders/{id}', params: { id: '7' } });
  assert.deepEqual(which(ix, 'DELETE', '/orders/latest'), { op: 'DELETE /orders/{id}', params: { id: 'latest' } }, 'the concrete path has no DELETE');
  assert.deepEqual(which(ix, 'GET', '/orders/7/lines/2'), { op: 'GET /orders/{id}/lines/{line}', params: { id: '7', line: '2' } });
  assert.deepEqual(which(ix, 'GET', '/carts/7/lines/2'), { op: 'GET /{kind}/{id}/lines/{line}', params: { kind: 'carts', id: '7', line: '2' } });
  assert.equal(which(ix, 'POST', '/orders/7'), null);
  assert.equal(ix.match('GET', '/orders/7')!.index, 0, 'the position among the operations');
});

test('a parameter is never empty nor spans segments', () => {
  const ix = index({ '/orders/{id}': { get: ok }, '/a/{x}/b': { get: ok } });
  assert.equal(which(ix, 'GET', '/orders/'), null);
  assert.equal(which(ix, 'GET', '/orders'), null);
  assert.equal(which(ix, 'GET', '/orders/7/'), null);
  assert.equal(which(ix, 'GET', '/orders/7/8'), null);
  assert.equal(which(ix, 'GET', '/a//b'), null);
  assert.equal(which(ix, 'GET', '/a/1/2/b'), null);
  assert.deepEqual(which(ix, 'GET', '/a/%2F/b'), { op: 'GET /a/{x}/b', params: { x: '/' } }, 'decoded after matching');
});

test('parameters inside a segment (RE2), literal text with regex characters', () => {
  const ix = index({ '/files/{name}.{ext}': { get: ok }, '/v1.0/items(all)': { get: ok }, '/v1.0/{what}': { get: ok } });
  assert.deepEqual(which(ix, 'GET', '/files/report.pdf'), { op: 'GET /files/{name}.{ext}', params: { name: 'report', ext: 'pdf' } });
  assert.equal(which(ix, 'GET', '/files/report'), null);
  assert.deepEqual(which(ix, 'GET', '/v1.0/items(all)'), { op: 'GET /v1.0/items(all)', params: {} });
  assert.deepEqual(which(ix, 'GET', '/v1x0/x'), null, 'a dot is a dot');
  assert.deepEqual(which(ix, 'GET', '/v1.0/x'), { op: 'GET /v1.0/{what}', params: { what: 'x' } });
});

test('attack inputs: bad percent-encoding, prototype names, the prefix boundary', () => {
  const ix = index({ '/orders/{id}': { get: ok }, '/': { get: ok } }, '/api');
  assert.equal(which(ix, 'GET', '/api/orders/%E0%A4%A'), null, 'invalid percent-encoding matches nothing (no throw)');
  assert.equal(which(ix, 'GET', '/api/orders/%'), null);
  const proto = ix.match('GET', '/api/orders/__proto__')!;
  assert.equal(proto.params['id'], '__proto__');
  assert.equal(Object.getPrototypeOf(proto.params), null);
  assert.equal(which(ix, 'GET', '/apiorders/7'), null, 'the prefix ends at a segment');
  assert.equal(which(ix, 'GET', '/orders/7'), null);
  assert.deepEqual(which(ix, 'GET', '/api'), { op: 'GET /', params: {} });
  assert.deepEqual(which(ix, 'GET', '/api/orders/a%20b'), { op: 'GET /orders/{id}', params: { id: 'a b' } });
  const long = '/api/orders/' + 'x'.repeat(100_000);
  assert.equal(ix.match('GET', long)!.params['id']!.length, 100_000);
  assert.equal(which(ix, 'GET', '/api/orders' + '/x'.repeat(10_000)), null);
});

test('find: the operation without its parameters, in place (prefix, segments, percent-encoding); paramsOf: its parameters', () => {
  const ix = index({ '/orders/{id}': { get: ok }, '/orders/latest': { get: ok }, '/files/{name}.{ext}': { get: ok }, '/a/{x}/b/{y}': { get: ok }, '/': { get: ok } }, '/api');
  const op = (path: string): string | null => {
    const at = ix.find('GET', path);
    return at < 0 ? null : ix.match('GET', path)!.operation.path;
  };
  const expected: Record<string, string | null> = {
    '/api': '/',
    '/api/': '/',
    '/api/orders/latest': '/orders/latest',
    '/api/orders/7': '/orders/{id}',
    '/api/orders/%zz': null,
    '/api/orders/7/': null,
    '/api/orders//': null,
    '/api/orders/': null,
    '/api/files/a.pdf': '/files/{name}.{ext}',
    '/api/files/%E0.pdf': null,
    '/api/a/1/b/2': '/a/{x}/b/{y}',
    '/api/a/1/b/': null,
    '/api/a//b/2': null,
    '/api/a/1/c/2': null,
    '/apix/orders/7': null,
    '/orders/7': null,
  };
  for (const [path, want] of Object.entries(expected)) assert.equal(op(path), want, path);
  assert.equal(ix.find('HEAD', '/api/orders/7'), ix.find('GET', '/api/orders/7'), 'HEAD as GET');
  assert.equal(ix.find('POST', '/api/orders/7'), -1);
  assert.deepEqual({ ...ix.paramsOf(ix.find('GET', '/api/a/%2F/b/%20'), '/api/a/%2F/b/%20') }, { x: '/', y: ' ' });
  assert.deepEqual({ ...ix.paramsOf(ix.find('GET', '/api/files/a.pdf'), '/api/files/a.pdf') }, { name: 'a', ext: 'pdf' });
  assert.deepEqual({ ...ix.paramsOf(ix.find('GET', '/api/orders/latest'), '/api/orders/latest') }, {});
});

test('headers from the raw list: first value, or every value joined', () => {
  const raw = ['Host', 'h', 'Content-Type', 'application/json', 'accept', 'text/html', 'ACCEPT', 'application/json', 'content-type', 'text/plain'];
  assert.equal(firstHeader(raw, 'content-type'), 'application/json');
  assert.equal(joinedHeader(raw, 'accept'), 'text/html, application/json');
  assert.equal(joinedHeader(raw, 'prefer'), undefined);
  assert.equal(firstHeader(raw, 'accep'), undefined);
  assert.equal(hasEitherHeader(raw, 'accept', 'prefer'), true);
  assert.equal(hasEitherHeader(['Host', 'h', 'PREFER', 'code=404'], 'accept', 'prefer'), true);
  assert.equal(hasEitherHeader(['Host', 'h', 'Accept-Encoding', 'gzip', 'x-prefer', '1'], 'accept', 'prefer'), false);
});

test('schema patterns (RE2): each its own, on short, long and non-ASCII values', () => {
  const doc = {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/x': {
        post: {
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { sku: { type: 'string', pattern: '^[A-Z]+-[0-9]+$' }, city: { type: 'string', pattern: '^\\p{L}+$' }, tail: { type: 'string', pattern: 'z$' } },
                  patternProperties: { '^x-': { type: 'integer' } },
                },
              },
            },
          },
          responses: { '204': { description: 'ok' } },
        },
      },
    },
  };
  const c = contractOf(doc, 'doc.yaml', '') as OpenApiContract;
  const check = c.operations[0]!.validators.body.get('application/json')!;
  const bad = (v: unknown) => (check(v) ?? []).map((i) => i.pointer).sort();
  assert.deepEqual(bad({ sku: 'A-1', city: 'Zürich', tail: 'buzz' }), []);
  assert.deepEqual(bad({ sku: 'Zürich', city: 'A-1', tail: 'zz ' }), ['/city', '/sku', '/tail'], 'no pattern stands in for another');
  assert.deepEqual(bad({ city: 'Ωμέγα', tail: 'y'.repeat(5000) + 'z' }), [], 'longer than the reused buffer');
  assert.deepEqual(bad({ city: 'ab\uD800', tail: 'y'.repeat(5000) }), ['/city', '/tail'], 'a lone surrogate is no letter');
  assert.deepEqual(bad({ 'x-n': 'seven', 'x-m': 7 }), ['/x-n']);
});
