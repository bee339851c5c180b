// northgate/testing: the in-process gateway speaks real HTTP through in-memory connections
// (no port is bound), in-process upstreams see what a real one would, and runPlugin runs one
// plugin through the whole pipeline.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/base/problems.js';
import { LocalReply } from '../../src/sdk/local-reply.js';
import type { Plugin } from '../../src/sdk/plugin.js';
import { createTestGateway, runPlugin } from '../../src/testing/index.js';

const service = (plugins: Record<string, unknown> = {}) => ({ services: [{ name: 'api', url: 'http://api/base', plugins, routes: [{ paths: ['/v1'], strip_path: true }] }] });

test('a request goes through routing and forwarding to an in-process upstream, which sees the proxied head and body', async () => {
  const gw = createTestGateway({ config: service(), upstreams: { api: (req) => ({ status: 201, headers: { 'x-up': 'yes' }, body: { path: req.path, body: req.body } }) } });
  try {
    const r = await gw.request({ method: 'POST', path: '/v1/orders?x=1', headers: { 'content-type': 'application/json', 'X-Client': 'c' }, body: '{"a":1}', clientIp: '192.0.2.7' });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-up'], 'yes');
    assert.deepEqual(r.json(), { path: '/base/orders?x=1', body: '{"a":1}' });
    const seen = gw.received('api');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['x-client'], 'c');
    assert.equal(seen[0]!.headers['x-forwarded-for'], '192.0.2.7');
    assert.match(String(seen[0]!.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal((await gw.request({ path: '/elsewhere' })).status, 404);
  } finally {
    await gw.close();
  }
});

test('the request head is parsed for real: a malformed one gets the gateway\'s 400', async () => {
  const gw = createTestGateway({ config: service(), upstreams: { api: () => ({}) } });
  try {
    const r = await gw.request({ path: '/v1/../etc/passwd' });
    assert.equal(r.status, 400);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(gw.received('api').length, 0);
  } finally {
    await gw.close();
  }
});

test('an invalid config throws a ConfigError whose message lists each located problem; reload keeps the old config on failure', async () => {
  assert.throws(
    () => createTestGateway({ config: service({ cors: { origins: 7 } }) }),
    (err: unknown) => err instanceof ConfigError && /test-config:\d+:\d+ services\[0\]\.plugins\.cors\.origins: /.test(err.message),
  );
  const gw = createTestGateway({ config: service(), upstreams: { api: () => ({ body: 'one' }) } });
  try {
    assert.equal(gw.reload({ services: 'nope' }).ok, false);
    assert.equal((await gw.request({ path: '/v1' })).body, 'one');
    assert.equal(gw.reload(service({ 'request-termination': { status: 418 } })).ok, true);
    assert.equal((await gw.request({ path: '/v1' })).status, 418);
  } finally {
    await gw.close();
  }
});

test('runPlugin: a built-in by name, with top-level config; the upstream is reached only when the plugin lets the request through', async () => {
  const consumers = [{ username: 'ada', credentials: { 'key-auth': [{ key: 'secret-key-1' }] } }];
  const refused = await runPlugin('key-auth', {}, { path: '/x' }, { config: { consumers } });
  assert.equal(refused.status, 401);
  assert.equal(refused.upstream, null);
  const allowed = await runPlugin('key-auth', {}, { path: '/x', headers: { apikey: 'secret-key-1' } }, { config: { consumers } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.upstream?.headers['x-consumer-username'], 'ada');
});

test('runPlugin: a plugin of the test\'s own, with its schema enforced, and a custom upstream', async () => {
  const stamp: Plugin<{ value: string }> = {
    name: 'stamp',
    priority: 1,
    schema: { type: 'object', required: ['value'], properties: { value: { type: 'string' } }, additionalProperties: false },
    create: (cfg) => ({ request: (ctx) => (ctx.method === 'DELETE' ? LocalReply.json(405, { no: cfg.value }) : void ctx.upstreamHeaders.set('x-stamp', cfg.value)) }),
  };
  const r = await runPlugin(stamp as Plugin, { value: 'v1' }, { path: '/a' }, { upstream: (req) => ({ body: String(req.headers['x-stamp']) }) });
  assert.equal(r.body, 'v1');
  assert.equal((await runPlugin(stamp as Plugin, { value: 'v1' }, { method: 'DELETE' })).status, 405);
  await assert.rejects(runPlugin(stamp as Plugin, {}), /plugins\.stamp: missing required key "value"/);
});

test('compressed bodies arrive as bytes', async () => {
  const r = await runPlugin('compression', {}, { headers: { 'accept-encoding': 'gzip' } }, { upstream: () => ({ headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(4096) }) });
  assert.equal(r.headers['content-encoding'], 'gzip');
  const { gunzipSync } = await import('node:zlib');
  assert.equal(gunzipSync(r.bytes).toString(), 'z'.repeat(4096));
});

test('raw bytes: a malformed request and a CONNECT get the gateway\'s problem+json 400, as on a real listener', async () => {
  const gw = createTestGateway({ config: service(), upstreams: { api: () => ({}) } });
  try {
    const malformed = await gw.raw('GET /v1 HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n');
    assert.match(malformed, /^HTTP\/1\.1 400 /);
    assert.match(malformed, /content-type: application\/problem\+json/);
    assert.match(malformed, /malformed HTTP request/);
    const version = await gw.raw('GET /v1 HTTP/3.0\r\nHost: a\r\n\r\n');
    assert.match(version, /^HTTP\/1\.1 505 /);
    const connect = await gw.raw('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.match(connect, /^HTTP\/1\.1 400 /);
    assert.match(connect, /CONNECT is not supported/);
    assert.equal(gw.received('api').length, 0);
  } finally {
    await gw.close();
  }
});

test('raw header arrays keep order, case and repeats; an upstream may be a node HTTP server of the test\'s own', async () => {
  const { createServer } = await import('node:http');
  const streaming = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-seen': String(req.rawHeaders.filter((h) => h.toLowerCase() === 'x-twice').length) });
    res.write('a');
    res.end('b');
  });
  const gw = createTestGateway({ config: service(), upstreams: { api: streaming } });
  try {
    const r = await gw.request({ path: '/v1', headers: ['Host', 'a.example', 'X-Twice', '1', 'X-Twice', '2'] });
    assert.equal(r.status, 200);
    assert.equal(r.headers['transfer-encoding'], 'chunked');
    assert.equal(r.body, 'ab');
    assert.equal(r.headers['x-seen'], '2');
    assert.deepEqual(gw.received('api'), []);
  } finally {
    await gw.close();
  }
});
