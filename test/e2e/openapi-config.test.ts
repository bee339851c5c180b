// `services[].openapi` in the config and `northgate openapi import`: routes generated at
// load and on reload, problems located in the config and in the document, the CLI's
// written and merged configs (validated before writing).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { http, ROOT, runCli, startEchoUpstream, startGateway, tempDir } from '../helpers/servers.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'openapi');
const PETSTORE = join(FIXTURES, 'petstore-3.0.yaml');
const HEAD = 'openapi: 3.0.3\ninfo: { title: T, version: "1" }\n';

function service(openapi: string, extra = ''): string {
  return `_format_version: "1"
services:
  - name: pets
    url: "http://127.0.0.1:1"
    openapi: ${openapi}
${extra}`;
}

describe('services[].openapi', () => {
  test('problems: the document\'s own at its FILE:LINE:COL, after the config position', () => {
    const dir = tempDir('northgate-openapi-');
    writeFileSync(join(dir, 'api.yaml'), `${HEAD}paths: {}\ncomponents:\n  schemas:\n    A: { $ref: 'https://example.com/a.yaml' }\n`);
    const lines = configProblems(service(`{ spec: ${JSON.stringify(join(dir, 'api.yaml'))} }`), 'g.yaml');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^g\\.yaml:5:\\d+ services\\[0\\]\\.openapi\\.spec: ${join(dir, 'api.yaml').replace(/[/.]/g, '\\$&')}:6:16: \\$ref "https://example.com/a.yaml": only files next to the document`));
    assert.match(configProblems(service('{ spec: ./nowhere.yaml }'), join(dir, 'g.yaml'))[0]!, /services\[0\]\.openapi\.spec: .*nowhere\.yaml:1:1: file not found/);
    assert.match(configProblems(service('{ spec: x.yaml, prefix: /a/ }'), 'g.yaml')[0]!, /openapi\.prefix: must be a path prefix/);
    assert.match(configProblems(service('{ spec: x.yaml, route: true }'), 'g.yaml')[0]!, /openapi/);
  });

  test('a plugin that needs the document, on a service without one', () => {
    const lines = configProblems(`_format_version: "1"
services:
  - name: plain
    url: "http://127.0.0.1:1"
    plugins: { mock: {} }
    routes:
      - paths: ["/"]
        plugins: { request-validator: { max_depth: 3 } }
`, 'g.yaml');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^g\.yaml:5:\d+ services\[0\]\.plugins\.mock: plugin "mock" works from the service's OpenAPI document/);
    assert.match(lines[1]!, /^g\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.request-validator: /);
    assert.deepEqual(configProblems(`_format_version: "1"\nplugins: { request-validator: {} }\nservices:\n  - name: plain\n    url: "http://127.0.0.1:1"\n    routes: [{ paths: ["/"] }]\n`, 'g.yaml'), [], 'a global instance checks the services that have a document');
  });

  test('generated routes that clash with written ones are reported at the service\'s openapi', () => {
    const lines = configProblems(service(`{ spec: ${JSON.stringify(PETSTORE)}, routes: true }`, '    routes:\n      - { name: listPets, paths: ["/other"] }\n      - { paths: ["=/pets/:id"], methods: [GET] }\n'), 'g.yaml');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines.join('\n'), /services\[0\]\.openapi: route "listPets" generated for GET =\/pets: duplicate route name "listPets"/);
    assert.match(lines.join('\n'), /route "showPetById" generated for GET =\/pets\/:petId: matches exactly the same requests as services\[0\]\.routes\[1\]/);
  });

  test('routes follow the document at load and on reload', async () => {
    const upstream = await startEchoUpstream();
    const dir = tempDir('northgate-openapi-');
    const spec = join(dir, 'api.yaml');
    writeFileSync(spec, `${HEAD}paths:\n  /a/{id}:\n    get: { operationId: getA, responses: { "200": { description: ok } } }\n`);
    const config = `_format_version: "1"\nlisten: { proxy: "127.0.0.1:0" }\nservices:\n  - name: api\n    url: ${upstream.url}\n    openapi: { spec: ${JSON.stringify(spec)}, routes: true, prefix: /v1 }\n`;
    const gw = await startGateway(config);
    try {
      assert.deepEqual(gw.gateway.snapshot!.routes.map((e) => [e.route.name, e.pattern.text]), [['getA', '=/v1/a/:id']]);
      const r = await http(gw.url, { path: '/v1/a/7' });
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body) as { url: string }).url, '/v1/a/7');
      assert.equal((await http(gw.url, { path: '/v1/b' })).status, 404);
      writeFileSync(spec, `${HEAD}paths:\n  /b:\n    post: { responses: { "200": { description: ok } } }\n`);
      assert.equal(gw.reload(config).ok, true);
      assert.deepEqual(gw.gateway.snapshot!.routes.map((e) => [e.route.name, e.pattern.text]), [['api-post-b', '=/v1/b']]);
      assert.equal((await http(gw.url, { method: 'POST', path: '/v1/b' })).status, 200);
      assert.equal((await http(gw.url, { path: '/v1/a/7' })).status, 404);
      writeFileSync(spec, `${HEAD}paths: [`);
      const failed = gw.reload(config);
      assert.equal(failed.ok, false, 'a broken document keeps the running config');
      assert.equal((await http(gw.url, { method: 'POST', path: '/v1/b' })).status, 200);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('northgate openapi import', () => {
  test('writes a config whose routes follow the operations, then merges into it', async () => {
    const dir = tempDir('northgate-openapi-');
    const out = join(dir, 'northgate.yaml');
    const first = await runCli(['openapi', 'import', join(FIXTURES, 'shop', 'openapi.yaml'), '--service', 'shop', '--upstream', 'http://127.0.0.1:9001', '--prefix', '/shop', '-o', out]);
    assert.equal(first.code, 0, first.stderr);
    const routes = await runCli(['routes', '--config', out]);
    assert.equal(routes.code, 0, routes.stderr);
    for (const line of ['listOrders', 'createOrder', 'getOrder', 'payOrder', 'getCategory']) assert.match(routes.stdout, new RegExp(line));
    assert.match(routes.stdout, /exact path \/shop\/orders\/:orderId methods=GET/);
    assert.match(readFileSync(out, 'utf8'), /portal:\n\s+openapi: \S*test\/fixtures\/openapi\/shop\/openapi\.yaml/);

    writeFileSync(out, `# our gateway\n${readFileSync(out, 'utf8')}  - name: other\n    url: http://127.0.0.1:9002\n    routes: [{ paths: ["/other"] }]\n`);
    const merged = await runCli(['openapi', 'import', join(FIXTURES, 'petstore-3.0.yaml'), '--service', 'shop', '--upstream', 'http://127.0.0.1:9003', '-o', out]);
    assert.equal(merged.code, 0, merged.stderr);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /^# our gateway/);
    assert.match(text, /name: other/);
    assert.match(text, /listPets/);
    assert.doesNotMatch(text, /listOrders/, 'the service\'s routes are regenerated');
    assert.equal((await runCli(['validate', '--config', out])).code, 0);
  });

  test('a broken document, a clash with the config: nothing is written', async () => {
    const dir = tempDir('northgate-openapi-');
    writeFileSync(join(dir, 'api.yaml'), `${HEAD}paths:\n  /a:\n    get:\n      responses: { "200": { $ref: '#/nothing' } }\n`);
    const broken = await runCli(['openapi', 'import', join(dir, 'api.yaml'), '--service', 's', '--upstream', 'http://127.0.0.1:1']);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /api\.yaml:6:\d+ \$ref "#\/nothing": "\/nothing" does not exist/);
    const out = join(dir, 'northgate.yaml');
    const taken = `_format_version: "1"\nservices:\n  - name: other\n    url: http://127.0.0.1:2\n    routes: [{ name: listPets, paths: ["/x"] }]\n`;
    writeFileSync(out, taken);
    const clash = await runCli(['openapi', 'import', PETSTORE, '--service', 'pets', '--upstream', 'http://127.0.0.1:1', '-o', out]);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /duplicate route name "listPets"/);
    assert.equal(readFileSync(out, 'utf8'), taken);
    const usage = await runCli(['openapi', 'import', PETSTORE]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--service and --upstream are required/);
  });
});
