// The `versioning` plugin: versions by path prefix, header or query; deprecation headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deprecationHeaders } from '../../src/plugins/versioning/plugin.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, echoUpstream, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'v.yaml');

describe('versioning plugin schema', () => {
  test('bad configs are refused with their paths', () => {
    const lines = problemsOf(routeWithPlugin('versioning', '{ versions: [{ name: v1, deprecated: { date: "2026-13-45", sunset: "2025-01-01" } }, { name: v1 }], default: v3, header: X-V }'));
    const rest = lines.map((l) => l.replace(/^v\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.versioning\.?/, ''));
    assert.ok(rest.includes('versions[0].deprecated.date: is not a valid date'), rest.join('\n'));
    assert.ok(rest.includes('versions[1].name: version "v1" is listed twice'), rest.join('\n'));
    assert.ok(rest.includes('default: names no version (v1)'), rest.join('\n'));
    assert.ok(rest.includes('header: only used with by: header'), rest.join('\n'));
    assert.ok(problemsOf(routeWithPlugin('versioning', '{ versions: [{ name: "a b" }] }')).some((l) => /versions\[0\]\.name: must be letters/.test(l)));
    assert.ok(problemsOf(routeWithPlugin('versioning', '{ versions: [{ name: v1, deprecated: { date: 2026-01-01, link: "<x>" } }] }')).some((l) => /deprecated\.link: must be a URI/.test(l)));
    assert.ok(problemsOf(routeWithPlugin('versioning', '{ by: cookie, versions: [{ name: v1 }] }')).some((l) => /versioning\.by/.test(l)));
  });

  test('Deprecation is an RFC 9745 structured date, Sunset an HTTP-date', () => {
    assert.deepEqual(deprecationHeaders({ date: '2026-01-01T00:00:00Z', sunset: '2026-12-31', link: 'https://api.example.com/v2' }), [
      'Deprecation',
      '@1767225600',
      'Sunset',
      'Thu, 31 Dec 2026 00:00:00 GMT',
      'Link',
      '<https://api.example.com/v2>; rel="successor-version"',
    ]);
  });
});

describe('versioning plugin behaviour', () => {
  let gw: TestGateway;
  before(async () => {
    const versions = `[{ name: v1, service: legacy, deprecated: { date: "2026-01-01T00:00:00Z", sunset: "2026-12-31T00:00:00Z", link: "https://api.example.com/v2/" } }, { name: v2 }]`;
    gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: current
    url: "http://echo/current"
    routes:
      - paths: ["/api"]
        strip_path: true
        plugins: { versioning: { versions: ${versions}, default: v2 } }
      - paths: ["/keep"]
        plugins: { versioning: { versions: ${versions}, strip_prefix: false } }
      - paths: ["/unstripped"]
        plugins: { versioning: { versions: ${versions} } }
      - paths: ["/h"]
        plugins: { versioning: { by: header, versions: ${versions}, default: v2 } }
      - paths: ["/named"]
        plugins: { versioning: { by: header, header: X-API-Version, versions: ${versions} } }
      - paths: ["/q"]
        plugins: { versioning: { by: query, versions: ${versions}, default: v2 } }
      - paths: ["/broken"]
        plugins: { versioning: { by: query, versions: [{ name: v9, service: nowhere }], default: v9 } }
  - name: legacy
    url: "http://echo/legacy"
`, upstreams: { echo: echoUpstream } });
  });
  after(async () => {
    await gw.close();
  });

  const upstreamUrl = (body: string): string => (JSON.parse(body) as { path: string }).path;

  test('path prefix: the segment picks the version and its service, and is stripped', async () => {
    const v1 = await gw.request({ path: '/api/v1/users/7?x=1' });
    assert.equal(v1.status, 200);
    assert.equal(upstreamUrl(v1.body), '/legacy/users/7?x=1');
    assert.equal(v1.headers['deprecation'], '@1767225600');
    assert.equal(v1.headers['sunset'], 'Thu, 31 Dec 2026 00:00:00 GMT');
    assert.equal(v1.headers['link'], '<https://api.example.com/v2/>; rel="successor-version"');
    const v2 = await gw.request({ path: '/api/v2/users/7' });
    assert.equal(upstreamUrl(v2.body), '/current/users/7');
    assert.equal(v2.headers['deprecation'], undefined);
    assert.equal(v2.headers['sunset'], undefined);
    assert.equal(upstreamUrl((await gw.request({ path: '/api/v1' })).body), '/legacy');
  });

  test('path prefix: no version segment takes the default; an unknown version is a 404 problem', async () => {
    assert.equal(upstreamUrl((await gw.request({ path: '/api/users/7' })).body), '/current/users/7');
    const unknown = await gw.request({ path: '/api/v7/users' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['content-type'], 'application/problem+json');
    const p = JSON.parse(unknown.body) as { type: string; detail: string };
    assert.equal(p.type, 'urn:northgate:problem:api-version-not-found');
    assert.match(p.detail, /no API version "v7"; versions: v1, v2/);
  });

  test('strip_prefix: false keeps the segment; without a default, no version is a 400', async () => {
    assert.equal(upstreamUrl((await gw.request({ path: '/keep/v1/a' })).body), '/legacy/keep/v1/a');
    assert.equal(upstreamUrl((await gw.request({ path: '/unstripped/v1/a?z' })).body), '/legacy/unstripped/a?z', 'the route keeps its prefix, the version goes');
    const none = await gw.request({ path: '/keep/a' });
    assert.equal(none.status, 400);
    assert.match(JSON.parse(none.body).detail, /needs a version in the first path segment/);
  });

  test('header: Accept-Version picks the version; absent: the default; Vary: Accept-Version', async () => {
    const v1 = await gw.request({ path: '/h/x', headers: { 'accept-version': 'v1' } });
    assert.equal(upstreamUrl(v1.body), '/legacy/h/x');
    assert.equal(v1.headers['deprecation'], '@1767225600');
    assert.equal(v1.headers['vary'], 'Accept-Version');
    const def = await gw.request({ path: '/h/x' });
    assert.equal(upstreamUrl(def.body), '/current/h/x');
    assert.equal(def.headers['vary'], 'Accept-Version');
    assert.equal((await gw.request({ path: '/h/x', headers: { 'accept-version': 'v3' } })).status, 404);
  });

  test('a named header; without a default the header is required', async () => {
    assert.equal(upstreamUrl((await gw.request({ path: '/named', headers: { 'x-api-version': 'v1' } })).body), '/legacy/named');
    assert.equal(upstreamUrl((await gw.request({ path: '/named', headers: { 'x-api-version': 'v2' } })).body), '/current/named');
    const none = await gw.request({ path: '/named', headers: { 'accept-version': 'v1' } });
    assert.equal(none.status, 400);
    assert.match(JSON.parse(none.body).detail, /the X-API-Version header/);
  });

  test('query argument; an unknown service is a 500 without details leaking', async () => {
    const v1 = await gw.request({ path: '/q/items?version=v1&a=2' });
    assert.equal(upstreamUrl(v1.body), '/legacy/q/items?version=v1&a=2');
    assert.equal(v1.headers['sunset'], 'Thu, 31 Dec 2026 00:00:00 GMT');
    assert.equal(upstreamUrl((await gw.request({ path: '/q/items?a=2' })).body), '/current/q/items?a=2');
    assert.equal((await gw.request({ path: '/q/items?version=%ZZ' })).status, 404);
    assert.equal((await gw.request({ path: '/broken' })).status, 500);
  });
});
