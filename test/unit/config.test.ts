// The config contract: what loads, what is refused, and where each refusal points
// (FILE:LINE:COL PATH: message). YAML fixtures are written one line per array item, so
// the line of an item is its index + 1.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildSnapshot, loadConfigText } from '../../src/compiler/load.js';
import { formatDuration, parseDuration } from '../../src/base/duration.js';
import { ConfigError } from '../../src/base/problems.js';
import type { RawConfig } from '../../src/config/types.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';

const registry = defaultRegistry();
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const V1 = '_format_version: "1"';
/** Lines 1-5 of many fixtures: service "a" with its `routes:` key; the first route item is line 6. */
const SERVICE_A = [V1, 'services:', '  - name: a', '    url: http://127.0.0.1:9001', '    routes:'];

/** The `northgate validate` lines for a config that must be refused. */
function problems(text: string, env: NodeJS.ProcessEnv = {}, file = 'gw.yaml'): string[] {
  try {
    loadConfigText(file, text, registry, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.ok(err.problems.length > 0, 'a ConfigError lists at least one problem');
    return err.lines();
  }
  return assert.fail('expected the config to be refused');
}

function load(text: string, env: NodeJS.ProcessEnv = {}, file = 'gw.yaml'): RawConfig {
  try {
    return loadConfigText(file, text, registry, env);
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`unexpected problems:\n${err.lines().join('\n')}`);
    throw err;
  }
}

/** Same problems, in any order; every one must be reported, and nothing else. */
function sameProblems(actual: string[], expected: string[]): void {
  assert.deepEqual([...actual].sort(), [...expected].sort());
}

describe('config errors point at FILE:LINE:COL PATH', () => {
  test('type errors on nested values and unknown keys (with "did you mean" when close)', () => {
    const text = yaml(
      V1,
      'listen: { proxy: ":8000", stauts: null }',
      'services:',
      '  - name: orders',
      '    url: http://127.0.0.1:9001',
      '    routes:',
      '      - name: list',
      '        paths: ["/orders"]',
      '      - name: detail',
      '        paths: [42]',
      '        strip_pth: true',
      '        preserve_host: "yes"',
      '        colour: red',
    );
    sameProblems(problems(text), [
      'gw.yaml:2:27 listen.stauts: unknown key "stauts" (did you mean "status"?)',
      'gw.yaml:10:17 services[0].routes[1].paths[0]: must be string',
      'gw.yaml:11:9 services[0].routes[1].strip_pth: unknown key "strip_pth" (did you mean "strip_path"?)',
      'gw.yaml:12:24 services[0].routes[1].preserve_host: must be boolean',
      'gw.yaml:13:9 services[0].routes[1].colour: unknown key "colour"',
    ]);
  });

  test('a missing required key points at the object that lacks it', () => {
    const text = yaml(
      V1,
      'upstreams:',
      '  - name: pool',
      'services:',
      '  - url: http://127.0.0.1:9001',
      '    routes:',
      '      - strip_path: true',
    );
    sameProblems(problems(text), [
      'gw.yaml:3:5 upstreams[0]: missing required key "targets"',
      'gw.yaml:5:5 services[0]: missing required key "name"',
      'gw.yaml:7:9 services[0].routes[0]: missing required key "paths"',
    ]);
    sameProblems(problems('services: []\n'), ['gw.yaml:1:1 (root): missing required key "_format_version"']);
  });

  test('durations must carry a unit', () => {
    const text = yaml(
      V1,
      'limits:',
      '  idle_timeout: -1s',
      '  request_timeout: 1.5m',
      'shutdown: { drain_timeout: 10 }',
      'services:',
      '  - name: a',
      '    url: http://127.0.0.1:9001',
      '    timeouts: { read: 5, connect: "5 seconds" }',
    );
    const msg = 'must be a duration such as 250ms, 2s, 1m';
    sameProblems(problems(text), [
      `gw.yaml:3:17 limits.idle_timeout: ${msg}`,
      `gw.yaml:5:28 shutdown.drain_timeout: ${msg}`,
      `gw.yaml:9:23 services[0].timeouts.read: ${msg}`,
      `gw.yaml:9:35 services[0].timeouts.connect: ${msg}`,
    ]);
  });

  test('bad route paths, each at its own item', () => {
    const text = yaml(
      ...SERVICE_A,
      '      - name: r',
      '        paths:',
      '          - api',
      '          - "~(["',
      '          - /a//b',
      '          - /a/:1d',
      '          - /ok/../x',
      '          - /fine/:id',
    );
    const lines = problems(text);
    assert.equal(lines.length, 5, lines.join('\n'));
    const regex = lines.find((l) => l.startsWith('gw.yaml:9:13 services[0].routes[0].paths[1]: invalid regular expression: '));
    assert.ok(regex, lines.join('\n'));
    sameProblems(lines.filter((l) => l !== regex), [
      'gw.yaml:8:13 services[0].routes[0].paths[0]: must start with "/" (or "=/" for an exact path, "~" for a regex)',
      'gw.yaml:10:13 services[0].routes[0].paths[2]: must not contain "//"',
      'gw.yaml:11:13 services[0].routes[0].paths[3]: invalid parameter name ":1d"',
      'gw.yaml:12:13 services[0].routes[0].paths[4]: must not contain "." or ".." segments',
    ]);
  });

  test('a service needs exactly one of upstream and url; upstream names must exist', () => {
    const text = yaml(
      V1,
      'upstreams:',
      '  - name: orders',
      '    targets: [{ url: "http://127.0.0.1:9001" }]',
      'services:',
      '  - name: both',
      '    upstream: orders',
      '    url: http://127.0.0.1:9002',
      '  - name: neither',
      '  - name: typo',
      '    upstream: order',
      '  - name: unknown',
      '    upstream: payments',
    );
    const one = 'needs exactly one of "upstream" (a name from upstreams) or "url"';
    sameProblems(problems(text), [
      `gw.yaml:6:5 services[0]: ${one}`,
      `gw.yaml:9:5 services[1]: ${one}`,
      'gw.yaml:11:15 services[2].upstream: no upstream named "order" (did you mean "orders"?)',
      'gw.yaml:13:15 services[3].upstream: no upstream named "payments"',
    ]);
  });

  test('duplicate names and routes that match exactly the same requests', () => {
    const text = yaml(
      ...SERVICE_A,
      '      - { name: r1, paths: ["/x"] }',
      '      - { name: r2, paths: ["/x"], methods: [GET] }',
      '      - { name: r3, paths: ["/y", "/x"], methods: [GET] }',
      '  - name: a',
      '    url: http://127.0.0.1:9001',
      '    routes:',
      '      - { name: r1, paths: ["/z"] }',
    );
    sameProblems(problems(text), [
      'gw.yaml:8:28 services[0].routes[2].paths: matches exactly the same requests as services[0].routes[1]; one of them could never be chosen',
      'gw.yaml:9:11 services[1].name: duplicate service name "a" (first at services[0])',
      'gw.yaml:12:17 services[1].routes[0].name: duplicate route name "r1" (first at services[0].routes[0])',
    ]);
    const upstreams = yaml(V1, 'upstreams:', '  - { name: u, targets: [{ url: "http://127.0.0.1:1" }] }', '  - { name: u, targets: [{ url: "http://127.0.0.1:2" }] }');
    sameProblems(problems(upstreams), ['gw.yaml:4:13 upstreams[1].name: duplicate upstream name "u" (first at upstreams[0])']);
  });

  test('routes equal after normalization ("/x" and "/x/") are reported as matching the same requests', () => {
    const text = yaml(
      ...SERVICE_A,
      '      - { name: r1, paths: ["/x"] }',
      '      - { name: r2, paths: ["/x/"] }',
    );
    sameProblems(problems(text), [
      'gw.yaml:7:28 services[0].routes[1].paths: matches exactly the same requests as services[0].routes[0]; one of them could never be chosen',
    ]);
  });

  test('hosts, target URLs, trusted proxies and listen addresses are checked', () => {
    const text = yaml(
      V1,
      'listen:',
      '  proxy: ["0.0.0.0:8000", "8001", { address: "[::1]:8002" }]',
      '  status: "localhost:99999"',
      'trusted_proxies: ["10.0.0.0/8", "::1", "10.0.0.0/33", "proxy.internal"]',
      'upstreams:',
      '  - name: u',
      '    targets:',
      '      - url: http://127.0.0.1:9001/api',
      '      - url: http://127.0.0.1:9002',
      'services:',
      '  - name: s',
      '    upstream: u',
      '    routes:',
      '      - name: r',
      '        paths: ["/"]',
      '        hosts: ["api.example.com", "*.example.com", "API.example.com", "api.example.com:8000", "a.*.com"]',
    );
    const host = 'is not a lower-case host name (a leading "*." is allowed; no port)';
    sameProblems(problems(text), [
      'gw.yaml:3:27 listen.proxy[1]: must be host:port, e.g. "0.0.0.0:8000" or "[::1]:8000"',
      'gw.yaml:4:11 listen.status: port must be 0-65535',
      'gw.yaml:5:40 trusted_proxies[2]: "10.0.0.0/33" is not an IP address or CIDR range',
      'gw.yaml:5:55 trusted_proxies[3]: "proxy.internal" is not an IP address or CIDR range',
      'gw.yaml:9:14 upstreams[0].targets[0].url: a target is an origin (scheme://host:port); put a base path on the service URL instead',
      `gw.yaml:17:53 services[0].routes[0].hosts[2]: "API.example.com" ${host}`,
      `gw.yaml:17:72 services[0].routes[0].hosts[3]: "api.example.com:8000" ${host}`,
      `gw.yaml:17:96 services[0].routes[0].hosts[4]: "a.*.com" ${host}`,
    ]);
  });

  test('an empty list of proxy listeners is refused', () => {
    assert.equal(problems(yaml(V1, 'listen: { proxy: [] }')).length, 1);
  });

  test('unknown plugin names and plugin schema errors', () => {
    const text = yaml(
      V1,
      'plugins:',
      '  header: {}',
      'services:',
      '  - name: s',
      '    url: http://127.0.0.1:9001',
      '    routes:',
      '      - name: r',
      '        paths: ["/"]',
      '        plugins:',
      '          no-such-plugin: {}',
      '          headers:',
      '            request:',
      '              set: { x-evil: "a\\r\\nb" }',
      '          prometheus: {}',
    );
    const known = 'acl, auth, basic-auth, cache, compression, cors, fault-injection, forward-auth, headers, introspection, ip-restriction, jwt, key-auth, mock, mtls-auth, openid-connect, quota, rate-limit, redirect, request-mirror, request-size-limit, request-termination, request-validator, rewrite, transform, versioning';
    sameProblems(problems(text), [
      `gw.yaml:3:3 plugins.header: unknown plugin "header" (did you mean "headers"?); the plugins are: ${known}`,
      `gw.yaml:11:11 services[0].routes[0].plugins.no-such-plugin: unknown plugin "no-such-plugin"; the plugins are: ${known}`,
      'gw.yaml:14:30 services[0].routes[0].plugins.headers.request.set.x-evil: must not contain CR, LF or NUL',
      'gw.yaml:15:11 services[0].routes[0].plugins.prometheus: "prometheus" is not a plugin: Prometheus metrics are built in: GET /metrics on the status listener (docs/observability.md)',
    ]);
  });

  test('the headers plugin refuses headers the gateway owns', () => {
    const text = yaml(
      V1,
      'services:',
      '  - name: s',
      '    url: http://127.0.0.1:9001',
      '    plugins:',
      '      headers:',
      '        request:',
      '          set: { Host: example.org, x-ok: fine }',
      '        response:',
      '          remove: [x-powered-by, Transfer-Encoding]',
    );
    const owned = 'is managed by the gateway and cannot be edited here';
    sameProblems(problems(text), [
      `gw.yaml:8:24 services[0].plugins.headers.request.set.Host: "Host" ${owned}`,
      `gw.yaml:10:34 services[0].plugins.headers.response.remove[1]: "Transfer-Encoding" ${owned}`,
    ]);
  });

  test('YAML syntax errors and duplicate keys carry the parser position', () => {
    sameProblems(problems(yaml(V1, 'services:', '\t- name: a')), ['gw.yaml:3:1 (root): Tabs are not allowed as indentation']);
    sameProblems(problems(yaml(V1, 'listen:', '  proxy: ":8000"', '  proxy: ":8001"')), ['gw.yaml:4:3 (root): Map keys must be unique']);
  });

  test('_format_version must be the string "1"', () => {
    sameProblems(problems('_format_version: 1\n'), ['gw.yaml:1:18 _format_version: must be "1" (quoted)']);
    sameProblems(problems('_format_version: "2"\n'), ['gw.yaml:1:18 _format_version: must be "1" (quoted)']);
    sameProblems(problems(''), ['gw.yaml:1:1 (root): must be object']);
  });

  test('engine is native or node; native by default', () => {
    sameProblems(problems(yaml(V1, 'engine: fast')), ["gw.yaml:2:9 engine: must be node (node:http and undici) or native (Northgate's HTTP/1.1 engine)"]);
    assert.equal(load(yaml(V1, 'engine: node')).engine, 'node');
    const pools = new PoolRegistry();
    assert.equal(buildSnapshot(load(yaml(V1)), registry, pools, 1, 'gw.yaml').snapshot.engine, 'native');
    assert.equal(buildSnapshot(load(yaml(V1, 'engine: node')), registry, pools, 2, 'gw.yaml').snapshot.engine, 'node');
  });

  test('several problems of different kinds in one file are all reported', () => {
    const text = yaml(
      V1,
      'trusted_proxies: ["10.0.0.256"]',
      'services:',
      '  - name: a',
      '    upstream: nowhere',
      '    routes: [{ name: r, paths: ["x"] }]',
      '  - name: a',
      '    url: http://127.0.0.1:9001',
    );
    sameProblems(problems(text), [
      'gw.yaml:2:19 trusted_proxies[0]: "10.0.0.256" is not an IP address or CIDR range',
      'gw.yaml:5:15 services[0].upstream: no upstream named "nowhere"',
      'gw.yaml:6:33 services[0].routes[0].paths[0]: must start with "/" (or "=/" for an exact path, "~" for a regex)',
      'gw.yaml:7:11 services[1].name: duplicate service name "a" (first at services[0])',
    ]);
  });
});

describe('JSON config files', () => {
  const json = JSON.stringify({ _format_version: '1', services: [{ name: 'a', url: 'http://127.0.0.1:9001', routes: [{ name: 'r', paths: ['/a'], strip_path: true }] }] }, null, 2);

  test('load with the same loader, to the same value as the YAML form', () => {
    const fromJson = load(json, {}, 'gw.json');
    const fromYaml = load(yaml(V1, 'services:', '  - name: a', '    url: http://127.0.0.1:9001', '    routes: [{ name: r, paths: ["/a"], strip_path: true }]'));
    assert.deepEqual(fromJson, fromYaml);
    assert.equal(fromJson.services?.[0]?.routes?.[0]?.strip_path, true);
  });

  test('problems in a JSON file are located too', () => {
    // JSON.stringify with 2 spaces puts the paths item on line 11 and strip_path on line 13.
    sameProblems(problems(json.replace('"/a"', '"api"'), {}, 'gw.json'), [
      'gw.json:11:13 services[0].routes[0].paths[0]: must start with "/" (or "=/" for an exact path, "~" for a regex)',
    ]);
    sameProblems(problems(json.replace('"strip_path"', '"strip_pth"'), {}, 'gw.json'), [
      'gw.json:13:11 services[0].routes[0].strip_pth: unknown key "strip_pth" (did you mean "strip_path"?)',
    ]);
    sameProblems(problems('{\n  "_format_version": "1",\n  "_format_version": "1"\n}\n', {}, 'gw.json'), ['gw.json:3:3 (root): Map keys must be unique']);
  });
});

describe('${VAR} substitution', () => {
  test('${VAR} and ${VAR:-default} are replaced inside strings; unquoted ${VAR} becomes a number', () => {
    const text = yaml(
      V1,
      'listen:',
      '  proxy: "${HOST:-0.0.0.0}:${PORT}"',
      '  status: ${STATUS:-127.0.0.1:8100}',
      'limits:',
      '  max_connections: ${MAXC}',
      'services:',
      '  - name: s',
      '    url: "http://${UP_HOST}:9001"',
    );
    const c = load(text, { PORT: '8080', MAXC: '100', UP_HOST: 'backend' });
    assert.deepEqual(c.listen, { proxy: '0.0.0.0:8080', status: '127.0.0.1:8100' });
    assert.equal(c.limits?.max_connections, 100);
    assert.equal(c.services?.[0]?.url, 'http://backend:9001');
    // A quoted reference stays a string, so a number field refuses it.
    sameProblems(problems(yaml(V1, 'limits:', '  max_connections: "${MAXC}"'), { MAXC: '100' }), ['gw.yaml:3:20 limits.max_connections: must be integer']);
  });

  test('an unset variable without a default is a located error', () => {
    const text = yaml(V1, 'services:', '  - name: s', '    url: "http://${UP_HOST}:${UP_PORT}"');
    sameProblems(problems(text, { UP_PORT: '9001' }), ['gw.yaml:4:10 (root): environment variable UP_HOST is not set (use ${NAME:-default} for a default)']);
    sameProblems(problems(text), ['gw.yaml:4:10 (root): environment variable UP_HOST, UP_PORT is not set (use ${NAME:-default} for a default)']);
  });

  test('a value that looks like YAML or a reference stays a plain string', () => {
    const text = yaml(
      V1,
      'services:',
      '  - name: s',
      '    url: http://127.0.0.1:9001',
      '    routes:',
      '      - paths: ["/"]',
      '        headers:',
      '          x-tag:',
      '            - ${A}',
      '            - "${B}"',
      '            - ${C}',
    );
    const c = load(text, { A: 'a: b\n- c', B: '{ "services": [] }', C: '${A}' });
    assert.deepEqual(c.services?.[0]?.routes?.[0]?.headers, { 'x-tag': ['a: b\n- c', '{ "services": [] }', '${A}'] });
    assert.equal(c.services?.length, 1);
  });
});

describe('parseDuration', () => {
  test('accepts ms, s, m, h with decimals', () => {
    assert.deepEqual(['250ms', '2s', '1m', '1.5s', '1h', '0.5m'].map(parseDuration), [250, 2000, 60_000, 1500, 3_600_000, 30_000]);
    assert.equal(formatDuration(90_000), '90s');
  });

  test('rejects a missing unit, spaces, signs and unknown units', () => {
    for (const bad of ['5', '5 s', '-1s', '+1s', '1.s', 's', '5sec', '', '1S']) assert.equal(parseDuration(bad), undefined, bad);
  });
});

describe('a full config compiles into a snapshot', () => {
  const pools = new PoolRegistry();
  after(() => pools.closeAll());

  const FULL = yaml(
    V1,
    'listen: { proxy: ["127.0.0.1:8000", { address: "[::1]:8001" }], status: null }',
    'trusted_proxies: ["10.0.0.0/8", "::1"]',
    'limits: { max_header_bytes: 32768, request_timeout: 1m }',
    'shutdown: { drain_timeout: 5s }',
    'access_log: { enabled: false }',
    'upstreams:',
    '  - name: orders',
    '    balancer: round-robin',
    '    targets: [{ url: "http://127.0.0.1:9001", weight: 3 }, { url: "http://127.0.0.1:9002/" }]',
    '  - { name: orders-copy, targets: [{ url: "http://127.0.0.1:9001" }] }',
    'services:',
    '  - name: orders',
    '    upstream: orders',
    '    timeouts: { read: 5s }',
    '    plugins: { headers: { request: { set: { x-svc: orders } } } }',
    '    routes:',
    '      - { name: list, paths: ["/orders", "=/orders/count"], hosts: ["api.example.com", "*.example.com"], methods: [GET], strip_path: true }',
    '      - name: detail',
    '        paths: ["/orders/:id"]',
    '        headers: { X-Env: [canary] }',
    '        priority: 5',
    '        preserve_host: true',
    '        plugins: { headers: { response: { add: { x-route: detail } } } }',
    '  - { name: copy, upstream: orders-copy, routes: [{ paths: ["~^/copy/(?<n>[0-9]+)$"] }] }',
    '  - { name: legacy, url: "http://127.0.0.1:9002/legacy/", routes: [{ name: legacy, paths: ["/legacy"] }] }',
    '  - { name: slow, url: "http://127.0.0.1:9003", timeouts: { connect: 500ms } }',
    'consumers: []',
    'plugins: { headers: { response: { remove: [server] } } }',
  );

  test('limits, listeners, timeouts and routes are compiled with defaults filled in', () => {
    const { snapshot } = buildSnapshot(load(FULL), registry, pools, 1, 'gw.yaml');
    const limits = { maxHeaderBytes: 32768, maxBodyBytes: 10 * 1024 * 1024, headerTimeoutMs: 10_000, idleTimeoutMs: 60_000, requestTimeoutMs: 60_000, maxConnections: 16_384 };
    assert.deepEqual(snapshot.limits, limits);
    const proxy = [{ host: '127.0.0.1', port: 8000, address: '127.0.0.1:8000', tls: null, http2: false, redirectHttps: false }, { host: '::1', port: 8001, address: '[::1]:8001', tls: null, http2: false, redirectHttps: false }];
    assert.deepEqual(snapshot.listeners, { proxy, status: null });
    assert.deepEqual([snapshot.drainTimeoutMs, snapshot.accessLog], [5000, null]);
    assert.equal(snapshot.trustedProxies?.check('10.1.2.3', 'ipv4'), true);
    assert.equal(snapshot.trustedProxies?.check('11.0.0.1', 'ipv4'), false);
    assert.equal(snapshot.trustedProxies?.check('::1', 'ipv6'), true);

    const svc = (n: string) => snapshot.services.get(n)!;
    assert.deepEqual([svc('orders').connectTimeoutMs, svc('orders').readTimeoutMs], [2000, 5000]);
    assert.deepEqual([svc('slow').connectTimeoutMs, svc('slow').readTimeoutMs], [500, 30_000]);
    assert.equal(svc('legacy').basePath, '/legacy');
    assert.deepEqual(svc('orders').upstream.targets.map((t) => [t.origin, t.weight]), [['http://127.0.0.1:9001', 3], ['http://127.0.0.1:9002', 1]]);

    // list: 2 hosts × 2 paths; detail, copy-0 and legacy: one entry each.
    assert.equal(snapshot.routes.length, 7);
    assert.deepEqual([...new Set(snapshot.routes.map((e) => e.route.name))].sort(), ['copy-0', 'detail', 'legacy', 'list']);
    const detail = snapshot.routes.find((e) => e.route.name === 'detail')!.route;
    assert.deepEqual([detail.priority, detail.preserveHost, detail.stripPath, detail.headers], [5, true, false, [['x-env', ['canary']]]]);
    const q = { method: 'GET', host: 'shop.example.com', path: '/orders/count', header: () => undefined, queryParam: () => undefined, matchLength: 0, params: null };
    assert.equal(snapshot.router.match(q)?.route.name, 'list');
    snapshot.dispose();
  });

  test('identical target origins share one pool, also across rebuilds', () => {
    const first = buildSnapshot(load(FULL), registry, pools, 1, 'gw.yaml');
    const s = first.snapshot.services;
    const dispatcher = (svc: string, i: number) => s.get(svc)!.upstream.targets[i]!.dispatcher;
    assert.equal(dispatcher('orders', 0), dispatcher('copy', 0), 'both upstreams list http://127.0.0.1:9001');
    assert.equal(dispatcher('orders', 1), dispatcher('legacy', 0), 'http://127.0.0.1:9002/ and the legacy service URL have one origin');
    assert.notEqual(dispatcher('orders', 0), dispatcher('orders', 1));
    assert.equal(first.pools.size, 3);
    const second = buildSnapshot(load(FULL), registry, pools, 2, 'gw.yaml');
    assert.equal(second.pools.size, 3);
    for (const pool of second.pools) assert.ok(first.pools.has(pool), 'a rebuild reuses the pools (same objects)');
    assert.equal(pools.size, 3);
  });

  test('a minimal config gets the documented defaults', () => {
    const { snapshot } = buildSnapshot(load(yaml(V1)), registry, pools, 1, 'gw.yaml');
    assert.deepEqual(snapshot.listeners.proxy.map((l) => l.address), ['0.0.0.0:8000']);
    assert.equal(snapshot.listeners.status?.address, '127.0.0.1:8100');
    assert.deepEqual([snapshot.routes.length, snapshot.accessLog !== null, snapshot.drainTimeoutMs, snapshot.trustedProxies], [0, true, 30_000, null]);
    assert.deepEqual([snapshot.limits.headerTimeoutMs, snapshot.limits.requestTimeoutMs, snapshot.limits.maxBodyBytes], [10_000, 300_000, 10_485_760]);
  });
});
