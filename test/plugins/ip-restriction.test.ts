// The `ip-restriction` plugin: schema checks, allow/deny, and the address it trusts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createServer } from 'node:http';
import { configProblems, routeWithPlugin } from '../helpers/config.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'i.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('ip-restriction', plugin);

describe('ip-restriction plugin schema', () => {
  test('invalid addresses and ranges are refused with their paths', () => {
    const lines = problemsOf(withPlugin('{ allow: ["10.0.0.0/8", "10.0.0.256", "::1/129"], deny: ["proxy.internal"] }'));
    assert.deepEqual(lines.map((l) => l.replace(/^i\.yaml:\d+:\d+ /, '')), [
      'services[0].routes[0].plugins.ip-restriction.allow[1]: "10.0.0.256" is not an IP address or CIDR range',
      'services[0].routes[0].plugins.ip-restriction.allow[2]: "::1/129" is not an IP address or CIDR range',
      'services[0].routes[0].plugins.ip-restriction.deny[0]: "proxy.internal" is not an IP address or CIDR range',
    ]);
    assert.match(lines[0]!, /^i\.yaml:8:\d+ /);
  });

  test('a config with neither allow nor deny is refused; empty lists and unknown keys too', () => {
    assert.ok(problemsOf(withPlugin('{ message: "go away" }')).some((l) => /plugins\.ip-restriction: give "allow", "deny" or both$/.test(l)));
    assert.ok(problemsOf(withPlugin('{ allow: [] }')).some((l) => /plugins\.ip-restriction\.allow:/.test(l)));
    assert.ok(problemsOf(withPlugin('{ alow: ["10.0.0.0/8"] }')).some((l) => /unknown key "alow" \(did you mean "allow"\?\)/.test(l)));
  });
});

describe('ip-restriction plugin behaviour', () => {
  let seen = 0;
  const up = createServer((_q, r) => {
    seen++;
    r.end('ok');
  });

  const gatewayWith = (routes: string, extra = ''): TestGateway =>
    createTestGateway({
      config: `
_format_version: "1"
${extra}
services:
  - name: s
    url: "http://up"
    routes:
${routes}
`,
      upstreams: { up },
    });

  test('allow and deny lists; deny wins; refusals are 403 forbidden problems that never reach the upstream', async () => {
    const gw = gatewayWith(`      - { paths: ["/allowed"], plugins: { ip-restriction: { allow: ["127.0.0.0/8", "::1"] } } }
      - { paths: ["/not-allowed"], plugins: { ip-restriction: { allow: ["10.0.0.0/8", "2001:db8::/32"] } } }
      - { paths: ["/denied"], plugins: { ip-restriction: { deny: ["127.0.0.1"], message: "blocked" } } }
      - { paths: ["/both"], plugins: { ip-restriction: { allow: ["127.0.0.0/8"], deny: ["127.0.0.1/32"] } } }`);
    try {
      assert.equal((await gw.request({ path: '/allowed' })).status, 200);
      const before = seen;
      for (const path of ['/not-allowed', '/denied', '/both']) {
        const res = await gw.request({ path });
        assert.equal(res.status, 403, path);
        assert.equal(res.headers['content-type'], 'application/problem+json');
        const body = JSON.parse(res.body) as { type: string; detail: string };
        assert.equal(body.type, 'urn:northgate:problem:forbidden');
        if (path === '/denied') assert.equal(body.detail, 'blocked');
      }
      assert.equal(seen, before, 'refused requests never reach the upstream');
    } finally {
      await gw.close();
    }
  });

  test('attack: X-Forwarded-For from a peer that is not a trusted proxy is ignored', async () => {
    const gw = gatewayWith(
      `      - { paths: ["/partner"], plugins: { ip-restriction: { allow: ["203.0.113.0/24"] } } }
      - { paths: ["/deny"], plugins: { ip-restriction: { deny: ["127.0.0.0/8"] } } }`,
      'trusted_proxies: ["10.0.0.0/8"]',
    );
    try {
      const spoof = { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7', forwarded: 'for=203.0.113.7' };
      assert.equal((await gw.request({ path: '/partner', headers: spoof })).status, 403);
      assert.equal((await gw.request({ path: '/deny', headers: spoof })).status, 403, 'a denied peer cannot hide behind a forged header');
    } finally {
      await gw.close();
    }
  });

  test('from a trusted proxy, the right-most untrusted X-Forwarded-For hop is the client', async () => {
    const gw = gatewayWith(
      `      - { paths: ["/partner"], plugins: { ip-restriction: { allow: ["198.51.100.0/24"] } } }
      - { paths: ["/deny"], plugins: { ip-restriction: { deny: ["198.51.100.7"] } } }
      - { paths: ["/deny-v4"], plugins: { ip-restriction: { deny: ["198.51.100.0/24"] } } }
      - { paths: ["/deny-only"], plugins: { ip-restriction: { deny: ["192.0.2.0/24"] } } }
      - { paths: ["/deny-proxy"], plugins: { ip-restriction: { deny: ["127.0.0.1"] } } }`,
      'trusted_proxies: ["127.0.0.1", "10.0.0.0/8"]',
    );
    try {
      // The client forged "203.0.113.9"; 198.51.100.7 is what the first trusted proxy saw; 10.1.2.3 is an inner proxy.
      const xff = { 'x-forwarded-for': '203.0.113.9, 198.51.100.7, 10.1.2.3' };
      assert.equal((await gw.request({ path: '/partner', headers: xff })).status, 200);
      assert.equal((await gw.request({ path: '/deny', headers: xff })).status, 403);
      assert.equal((await gw.request({ path: '/partner', headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' } })).status, 403, 'a forged left-most hop is not the client');
      assert.equal((await gw.request({ path: '/deny-v4', headers: { 'x-forwarded-for': '::ffff:198.51.100.7' } })).status, 403, 'an IPv4-mapped hop matches the IPv4 range');
      // A hop that is no address is never the client: the nearest valid address on its right is (here the proxy).
      assert.equal((await gw.request({ path: '/deny-proxy', headers: { 'x-forwarded-for': 'unknown' } })).status, 403, 'a hop that is no address: the proxy is the client');
      assert.equal((await gw.request({ path: '/deny-proxy', headers: { 'x-forwarded-for': '192.0.2.1:80, unknown' } })).status, 403, 'an address left of garbage is not reached');
      assert.equal((await gw.request({ path: '/deny-only', headers: { 'x-forwarded-for': '192.0.2.1:80' } })).status, 403, 'a hop with a port is its address');
      assert.equal((await gw.request({ path: '/deny-only', headers: { 'x-forwarded-for': '198.51.100.7' } })).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('attack: IPv4-mapped IPv6 peers and rules match their IPv4 form', async () => {
    const dual = gatewayWith(`      - { paths: ["/"], plugins: { ip-restriction: { deny: ["127.0.0.0/8"] } } }`);
    try {
      // What a dual-stack listener sees of an IPv4 client.
      assert.equal((await dual.request({ path: '/', clientIp: '::ffff:127.0.0.1' })).status, 403);
    } finally {
      await dual.close();
    }
    const v4 = gatewayWith(`      - { paths: ["/mapped-rule"], plugins: { ip-restriction: { deny: ["::ffff:127.0.0.0/104"] } } }
      - { paths: ["/mapped-allow"], plugins: { ip-restriction: { allow: ["::ffff:127.0.0.1"] } } }`);
    try {
      assert.equal((await v4.request({ path: '/mapped-rule' })).status, 403);
      assert.equal((await v4.request({ path: '/mapped-allow' })).status, 200);
    } finally {
      await v4.close();
    }
  });

  test('a route without the plugin is not affected; the service scope applies to every route', async () => {
    const gw = createTestGateway({ config: `
_format_version: "1"
services:
  - name: locked
    url: "http://up"
    plugins: { ip-restriction: { allow: ["10.0.0.0/8"] } }
    routes: [{ paths: ["/locked"] }, { paths: ["/locked2"] }]
  - name: open
    url: "http://up"
    routes: [{ paths: ["/open"] }]
`, upstreams: { up } });
    try {
      assert.equal((await gw.request({ path: '/locked' })).status, 403);
      assert.equal((await gw.request({ path: '/locked2' })).status, 403);
      assert.equal((await gw.request({ path: '/open' })).status, 200);
    } finally {
      await gw.close();
    }
  });
});
