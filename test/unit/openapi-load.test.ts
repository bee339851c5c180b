// Reading OpenAPI documents: the vendored real-world ones, every $ref resolved into one
// bundle; and what a hostile or broken document cannot do (read files outside its folder,
// fetch URLs, loop, nest without end, bring a backtracking pattern), each refused with the
// file, line and column of its cause.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadSpec } from '../../src/openapi/load.js';
import { contractOf } from '../../src/openapi/operations.js';
import type { BundledSpec, SpecProblem } from '../../src/openapi/bundle.js';
import type { OpenApiContract } from '../../src/sdk/openapi.js';
import { ROOT, tempDir } from '../helpers/servers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'openapi');

function bundled(file: string): BundledSpec {
  const r = loadSpec(file);
  assert.ok(!Array.isArray(r), `expected a document, got ${JSON.stringify(r)}`);
  return r;
}
function problems(file: string): SpecProblem[] {
  const r = loadSpec(file);
  assert.ok(Array.isArray(r), 'expected problems');
  return r;
}
function contract(file: string): OpenApiContract {
  const c = contractOf(bundled(file).document, file, '');
  assert.equal(typeof c, 'object', String(c));
  return c as OpenApiContract;
}
/** A folder with these files (relative path → text). */
function folder(files: Record<string, string>): string {
  const dir = tempDir('northgate-openapi-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
const HEAD = 'openapi: 3.0.3\ninfo: { title: T, version: "1" }\n';

describe('OpenAPI documents from the OpenAPI Initiative and a multi-file one', () => {
  test('Petstore 3.0: three operations, their parameters and schemas', () => {
    const c = contract(join(FIXTURES, 'petstore-3.0.yaml'));
    assert.equal(c.version, '3.0');
    assert.deepEqual(c.operations.map((o) => `${o.method} ${o.path} ${o.label}`), ['GET /pets listPets', 'POST /pets createPets', 'GET /pets/{petId} showPetById']);
    const list = c.operations[0]!;
    assert.equal(list.validators.parameters[0]!('7'), null);
    assert.deepEqual(list.validators.parameters[0]!('101'), [{ pointer: '', message: 'must be <= 100' }]);
    const create = c.operations[1]!.validators.body.get('application/json')!;
    assert.equal(create({ id: 1, name: 'Rex' }), null);
    assert.deepEqual(create({ id: "x" })!.map((i) => i.pointer), ['', '/id']);
  });

  test('Tic Tac Toe 3.1: path-level parameters by $ref, the 2020-12 dialect', () => {
    const c = contract(join(FIXTURES, 'tictactoe-3.1.yaml'));
    assert.equal(c.version, '3.1');
    const put = c.operations.find((o) => o.label === 'put-square')!;
    assert.deepEqual(put.parameters.map((p) => p['name']), ['row', 'column']);
    assert.equal(put.validators.parameters[0]!('3'), null);
    assert.equal(put.validators.parameters[0]!('4')!.length, 1);
    assert.equal(put.validators.body.get('application/json')!('X'), null);
    assert.equal(put.validators.body.get('application/json')!('Z')!.length, 1);
  });

  test('a document split over files: cross-file $refs, recursion, nullable, readOnly, discriminator', () => {
    const file = join(FIXTURES, 'shop', 'openapi.yaml');
    const b = bundled(file);
    assert.equal(b.files.length, 6, 'the root and the five component files');
    assert.ok(!JSON.stringify(b.document).includes('.yaml#'), 'every $ref left is local');
    const c = contract(file);
    const create = c.operations.find((o) => o.label === 'createOrder')!.validators.body.get('application/json')!;
    assert.equal(create({ customer: 'ada@example.com', lines: [{ sku: 'A-1', quantity: 1 }], note: null }), null, 'nullable');
    assert.deepEqual(create({ id: 3, customer: 'ada@example.com', lines: [] }), [{ pointer: '/id', message: 'is read-only: a request must not send it' }]);
    const get = c.operations.find((o) => o.label === 'getOrder')!.validators.responses.get('200')!.get('application/json')!;
    assert.equal(get({ id: 3, customer: 'ada@example.com', lines: [], total: 3, status: 'paid' }), null, 'read-only properties are returned');
    const pay = c.operations.find((o) => o.label === 'payOrder')!.validators.body.get('application/json')!;
    assert.equal(pay({ method: 'transfer', iban: 'DE89370400440532013000' }), null);
    assert.deepEqual(pay({ method: 'card', number: '12' }), [{ pointer: '/number', message: 'must match pattern "^[0-9]{12,19}$"' }], 'the discriminator picks the branch');
    const category = c.operations.find((o) => o.label === 'getCategory')!.validators.responses.get('200')!.get('application/json')!;
    assert.deepEqual(category({ slug: 'a', children: [{ slug: 'b', children: [{}] }] }), [{ pointer: '/children/0/children/0', message: "must have required property 'slug'" }]);
  });

  test('a bundle is reused while its files are unchanged, and read again after a change', () => {
    const dir = folder({ 'api.yaml': `${HEAD}paths: {}\n` });
    const first = bundled(join(dir, 'api.yaml'));
    assert.equal(bundled(join(dir, 'api.yaml')), first);
    writeFileSync(join(dir, 'api.yaml'), `${HEAD}paths:\n  /x: { get: { responses: { "200": { description: ok } } } }\n`);
    assert.notEqual(bundled(join(dir, 'api.yaml')), first);
  });
});

describe('OpenAPI documents that are refused, at FILE:LINE:COL', () => {
  test('a $ref to a file outside the document folder: /etc/passwd, ../, a symlink', () => {
    const dir = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { $ref: '/etc/passwd#/x' }\n` });
    const [p] = problems(join(dir, 'api.yaml'));
    assert.equal(`${p!.line}:${p!.col}`, '6:16');
    assert.match(p!.message, /outside the document's folder/);
    const up = folder({ 'api/api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { $ref: '../../../../../../etc/passwd' }\n` });
    assert.match(problems(join(up, 'api', 'api.yaml'))[0]!.message, /outside the document's folder/);
    const linked = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { $ref: './shadow.yaml' }\n` });
    symlinkSync('/etc/passwd', join(linked, 'shadow.yaml'));
    assert.match(problems(join(linked, 'api.yaml'))[0]!.message, /outside the document's folder/);
  });

  test('a $ref to a URL is refused, not fetched', () => {
    for (const url of ['http://127.0.0.1:1/x.yaml', 'https://example.com/a.json#/A', 'file:///etc/passwd', '//example.com/a']) {
      const dir = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A:\n      $ref: '${url}'\n` });
      const [p] = problems(join(dir, 'api.yaml'));
      assert.equal(p!.line, 7, url);
      assert.match(p!.message, /not URLs/, url);
    }
  });

  test('a pointer that names nothing, a missing file', () => {
    const dir = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { $ref: '#/components/schemas/B' }\n    C: { $ref: './gone.yaml' }\n` });
    const [p] = problems(join(dir, 'api.yaml'));
    assert.equal(`${p!.line}:${p!.col}`, '6:16');
    assert.match(p!.message, /"\/components\/schemas\/B" does not exist/);
    const gone = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    C: { $ref: './gone.yaml' }\n` });
    assert.match(problems(join(gone, 'api.yaml'))[0]!.message, /file not found/);
  });

  test('documents that refer to themselves in a loop load, and their schemas compile', () => {
    const dir = folder({
      'api.yaml': `${HEAD}paths:\n  /a:\n    post:\n      requestBody: { content: { application/json: { schema: { $ref: './b.yaml#/B' } } } }\n      responses: { "200": { description: ok } }\ncomponents:\n  schemas:\n    Self: { $ref: '#/components/schemas/Self' }\n    Node: { type: object, properties: { next: { $ref: '#/components/schemas/Node' } } }\n`,
      'b.yaml': `B: { type: object, properties: { a: { $ref: './api.yaml#/components/schemas/Node' }, b: { $ref: '#/B' } } }\n`,
    });
    const c = contract(join(dir, 'api.yaml'));
    const check = c.operations[0]!.validators.body.get('application/json')!;
    assert.equal(check({ a: { next: { next: {} } }, b: { b: {} } }), null);
    assert.equal(check({ b: { b: 3 } })![0]!.pointer, '/b/b');
  });

  test('a pattern RE2 cannot run is refused; one that backtracks elsewhere runs in linear time', () => {
    const dir = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { type: string, pattern: '^(?=x)x$' }\n` });
    const [p] = problems(join(dir, 'api.yaml'));
    assert.equal(p!.line, 6);
    assert.match(p!.message, /lookahead/);
    const redos = folder({ 'api.yaml': `${HEAD}paths:\n  /a:\n    post:\n      requestBody: { content: { application/json: { schema: { type: string, pattern: '^(a+)+$' } } } }\n      responses: { "200": { description: ok } }\n` });
    const check = contract(join(redos, 'api.yaml')).operations[0]!.validators.body.get('application/json')!;
    // On a backtracking engine this input takes longer than the age of the universe.
    assert.equal(check('a'.repeat(50_000) + '!')!.length, 1);
    // Without a group but with adjacent overlapping repeats: cubic on a backtracking engine, so RE2 too.
    const poly = folder({ 'api.yaml': `${HEAD}paths:\n  /a:\n    post:\n      requestBody: { content: { application/json: { schema: { type: string, pattern: '^[0-9]*[0-9]*[0-9]*x$' } } } }\n      responses: { "200": { description: ok } }\n` });
    const polyCheck = contract(join(poly, 'api.yaml')).operations[0]!.validators.body.get('application/json')!;
    assert.equal(polyCheck('1'.repeat(50_000) + '!')!.length, 1);
    assert.equal(polyCheck('123x'), null);
    // A pattern proven linear (a RegExp) checks as the schema says, code points included.
    const linear = folder({ 'api.yaml': `${HEAD}paths:\n  /a:\n    post:\n      requestBody: { content: { application/json: { schema: { type: string, pattern: '^[A-Z]+-[0-9]+$' } } } }\n      responses: { "200": { description: ok } }\n` });
    const linearCheck = contract(join(linear, 'api.yaml')).operations[0]!.validators.body.get('application/json')!;
    assert.equal(linearCheck('AB-12'), null);
    for (const bad of ['ab-12', 'AB-', 'AB-12\n', 'É-1', 'A'.repeat(50_000) + '!']) assert.equal(linearCheck(bad)!.length, 1, bad.slice(0, 10));
    const data = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { type: object, example: { pattern: '(?=x)' } }\n` });
    bundled(join(data, 'api.yaml'));
  });

  test('nesting deeper than the bound, an alias bomb, a file too large, not OpenAPI', () => {
    const deep = folder({ 'api.yaml': `${HEAD}paths: {}\nx-deep: ${'['.repeat(200)}${']'.repeat(200)}\n` });
    assert.match(problems(join(deep, 'api.yaml'))[0]!.message, /nested deeper than 128/);
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`);
    const aliases = folder({ 'api.yaml': `${HEAD}paths: {}\nx-bomb:\n${bomb.map((l) => '  ' + l).join('\n')}\n` });
    assert.match(problems(join(aliases, 'api.yaml'))[0]!.message, /alias/i);
    const big = folder({ 'api.yaml': `${HEAD}paths: {}\nx-big: "${'x'.repeat(5 * 1024 * 1024)}"\n` });
    assert.match(problems(join(big, 'api.yaml'))[0]!.message, /larger than 5242880 bytes/);
    const swagger = folder({ 'api.yaml': 'swagger: "2.0"\ninfo: { title: T, version: "1" }\npaths: {}\n' });
    assert.match(problems(join(swagger, 'api.yaml'))[0]!.message, /Swagger 2\.0 is not supported/);
    const broken = folder({ 'api.yaml': `${HEAD}paths: {\n` });
    const [p] = problems(join(broken, 'api.yaml'));
    assert.match(p!.message, /not valid YAML/);
    assert.equal(p!.line, 4);
  });

  test('a __proto__ key in the document stays data', () => {
    const dir = folder({ 'api.yaml': `${HEAD}paths: {}\ncomponents:\n  schemas:\n    __proto__: { type: object, properties: { polluted: { type: string } } }\n` });
    const b = bundled(join(dir, 'api.yaml'));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.ok(Object.hasOwn((b.document['components'] as { schemas: object }).schemas, '__proto__'));
  });
});
