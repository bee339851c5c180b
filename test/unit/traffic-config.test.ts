// The config of routes' traffic fields (query, backends, session_persistence): what loads,
// what is refused and where the refusal points; and the weighted-backend pick itself
// (smooth, exact over a window, state kept for unchanged backends).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildSnapshot, loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { PoolRegistry } from '../../src/upstream/pools.js';
import { BackendStates } from '../../src/upstream/backends.js';
import { HealthRegistry } from '../../src/upstream/health.js';
import type { CompiledRoute } from '../../src/proxy/route.js';

const registry = defaultRegistry();
const pools = new PoolRegistry();
after(() => pools.closeAll());
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const SECRET = 'session_persistence: { secret: "0123456789abcdef0123456789abcdef" }';
/** Lines 1-6; the first route item is line 7. */
const HEAD = ['_format_version: "1"', 'upstreams:', '  - { name: blue, targets: [{ url: "http://127.0.0.1:9001" }] }', 'services:', '  - name: a', '    url: http://127.0.0.1:9000', '    routes:'];

function problems(text: string): string[] {
  try {
    loadConfigText('gw.yaml', text, registry);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.lines();
  }
  return assert.fail('expected the config to be refused');
}

function routeOf(text: string, states = new BackendStates()): CompiledRoute {
  const config = loadConfigText('gw.yaml', text, registry);
  const { snapshot } = buildSnapshot(config, registry, pools, 1, 'gw.yaml', new HealthRegistry(), undefined, undefined, states);
  return snapshot.routes[0]!.route;
}

describe('traffic fields: refusals at FILE:LINE:COL PATH', () => {
  test('query: a pattern RE2 cannot run, a value that is not a string', () => {
    assert.deepEqual(problems(yaml(...HEAD, '      - { paths: ["/"], query: { a: "~(x)\\\\1" } }')), [
      'gw.yaml:8:37 services[0].routes[0].query.a: invalid regular expression: backreferences are not supported (patterns run on RE2, in linear time): invalid escape sequence: \\1',
    ]);
    assert.deepEqual(problems(yaml(...HEAD, '      - { paths: ["/"], query: { b: 2 } }')), ['gw.yaml:8:37 services[0].routes[0].query.b: must be string']);
  });

  test('two routes with the same path and query conditions are one too many; other conditions are fine', () => {
    const lines = problems(yaml(...HEAD, '      - { paths: ["/"], query: { a: "1", b: "2" } }', '      - { paths: ["/"], query: { b: "2", a: "1" } }', '      - { paths: ["/"], query: { a: "1" } }'));
    assert.deepEqual(lines, ['gw.yaml:9:18 services[0].routes[1].paths: matches exactly the same requests as services[0].routes[0]; one of them could never be chosen']);
  });

  test('backends: exactly one of upstream or url, a known upstream, a URL without query, no gateway-owned headers, weights 0 or more', () => {
    const lines = problems(
      yaml(
        ...HEAD,
        '      - paths: ["/"]',
        '        backends:',
        '          - { weight: 1 }',
        '          - { upstream: bleu }',
        '          - { url: "http://127.0.0.1:9002/?x=1" }',
        '          - { upstream: blue, headers: { request: { set: { Host: x }, remove: [content-length] } } }',
        '          - { upstream: blue, url: "http://127.0.0.1:9002" }',
      ),
    );
    assert.deepEqual(lines, [
      'gw.yaml:10:13 services[0].routes[0].backends[0]: needs exactly one of "upstream" (a name from upstreams) or "url"',
      'gw.yaml:11:25 services[0].routes[0].backends[1].upstream: no upstream named "bleu" (did you mean "blue"?)',
      'gw.yaml:12:20 services[0].routes[0].backends[2].url: must not have a query or fragment',
      'gw.yaml:13:66 services[0].routes[0].backends[3].headers.request.set.Host: "Host" is managed by the gateway and cannot be edited here',
      'gw.yaml:13:80 services[0].routes[0].backends[3].headers.request.remove[0]: "content-length" is managed by the gateway and cannot be edited here',
      'gw.yaml:14:13 services[0].routes[0].backends[4]: needs exactly one of "upstream" (a name from upstreams) or "url"',
    ]);
    assert.deepEqual(problems(yaml(...HEAD, '      - { paths: ["/"], backends: [{ upstream: blue, weight: -1 }] }')), ['gw.yaml:8:62 services[0].routes[0].backends[0].weight: must be >= 0']);
  });

  test('session_persistence needs the top-level secret, of 32 characters or more, and a token name', () => {
    assert.deepEqual(problems(yaml(...HEAD, '      - { paths: ["/"], session_persistence: { type: cookie, name: ng } }')), [
      'gw.yaml:8:46 services[0].routes[0].session_persistence: needs the signing key: session_persistence: { secret: ${SESSION_SECRET} } at the top level of the config',
    ]);
    const [badName] = problems(yaml(SECRET, ...HEAD, '      - { paths: ["/"], session_persistence: { type: cookie, name: "ng session" } }'));
    assert.match(badName!, /^gw\.yaml:9:\d+ services\[0\]\.routes\[0\]\.session_persistence\.name: must match pattern/);
    const short = problems(yaml('session_persistence: { secret: short }', ...HEAD, '      - { paths: ["/"], session_persistence: { type: header, name: x-session } }'));
    assert.deepEqual(short.map((l) => l.replace(/:\d+:\d+ /, ' ')), ['gw.yaml session_persistence.secret: must be at least 32 characters (use ${ENV})']);
  });
});

describe('weighted backends, compiled', () => {
  const config = (weights: number[]) =>
    yaml(SECRET, ...HEAD, '      - name: w', '        paths: ["/"]', '        backends:', ...weights.map((w, i) => `          - { url: "http://127.0.0.1:${9100 + i}", weight: ${w} }`));

  test('smooth and exact: every window of sum(weights) picks holds each backend weight times, never a burst', () => {
    const route = routeOf(config([5, 1, 1]));
    const picks = Array.from({ length: 70 }, () => route.backends!.pick(Date.now())!.name);
    for (let w = 0; w < 70; w += 7) {
      const window = picks.slice(w, w + 7);
      assert.deepEqual([0, 1, 2].map((i) => window.filter((n) => n === `http://127.0.0.1:${9100 + i}`).length), [5, 1, 1], window.join(' '));
    }
    // nginx's order for 5:1:1 is a a b a c a a: the light backends are spread out.
    assert.deepEqual(picks.slice(0, 7).map((n) => n.slice(-1)), ['0', '0', '1', '0', '2', '0', '0']);
  });

  test('weight 0 is never picked; all weights 0 pick nothing', () => {
    const route = routeOf(config([3, 0, 1]));
    const names = new Set(Array.from({ length: 40 }, () => route.backends!.pick(Date.now())!.name));
    assert.deepEqual([...names].sort(), ['http://127.0.0.1:9100', 'http://127.0.0.1:9102']);
    assert.equal(routeOf(config([0, 0])).backends!.pick(Date.now()), null);
  });

  test('the progress survives a rebuild with the same backends, and restarts when they change', () => {
    const states = new BackendStates();
    const first = routeOf(config([1, 3]), states);
    const a = [first.backends!.pick(Date.now())!.name, first.backends!.pick(Date.now())!.name];
    states.retain();
    const same = routeOf(config([1, 3]), states);
    const b = [same.backends!.pick(Date.now())!.name, same.backends!.pick(Date.now())!.name];
    // One window of 4 across the rebuild: exactly 1 and 3.
    assert.deepEqual([...a, ...b].filter((n) => n.endsWith('9100')).length, 1);
    states.retain();
    const changed = routeOf(config([1, 4]), states);
    assert.notEqual(changed.backends, same.backends);
    const window = Array.from({ length: 5 }, () => changed.backends!.pick(Date.now())!.name);
    assert.equal(window.filter((n) => n.endsWith('9100')).length, 1);
  });

  test('each backend is the route with its own upstream, base path, timeouts and retries', () => {
    const route = routeOf(
      yaml(
        ...HEAD,
        '      - name: w',
        '        paths: ["/"]',
        '        timeouts: { read: 7s }',
        '        backends:',
        '          - { upstream: blue }',
        '          - { url: "http://127.0.0.1:9002/v2/", timeouts: { read: 1s, connect: 250ms }, retries: { attempts: 3, on: [502] } }',
      ),
    );
    const [blue, v2] = route.backends!.list;
    assert.equal(blue!.service.upstream.name, 'blue');
    assert.equal(blue!.service.readTimeoutMs, 7000);
    assert.equal(blue!.service.basePath, '');
    assert.equal(blue!.route.backends, null);
    assert.equal(blue!.route.name, 'w');
    assert.equal(v2!.name, 'http://127.0.0.1:9002/v2/');
    assert.equal(v2!.service.basePath, '/v2');
    assert.deepEqual([v2!.service.readTimeoutMs, v2!.service.connectTimeoutMs, v2!.service.retries.attempts], [1000, 250, 3]);
    assert.deepEqual([...v2!.service.retries.on], ['502']);
    assert.equal(v2!.service.stats, route.service.stats, 'the retry budget stays the service\'s');
    assert.notEqual(blue!.id, v2!.id);
  });
});
