// The `headers` plugin: schema, behaviour at each scope, and its attack cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer } from 'node:http';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'h.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('headers', plugin);

describe('headers plugin schema', () => {
  test('a header value with CR or LF is refused at load (no response splitting through config)', () => {
    const lines = problemsOf(withPlugin('{ response: { set: { x-a: "ok\\r\\nSet-Cookie: evil=1" } } }'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^h\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.headers\.response\.set\.x-a: must not contain CR, LF or NUL$/);
  });

  test('invalid header names and unknown keys are refused with their paths', () => {
    const lines = problemsOf(withPlugin('{ request: { set: { "bad name": "x" }, remov: [a] } }'));
    assert.ok(lines.some((l) => /plugins\.headers\.request\.set\["bad name"\]: invalid name "bad name"/.test(l)), lines.join('\n'));
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.ok(lines.some((l) => /plugins\.headers\.request\.remov: unknown key "remov" \(did you mean "remove"\?\)/.test(l)), lines.join('\n'));
  });

  test('headers the gateway owns (Host, Content-Length, Transfer-Encoding, Connection) cannot be edited', () => {
    for (const cfg of ['{ request: { set: { Host: evil } } }', '{ response: { remove: [content-length] } }', '{ request: { add: { transfer-encoding: chunked } } }']) {
      const lines = problemsOf(withPlugin(cfg));
      assert.equal(lines.length, 1, cfg);
      assert.match(lines[0]!, /is managed by the gateway/);
    }
  });
});

describe('headers plugin behaviour', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
plugins:
  headers: { request: { set: { x-scope: global, x-global: "1" } }, response: { set: { x-resp-scope: global } } }
services:
  - name: s
    url: "http://echo"
    plugins:
      headers: { request: { set: { x-scope: service } } }
    routes:
      - name: service-level
        paths: ["/svc"]
      - name: route-level
        paths: ["/route"]
        plugins:
          headers:
            request:
              remove: [x-drop-me, authorization]
              set: { x-scope: route, x-forwarded-proto: https }
              add: { x-multi: [a, b] }
            response:
              remove: [x-powered-by]
              set: { x-frame-options: DENY }
              add: { x-added: "1" }
`, upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  test('route config replaces service config, which replaces global config (one plugin instance per request)', async () => {
    const svc = JSON.parse((await gw.request({ path: '/svc' })).body) as { headers: Record<string, string> };
    assert.equal(svc.headers['x-scope'], 'service');
    assert.equal(svc.headers['x-global'], undefined, 'the global config of the plugin is replaced, not merged');
    const route = JSON.parse((await gw.request({ path: '/route' })).body) as { headers: Record<string, string> };
    assert.equal(route.headers['x-scope'], 'route');
  });

  test('request edits: remove, set (replacing the client value), add (keeping several values)', async () => {
    const res = await gw.request({ path: '/route', headers: { 'X-Drop-Me': '1', Authorization: 'Bearer t', 'X-Scope': 'client-value', 'X-Multi': 'client' } });
    const e = JSON.parse(res.body) as { headers: Record<string, string> };
    assert.equal(e.headers['x-drop-me'], undefined);
    assert.equal(e.headers['authorization'], undefined);
    assert.equal(e.headers['x-scope'], 'route');
    assert.equal(e.headers['x-multi'], 'client, a, b');
    assert.equal(e.headers['x-forwarded-proto'], 'https', 'plugins run after the core sets forwarding headers');
  });

  test('response edits reach the client; a plugin on the route does not leak to others', async () => {
    const up = createServer((_q, r) => {
      r.setHeader('x-powered-by', 'php');
      r.end('ok');
    });
    const gw2 = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://up"
    routes:
      - paths: ["/a"]
        plugins: { headers: { response: { remove: [x-powered-by], set: { x-frame-options: DENY }, add: { x-added: "1" } } } }
      - paths: ["/b"]
`, upstreams: { up } });
    try {
      const a = await gw2.request({ path: '/a' });
      assert.equal(a.headers['x-powered-by'], undefined);
      assert.equal(a.headers['x-frame-options'], 'DENY');
      assert.equal(a.headers['x-added'], '1');
      const b = await gw2.request({ path: '/b' });
      assert.equal(b.headers['x-powered-by'], 'php');
      assert.equal(b.headers['x-frame-options'], undefined);
    } finally {
      await gw2.close();
    }
  });

  test('response headers are set on the gateway\'s own error replies too', async () => {
    const gw3 = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://127.0.0.1:9"
    routes: [{ paths: ["/"], plugins: { headers: { response: { set: { x-frame-options: DENY } } } } }]
` });
    try {
      const res = await gw3.request({ path: '/' });
      assert.equal(res.status, 502);
      assert.equal(res.headers['x-frame-options'], 'DENY');
    } finally {
      await gw3.close();
    }
  });
});
