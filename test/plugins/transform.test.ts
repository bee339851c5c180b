// The `transform` plugin: path templates from route params, query argument edits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'x.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('transform', plugin);

describe('transform plugin schema', () => {
  test('bad path templates are refused with their paths', () => {
    const cases: Array<[string, RegExp]> = [
      ['{ path: "v2/{id}" }', /transform\.path: must start with "\/"$/],
      ['{ path: "/v2/{id" }', /transform\.path: a parameter is written \{name\}/],
      ['{ path: "/v2/{id}?admin=1" }', /transform\.path: "\?admin=1" has characters that are not allowed in a path/],
      ['{ path: "/v2 /x" }', /not allowed in a path/],
    ];
    for (const [cfg, re] of cases) {
      const lines = problemsOf(withPlugin(cfg));
      assert.equal(lines.length, 1, `${cfg}: ${lines.join('\n')}`);
      assert.match(lines[0]!, /^x\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.transform/);
      assert.match(lines[0]!, re, cfg);
    }
  });

  test('query argument names with & or =, values with CR/LF and an empty config are refused', () => {
    assert.ok(problemsOf(withPlugin('{ query: { set: { "a&b": "1" } } }')).some((l) => /transform\.query\.set\["a&b"\]/.test(l)));
    assert.ok(problemsOf(withPlugin('{ query: { add: { a: "1\\r\\nx" } } }')).some((l) => /transform\.query\.add\.a/.test(l)));
    assert.ok(problemsOf(withPlugin('{}')).some((l) => /plugins\.transform: give "path", "query", "request" or "response"$/.test(l)));
  });
});

describe('transform plugin behaviour', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: s
    url: "http://echo/base"
    routes:
      - paths: ["/users/:id/profile"]
        plugins: { transform: { path: "/v2/users/{id}", query: { remove: [debug], set: { version: "2" }, add: { tag: [a, "b c"] } } } }
      - paths: ["~^/files/(?<bucket>[a-z]+)/(?<key>[^/]+)$"]
        plugins: { transform: { path: "/storage/{bucket}/objects/{key}" } }
      - paths: ["~^/join/(?<a>[^/]*?)-(?<b>[^/]*)$"]
        plugins: { transform: { path: "/x/{a}{b}/y" } }
      - paths: ["/query-only"]
        plugins: { transform: { query: { remove: ["api key"], set: { page: "1" } } } }
      - paths: ["/no-param"]
        plugins: { transform: { path: "/v2/{id}" } }
`, upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  const upstreamUrl = async (path: string): Promise<string> => {
    const res = await gw.request({ path });
    assert.equal(res.status, 200, `${path}: ${res.body}`);
    return (JSON.parse(res.body) as { path: string }).path;
  };

  test('a path template is filled from :params; query edits keep untouched arguments byte for byte', async () => {
    assert.equal(await upstreamUrl('/users/42/profile?debug=1&q=%7Ex+y&version=9&debug=2'), '/base/v2/users/42?q=%7Ex+y&version=2&tag=a&tag=b%20c');
    assert.equal(await upstreamUrl('/users/42/profile'), '/base/v2/users/42?version=2&tag=a&tag=b%20c');
  });

  test('regex named groups fill the template', async () => {
    assert.equal(await upstreamUrl('/files/photos/cat.png?x=1'), '/base/storage/photos/objects/cat.png?x=1');
  });

  test('query-only edits: names are compared decoded (api%20key, api+key); no query left means no "?"', async () => {
    assert.equal(await upstreamUrl('/query-only/x?api%20key=s3cret&page=7&keep=1'), '/base/query-only/x?keep=1&page=1');
    assert.equal(await upstreamUrl('/query-only?api+key=s3cret'), '/base/query-only?page=1');
    assert.equal(await upstreamUrl('/query-only?bad=%E0%A4%A'), '/base/query-only?bad=%E0%A4%A&page=1', 'a malformed escape is kept, not thrown on');
  });

  test('attack: params cannot be joined into a dot segment the upstream would resolve', async () => {
    // ".-." is an ordinary segment for the core, but {a}{b} would make it "..": /base/x/../y is /base/y upstream.
    for (const path of ['/join/.-', '/join/..-']) {
      const res = await gw.request({ path });
      assert.equal(res.status, 400, path);
      assert.match((JSON.parse(res.body) as { detail: string }).detail, /rewritten path has a "\." or "\.\." segment/);
    }
    // A segment ending in "." is refused by the core's path normalization already.
    for (const path of ['/join/.-.', '/join/-.']) assert.equal((await gw.request({ path })).status, 400, path);
    assert.equal(await upstreamUrl('/join/a.-.b'), '/base/x/a..b/y', 'dots inside a segment are fine');
    assert.equal(await upstreamUrl('/join/..-.x'), '/base/x/...x/y');
  });

  test('a template naming a parameter the route does not capture is a 500 problem, not a forwarded request', async () => {
    const res = await gw.request({ path: '/no-param' });
    assert.equal(res.status, 500);
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:internal-error');
  });
});
