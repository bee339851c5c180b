// Route selection: the documented precedence, checked through both the indexed
// `router.match` and the linear `router.explain` (which walks `router.ordered`), plus a
// seeded property test that the two always agree.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { buildSnapshot, loadConfigText } from '../../src/compiler/load.js';
import { Chain } from '../../src/pipeline/chain.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { normalizePath, type PathPolicy } from '../../src/proxy/request-path.js';
import type { CompiledRoute, RouteEntry } from '../../src/proxy/route.js';
import { foldCase, parsePathPattern } from '../../src/router/path-pattern.js';
import { Router, type RouterInput } from '../../src/router/router.js';
import { PoolRegistry } from '../../src/upstream/pools.js';
import type { Service } from '../../src/upstream/service.js';
import { firstQueryValues } from '../../src/base/query-params.js';
import { compileQueryConditions, type QueryCondition } from '../../src/router/query-match.js';

const registry = defaultRegistry();
const pools = new PoolRegistry();
after(() => pools.closeAll());

/** A router from route items (flow YAML), all in one service, in file order. */
function routerOf(...routes: string[]): Router<CompiledRoute> {
  const text = ['_format_version: "1"', 'services:', '  - name: s', '    url: http://127.0.0.1:9', '    routes:', ...routes.map((r) => `      - ${r}`)].join('\n');
  return buildSnapshot(loadConfigText('routes.yaml', text, registry), registry, pools, 1, 'routes.yaml').snapshot.router;
}

interface Req { method?: string; host?: string; headers?: Record<string, string>; query?: string }

function query(path: string, r: Req = {}): RouterInput {
  const headers = r.headers ?? {};
  const params = firstQueryValues(r.query ?? '');
  return { method: r.method ?? 'GET', host: r.host ?? 'gw.test', path, header: (n) => headers[n], queryParam: (n) => params.get(n), matchLength: 0, params: null };
}

/** The matched route's name (null: 404); the linear explain must pick the same entry. */
function hit(router: Router<CompiledRoute>, path: string, r: Req = {}): string | null {
  const q = query(path, r);
  const e = router.match(q);
  assert.equal(router.explain(query(path, r)).matched, e, `explain and match disagree on ${r.host ?? 'gw.test'}${path}`);
  return e?.route.name ?? null;
}

describe('host classes', () => {
  test('exact host, then wildcards from the longest suffix, then routes without hosts', () => {
    const router = routerOf(
      '{ name: any, paths: ["/"] }',
      '{ name: wild, paths: ["/"], hosts: ["*.example.com"] }',
      '{ name: deep-wild, paths: ["/"], hosts: ["*.b.example.com"] }',
      '{ name: exact, paths: ["/"], hosts: ["api.example.com"] }',
    );
    assert.equal(hit(router, '/', { host: 'api.example.com' }), 'exact');
    assert.equal(hit(router, '/', { host: 'a.example.com' }), 'wild');
    assert.equal(hit(router, '/', { host: 'x.y.example.com' }), 'wild');
    assert.equal(hit(router, '/', { host: 'b.example.com' }), 'wild');
    assert.equal(hit(router, '/', { host: 'a.b.example.com' }), 'deep-wild');
    assert.equal(hit(router, '/', { host: 'example.com' }), 'any');
    assert.equal(hit(router, '/', { host: 'notexample.com' }), 'any');
  });

  test('names with "_" (gRPC service names, SRV-style labels) are exact hosts and wildcard labels like any other', () => {
    const router = routerOf(
      '{ name: any, paths: ["/"] }',
      '{ name: wild, paths: ["/"], hosts: ["*.echo_basic.example"] }',
      '{ name: exact, paths: ["/"], hosts: ["gateway_api_conformance.echo_basic.grpcecho.grpcecho"] }',
    );
    assert.equal(hit(router, '/', { host: 'gateway_api_conformance.echo_basic.grpcecho.grpcecho' }), 'exact');
    assert.equal(hit(router, '/', { host: 'a_b.echo_basic.example' }), 'wild');
    assert.equal(hit(router, '/', { host: 'echo_basic.example' }), 'any', 'the wildcard needs a label');
    assert.equal(hit(router, '/', { host: 'echo-basic.example' }), 'any', '"_" and "-" are different characters');
    assert.equal(hit(router, '/', { host: "a;b=c'd.echo_basic.example" }), 'wild', 'a label of sub-delims is a label');
  });

  test('wildcard_labels: one covers one label, and is tried before the wildcard of the same suffix', () => {
    const router = routerOf(
      '{ name: any, paths: ["/"] }',
      '{ name: one, paths: ["/"], hosts: ["*.example.com"], wildcard_labels: one }',
      '{ name: one-api, paths: ["/api"], hosts: ["*.b.example.com"], wildcard_labels: one }',
      '{ name: many-api, paths: ["/api"], hosts: ["*.b.example.com"] }',
    );
    assert.equal(hit(router, '/', { host: 'a.example.com' }), 'one');
    assert.equal(hit(router, '/', { host: 'a.b.example.com' }), 'any');
    assert.equal(hit(router, '/x', { host: 'x.y.example.com' }), 'any');
    assert.equal(hit(router, '/', { host: 'example.com' }), 'any');
    assert.equal(hit(router, '/api', { host: 'a.b.example.com' }), 'one-api');
    assert.equal(hit(router, '/api', { host: 'x.a.b.example.com' }), 'many-api');
    assert.match(router.explain(query('/', { host: 'a.b.example.com' })).tried.find((t) => t.entry.route.name === 'one')!.reason, /one label/);
  });

  test('a host class wins over a more specific path in a less specific class', () => {
    const router = routerOf('{ name: deep, paths: ["/admin/users"] }', '{ name: host-root, paths: ["/"], hosts: ["api.example.com"] }');
    assert.equal(hit(router, '/admin/users', { host: 'api.example.com' }), 'host-root');
    assert.equal(hit(router, '/admin/users', { host: 'web.example.com' }), 'deep');
  });

  test('a host route that does not match the path (or method) falls back to less specific classes', () => {
    const router = routerOf(
      '{ name: admin, paths: ["/admin"], hosts: ["api.example.com"] }',
      '{ name: post-only, paths: ["/"], hosts: ["api.example.com"], methods: [POST] }',
      '{ name: wild-v1, paths: ["/v1"], hosts: ["*.example.com"] }',
      '{ name: any, paths: ["/"] }',
    );
    assert.equal(hit(router, '/admin/x', { host: 'api.example.com' }), 'admin');
    assert.equal(hit(router, '/v1/x', { host: 'api.example.com' }), 'wild-v1');
    assert.equal(hit(router, '/other', { host: 'api.example.com', method: 'POST' }), 'post-only');
    assert.equal(hit(router, '/other', { host: 'api.example.com' }), 'any');
    assert.equal(hit(router, '/admin', { host: 'example.com' }), 'any');
  });
});

describe('order inside a host class', () => {
  test('exact static, then exact with params, then regex, then prefix (file order aside)', () => {
    const router = routerOf(
      '{ name: prefix, paths: ["/users"] }',
      '{ name: regex, paths: ["~^/users/"] }',
      '{ name: exact-param, paths: ["=/users/:id"] }',
      '{ name: exact, paths: ["=/users/me"] }',
    );
    assert.equal(hit(router, '/users/me'), 'exact');
    assert.equal(hit(router, '/users/7'), 'exact-param');
    assert.equal(hit(router, '/users/7/orders'), 'regex');
    assert.equal(hit(router, '/users/'), 'regex');
    assert.equal(hit(router, '/users'), 'prefix');
  });

  test('regex routes by priority (higher first), then file order; all before any prefix', () => {
    const router = routerOf(
      '{ name: r-first, paths: ["~^/r/"] }',
      '{ name: r-second, paths: ["~^/r/a"] }',
      '{ name: r-high, paths: ["~^/r/a/b"], priority: 5 }',
      '{ name: r-low, paths: ["~^/r/"], priority: -1, methods: [DELETE] }',
      '{ name: deep-prefix, paths: ["/r/a/b/c"] }',
    );
    assert.equal(hit(router, '/r/a/b/c'), 'r-high');
    assert.equal(hit(router, '/r/a/x'), 'r-first');
    assert.equal(hit(router, '/r/x', { method: 'DELETE' }), 'r-first');
  });

  test('among regexes of equal priority, more constraints come before file order', () => {
    const router = routerOf('{ name: any-method, paths: ["~^/r/"] }', '{ name: get-only, paths: ["~^/r/a"], methods: [GET] }');
    assert.equal(hit(router, '/r/a'), 'get-only');
    assert.equal(hit(router, '/r/a', { method: 'POST' }), 'any-method');
  });

  test('trie order: static beats :param at the first differing segment, deeper beats its own prefix', () => {
    const router = routerOf(
      '{ name: a-param-deep, paths: ["/a/:id/c/d"] }',
      '{ name: a-b, paths: ["/a/b"] }',
      '{ name: a-b-c, paths: ["/a/b/c"] }',
      '{ name: a-param-d, paths: ["/a/:id/d"] }',
      '{ name: a, paths: ["/a"] }',
      '{ name: q-b-c, paths: ["/q/b/c"] }',
      '{ name: q-param-d, paths: ["/q/:id/d"] }',
    );
    assert.equal(hit(router, '/a/b/c/d'), 'a-b-c');
    assert.equal(hit(router, '/a/b/x'), 'a-b');
    assert.equal(hit(router, '/a/b/d'), 'a-b');
    assert.equal(hit(router, '/a/x/d'), 'a-param-d');
    assert.equal(hit(router, '/a/x/c/d/e'), 'a-param-deep');
    assert.equal(hit(router, '/a/x'), 'a');
    // The static branch has no route for /q/b/d, so the walk backs up to the parameter.
    assert.equal(hit(router, '/q/b/d'), 'q-param-d');
    assert.equal(hit(router, '/q/b'), null);
  });

  test('priority orders regexes and same-path routes only, never kinds or trie depth', () => {
    const router = routerOf('{ name: pri-prefix, paths: ["/k"], priority: 100 }', '{ name: exact, paths: ["=/k"] }', '{ name: deeper, paths: ["/k/x"] }');
    assert.equal(hit(router, '/k'), 'exact');
    assert.equal(hit(router, '/k/x/y'), 'deeper');
    assert.equal(hit(router, '/k/y'), 'pri-prefix');
  });
});

describe('prefixes match on segment boundaries', () => {
  test('/api/orders, /api/ (same as /api) and /', () => {
    const router = routerOf('{ name: orders, paths: ["/api/orders"] }', '{ name: api, paths: ["/api/"] }', '{ name: root, paths: ["/"] }');
    for (const p of ['/api/orders', '/api/orders/', '/api/orders/7']) assert.equal(hit(router, p), 'orders', p);
    for (const p of ['/api/ordersX', '/api', '/api/', '/api/x']) assert.equal(hit(router, p), 'api', p);
    for (const p of ['/apix', '/', '/anything/deep/er']) assert.equal(hit(router, p), 'root', p);
    const only = routerOf('{ name: orders, paths: ["/api/orders"] }');
    assert.equal(hit(only, '/api/ordersX'), null);
    assert.equal(hit(only, '/api'), null);
  });
});

describe('same path: constraints, then priority, then file order', () => {
  test('more constraints first; a route whose method or header does not match is skipped', () => {
    const router = routerOf(
      '{ name: plain, paths: ["/m"] }',
      '{ name: get, paths: ["/m"], methods: [GET] }',
      '{ name: canary, paths: ["/m"], headers: { x-env: [canary] } }',
      '{ name: get-canary, paths: ["/m"], methods: [GET], headers: { X-Env: [canary, beta] } }',
      '{ name: deep-post, paths: ["/m/deep"], methods: [POST] }',
    );
    assert.equal(hit(router, '/m/deep/x'), 'get', 'the next candidate may be a shorter prefix');
    assert.equal(hit(router, '/m/deep/x', { method: 'POST' }), 'deep-post');
    assert.equal(hit(router, '/m', { headers: { 'x-env': 'canary' } }), 'get-canary');
    assert.equal(hit(router, '/m', { headers: { 'x-env': 'beta' } }), 'get-canary');
    assert.equal(hit(router, '/m'), 'get');
    assert.equal(hit(router, '/m', { method: 'POST', headers: { 'x-env': 'canary' } }), 'canary');
    assert.equal(hit(router, '/m', { method: 'POST', headers: { 'x-env': 'beta' } }), 'plain');
    assert.equal(hit(router, '/m', { method: 'DELETE' }), 'plain');
  });

  test('then higher priority, then file order', () => {
    const router = routerOf(
      '{ name: low, paths: ["/p"], methods: [GET] }',
      '{ name: high, paths: ["/p"], methods: [POST, GET], priority: 2 }',
      '{ name: first, paths: ["=/f"], methods: [GET] }',
      '{ name: second, paths: ["=/f"], methods: [GET, POST] }',
    );
    assert.equal(hit(router, '/p'), 'high');
    assert.equal(hit(router, '/f'), 'first');
    assert.equal(hit(router, '/f', { method: 'POST' }), 'second');
  });
});

describe('query parameters', () => {
  // The Gateway API's conformance case HTTPRouteQueryParamMatching, one route per rule match.
  const router = routerOf(
    '{ name: whale, paths: ["/"], query: { animal: whale } }',
    '{ name: dolphin, paths: ["/"], query: { animal: dolphin } }',
    '{ name: dolphin-blue, paths: ["/"], query: { animal: dolphin, color: blue } }',
    '{ name: upper, paths: ["/"], query: { ANIMAL: Whale } }',
    '{ name: path1, paths: ["/path1"], query: { animal: whale } }',
    '{ name: version-one, paths: ["/"], headers: { version: [one] }, query: { animal: whale } }',
    '{ name: path2-two, paths: ["/path2"], headers: { version: [two] }, query: { animal: whale } }',
    '{ name: path5, paths: ["/path5"] }',
    '{ name: hydra, paths: ["/"], query: { animal: hydra } }',
    '{ name: version-four, paths: ["/"], headers: { version: [four] } }',
  );
  const at = (path: string, q: string, headers?: Record<string, string>) => hit(router, path, { query: q, ...(headers ? { headers } : {}) });

  test('exact names and values, case-sensitive; more conditions first; other parameters ignored', () => {
    assert.equal(at('/', '?animal=whale'), 'whale');
    assert.equal(at('/', '?animal=dolphin'), 'dolphin');
    assert.equal(at('/', '?animal=dolphin&color=blue'), 'dolphin-blue');
    assert.equal(at('/', '?ANIMAL=Whale'), 'upper');
    assert.equal(at('/', '?animal=whale&otherparam=irrelevant'), 'whale');
    assert.equal(at('/', '?animal=dolphin&color=yellow'), 'dolphin');
    for (const q of ['?color=blue', '?animal=dog', '?animal=whaledolphin', '', '?Animal=whale', '?animal=Whale']) assert.equal(at('/', q), null, q);
  });

  test('with paths and headers; headers outrank query conditions (the Gateway API order)', () => {
    assert.equal(at('/path1', '?animal=whale'), 'path1');
    assert.equal(at('/', '?animal=whale', { version: 'one' }), 'version-one');
    assert.equal(at('/path2', '?animal=whale', { version: 'two' }), 'path2-two');
    assert.equal(at('/path5', '?animal=hydra'), 'path5');
    assert.equal(at('/', '?animal=hydra', { version: 'four' }), 'version-four');
    assert.equal(at('/', '?animal=hydra'), 'hydra');
  });

  test('a repeated parameter is read at its first value; names and values are decoded', () => {
    assert.equal(at('/', '?animal=whale&animal=dolphin'), 'whale');
    assert.equal(at('/', '?animal=dolphin&animal=whale'), 'dolphin');
    assert.equal(at('/', '?%61nimal=wh%61le'), 'whale');
    assert.equal(at('/', '?an%69mal=dolphin&c%6Flor=blu%65'), 'dolphin-blue');
    // An escape that is not UTF-8 stays as written: it equals no decoded value.
    assert.equal(at('/', '?animal=%ff'), null);
    const spaced = routerOf('{ name: spaced, paths: ["/"], query: { "first name": "Ada Lovelace" } }');
    assert.equal(hit(spaced, '/', { query: '?first+name=Ada+Lovelace' }), 'spaced');
    assert.equal(hit(spaced, '/', { query: '?first%20name=Ada%20Lovelace' }), 'spaced');
    assert.equal(hit(spaced, '/', { query: '?first_name=Ada+Lovelace' }), null);
  });

  test('"~" values are RE2 patterns, searched in the decoded value', () => {
    const r = routerOf('{ name: digits, paths: ["/"], query: { page: "~^[0-9]+$" } }', '{ name: beta, paths: ["/"], query: { flags: "~beta" } }', '{ name: rest, paths: ["/"] }');
    assert.equal(hit(r, '/', { query: '?page=12' }), 'digits');
    assert.equal(hit(r, '/', { query: '?page=12a' }), 'rest');
    assert.equal(hit(r, '/', { query: '?flags=x,beta,y' }), 'beta');
    assert.equal(hit(r, '/', { query: '?flags=%62eta' }), 'beta');
    assert.equal(hit(r, '/', { query: '?page=' }), 'rest');
  });

  test('explain names the query condition that failed', () => {
    const { tried, matched } = router.explain(query('/', { query: '?animal=dog' }));
    assert.equal(matched, null);
    assert.ok(tried.some((t) => t.reason === 'query parameter animal is "dog", wants "whale"'), JSON.stringify(tried.map((t) => t.reason)));
    const r = routerOf('{ name: digits, paths: ["/"], query: { page: "~^[0-9]+$" } }');
    assert.equal(r.explain(query('/', { query: '?page=x' })).tried[0]?.reason, 'query parameter page is "x", wants a match of ^[0-9]+$');
  });

  test('the query string is bounded: parameters past the 256th are not read', () => {
    const r = routerOf('{ name: late, paths: ["/"], query: { late: "1" } }');
    const filler = Array.from({ length: 300 }, (_, i) => `p${i}=x`).join('&');
    assert.equal(hit(r, '/', { query: `?${filler}&late=1` }), null);
    assert.equal(hit(r, '/', { query: `?late=1&${filler}` }), 'late');
  });
});

describe('matchLength and params', () => {
  const router = routerOf(
    '{ name: prefix, paths: ["/api/orders"] }',
    '{ name: exact, paths: ["=/health"] }',
    '{ name: items, paths: ["/users/:id/items/:item"] }',
    '{ name: exact-param, paths: ["=/u/:uid"] }',
    '{ name: versioned, paths: ["~^/v(?<ver>[0-9]+)/(?<rest>.*)$"] }',
    '{ name: anchored, paths: ["~^/legacy"] }',
    '{ name: suffix, paths: ["~/feed$"] }',
    '{ name: root, paths: ["/"] }',
  );
  const m = (path: string) => {
    const q = query(path);
    const e = router.match(q);
    return [e?.route.name, q.matchLength, q.params];
  };
  test('prefix, exact and root', () => {
    assert.deepEqual(m('/api/orders/7'), ['prefix', 11, null]);
    assert.deepEqual(m('/api/orders'), ['prefix', 11, null]);
    assert.deepEqual(m('/health'), ['exact', 7, null]);
    assert.deepEqual(m('/elsewhere'), ['root', 0, null]);
  });
  test(':param segments', () => {
    assert.deepEqual(m('/users/7/items/9/z'), ['items', 16, { id: '7', item: '9' }]);
    assert.deepEqual(m('/u/ab%2Fc'), ['exact-param', 9, { uid: 'ab%2Fc' }]);
  });
  test('regex named groups; matchLength only for a match at the start', () => {
    assert.deepEqual(m('/v2/a/b'), ['versioned', 7, { ver: '2', rest: 'a/b' }]);
    assert.deepEqual(m('/legacy/x'), ['anchored', 7, null]);
    assert.deepEqual(m('/news/feed'), ['suffix', 0, null]);
  });
});

describe('explain says why each earlier candidate did not match', () => {
  test('host, path, method and header reasons', () => {
    const router = routerOf(
      '{ name: host-only, paths: ["/x"], hosts: ["api.example.com"] }',
      '{ name: wild, paths: ["/x"], hosts: ["*.example.com"] }',
      '{ name: exact-other, paths: ["=/other"] }',
      '{ name: regex, paths: ["~rss$"] }',
      '{ name: posts, paths: ["/x"], methods: [POST, PUT] }',
      '{ name: env, paths: ["/x"], headers: { x-env: [canary, beta] } }',
      '{ name: fallback, paths: ["/"] }',
    );
    const explain = (r: Req) => {
      const { tried, matched } = router.explain(query('/x', r));
      return { tried: tried.map((t) => `${t.entry.route.name}: ${t.reason}`), matched: matched?.route.name };
    };
    const common = [
      'host-only: host "gw.test" does not match "api.example.com"',
      'wild: host "gw.test" does not match "*.example.com"',
      'exact-other: path "/x" does not match exact path /other',
      'regex: path "/x" does not match regex rss$',
      'posts: method GET is not one of POST, PUT',
    ];
    assert.deepEqual(explain({ headers: { 'x-env': 'prod' } }), { tried: [...common, 'env: header x-env is "prod", wants "canary" or "beta"'], matched: 'fallback' });
    assert.deepEqual(explain({}), { tried: [...common, 'env: header x-env is absent, wants "canary" or "beta"'], matched: 'fallback' });
    assert.deepEqual(explain({ headers: { 'x-env': 'beta' } }), { tried: common, matched: 'env' });
  });

  test('a regex is shown as written in the config', () => {
    const { tried } = routerOf('{ name: regex, paths: ["~^/r$"] }', '{ name: root, paths: ["/"] }').explain(query('/x'));
    assert.equal(tried[0]?.reason, 'path "/x" does not match regex ^/r$');
  });
});

// ---- property test: indexed match == linear explain --------------------------------

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICE = {} as Service;

function entriesFor(route: CompiledRoute, hosts: Array<string | null>, paths: string[]): RouteEntry[] {
  const out: RouteEntry[] = [];
  for (const host of hosts) {
    for (const p of paths) {
      const pattern = parsePathPattern(p);
      if (typeof pattern === 'string') throw new Error(`${p}: ${pattern}`);
      out.push({ route, host, pattern });
    }
  }
  return out;
}

function compiledRoute(name: string, index: number, o: Partial<Pick<CompiledRoute, 'priority' | 'methods' | 'headers' | 'query'>> = {}): CompiledRoute {
  return { name, index, service: SERVICE, priority: o.priority ?? 0, methods: o.methods ?? null, headers: o.headers ?? null, query: o.query ?? null, backends: null, session: null, stripPath: false, preserveHost: false, caseInsensitive: false, chain: Chain.EMPTY, configPath: `services[0].routes[${index}]` };
}

describe('property: router.match agrees with the documented linear order', () => {
  test('300 random route sets × 50 random requests (seeded)', () => {
    const rnd = mulberry32(0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const ROUTE_HOSTS = [null, null, null, 'a.example.com', 'example.com', 'b.example.com', '*.example.com', '*.b.example.com'];
    const REGEXES = ['~^/a', '~^/(?<first>[a-z]+)/b', '~c$', '~^/v1/(?<id>[^/]+)$', '~^/$', '~b/'];
    const SEGS = ['a', 'b', 'c', 'v1', ':id', ':p'];
    const METHODS = [null, null, null, new Set(['GET']), new Set(['POST']), new Set(['GET', 'POST'])];
    const HEADERS: Array<CompiledRoute['headers']> = [null, null, null, [['x-env', ['a']]], [['x-env', ['a', 'b']]], [['x-env', ['b']], ['x-t', ['1']]]];
    const conditions = (raw: Record<string, string>): QueryCondition[] => compileQueryConditions(raw) as QueryCondition[];
    const QUERIES: Array<CompiledRoute['query']> = [null, null, null, conditions({ v: '1' }), conditions({ v: '~^[12]$' }), conditions({ v: '2', w: 'x' })];
    const randomPattern = (): string => {
      const k = rnd();
      if (k < 0.15) return pick(REGEXES);
      const segs = Array.from({ length: Math.floor(rnd() * 4) }, () => pick(SEGS));
      const slash = segs.length > 0 && rnd() < 0.15 ? '/' : '';
      return `${k < 0.4 ? '=' : ''}/${segs.join('/')}${slash}`;
    };
    const REQ_HOSTS = ['a.example.com', 'example.com', 'b.example.com', 'x.b.example.com', 'a.b.example.com', 'x.example.com', 'other.test'];
    const REQ_SEGS = ['a', 'b', 'c', 'v1', 'zz', '7'];
    const randomRequest = (): RouterInput => {
      const segs = Array.from({ length: Math.floor(rnd() * 5) }, () => pick(REQ_SEGS));
      const path = `/${segs.join('/')}${segs.length > 0 && rnd() < 0.2 ? '/' : ''}`;
      const h: Record<string, string | undefined> = { 'x-env': pick([undefined, 'a', 'b', 'c']), 'x-t': pick([undefined, '1']) };
      const params = firstQueryValues(pick(['', '?v=1', '?v=2', '?v=2&w=x', '?w=x&v=3', '?v=1&v=2']));
      return { method: pick(['GET', 'POST', 'PUT']), host: pick(REQ_HOSTS), path, header: (n) => h[n], queryParam: (n) => params.get(n), matchLength: 0, params: null };
    };

    const seen = new Set<string>();
    let checked = 0;
    for (let set = 0; set < 300; set++) {
      const entries: RouteEntry[] = [];
      const n = 1 + Math.floor(rnd() * 25);
      for (let i = 0; i < n; i++) {
        const route = compiledRoute(`r${i}`, i, { priority: pick([0, 0, 0, 1, -1, 5]), methods: pick(METHODS), headers: pick(HEADERS), query: pick(QUERIES) });
        const hosts = rnd() < 0.2 ? [pick(ROUTE_HOSTS), pick(ROUTE_HOSTS)] : [pick(ROUTE_HOSTS)];
        const paths = rnd() < 0.2 ? [randomPattern(), randomPattern()] : [randomPattern()];
        entries.push(...entriesFor(route, [...new Set(hosts)], paths));
      }
      const router = new Router(entries);
      for (let r = 0; r < 50; r++) {
        const q = randomRequest();
        const fast = router.match(q);
        const slow = router.explain(q).matched;
        if (fast !== slow) {
          const show = (e: RouteEntry | null) => (e ? `${e.route.name} ${e.host ?? '*'} ${e.pattern.text}` : 'none');
          const table = router.ordered.map(show).join('\n  ');
          assert.fail(`set ${set}: ${q.method} ${q.host}${q.path} x-env=${q.header('x-env')} x-t=${q.header('x-t')}\n  match: ${show(fast)}\n  explain: ${show(slow)}\n  ordered:\n  ${table}`);
        }
        checked++;
        if (fast === null) seen.add('none');
        else seen.add(`${fast.host === null ? 'any' : fast.host.startsWith('*.') ? 'wildcard' : 'exact'}-host ${fast.pattern.kind}${fast.pattern.kind !== 'regex' && fast.pattern.hasParams ? '+params' : ''}`);
      }
    }
    assert.equal(checked, 300 * 50);
    // The generator must reach every branch of the index, or the test proves little.
    for (const kind of ['none', 'any-host exact', 'any-host exact+params', 'any-host regex', 'any-host prefix', 'any-host prefix+params', 'exact-host prefix', 'wildcard-host prefix', 'wildcard-host regex']) {
      assert.ok(seen.has(kind), `no request matched a ${kind} entry`);
    }
  });
});

describe('scale', () => {
  test('10,000 routes build, and every route is found by its own request', () => {
    const N = 10_000;
    const lines: string[] = [];
    const request = (i: number): [string, Req] => {
      const host = i % 10 === 5 ? `h${i}.bench.test` : 'gw.test';
      if (i % 10 === 3) return [`/exact/${i}`, { host }];
      if (i % 10 === 7) return [`/users/42/${i}/more`, { host }];
      return [`/svc/${i}/items/x`, { host }];
    };
    for (let i = 0; i < N; i++) {
      const path = i % 10 === 3 ? `=/exact/${i}` : i % 10 === 7 ? `/users/:id/${i}` : `/svc/${i}/items`;
      lines.push(`{ name: route-${i}, paths: ["${path}"]${i % 10 === 5 ? `, hosts: ["h${i}.bench.test"]` : ''} }`);
    }
    const router = routerOf(...lines);
    assert.equal(router.ordered.length, N);
    let found = 0;
    for (let i = 0; i < N; i++) {
      const [path, r] = request(i);
      if (router.match(query(path, r))?.route.name === `route-${i}`) found++;
    }
    assert.equal(found, N);
    for (const i of [0, 4_999, 5_005, 7_777, N - 1]) {
      const [path, r] = request(i);
      assert.equal(hit(router, path, r), `route-${i}`);
    }
    const users = query('/users/abc/7777/x');
    assert.equal(router.match(users)?.route.name, 'route-7777');
    assert.deepEqual(users.params, { id: 'abc' });
    assert.equal(hit(router, '/svc/5/items'), null, 'a host-bound route is not found under another host');
    assert.equal(hit(router, '/svc/10000/items'), null);
  });
});

describe('normalizePath', () => {
  const KEEP: PathPolicy = { escapedSlashes: 'keep', semicolons: 'reject' };
  const refused = (p: string, policy?: PathPolicy) => !normalizePath(p, policy).startsWith('/');

  test('decodes unreserved escapes, upper-cases the others, merges slashes', () => {
    assert.equal(normalizePath('/%61pi'), '/api');
    assert.equal(normalizePath('/a%7Eb%2dc%5F'), '/a~b-c_');
    assert.equal(normalizePath('/a%2bb%3a'), '/a%2Bb%3A');
    assert.equal(normalizePath('/caf%c3%a9'), '/caf%C3%A9');
    assert.equal(normalizePath('//a///b//'), '/a/b/');
    assert.equal(normalizePath('/a%2fb', KEEP), '/a%2Fb');
    assert.equal(normalizePath('/a%2Fb', KEEP), '/a%2Fb');
    // %2F is no separator for the router, but an upstream that decodes it would see "..": refused.
    assert.ok(refused('/a%2F..%2Fb', KEEP));
    assert.ok(refused('/a%2f.%2fb', KEEP));
    assert.ok(refused('/a.%2Fb', KEEP), 'a trailing dot before an encoded slash');
    assert.equal(normalizePath('/a%2F..b', KEEP), '/a%2F..b');
  });

  test('%2F is not a separator for the router either', () => {
    const router = routerOf('{ name: a, paths: ["/a"] }', '{ name: ab, paths: ["/a/b"] }');
    assert.equal(hit(router, normalizePath('/a%2Fb', KEEP)), null);
    assert.equal(hit(router, normalizePath('/a%2fb/c', KEEP)), null);
    assert.equal(hit(router, normalizePath('/%61/%62')), 'ab');
  });

  test('refuses dot segments, backslashes, NUL and malformed escapes', () => {
    for (const bad of ['/a/./b', '/a/../b', '/..', '/a/.', '/a//..', '/a/%2e%2e/b', '/a/%2E/b', '/a/.%2e', '/a\\b', '/a%00b', '/a%zz', '/a%4', '/a%', '/a%4/', '/a#b']) {
      assert.ok(refused(bad), bad);
    }
  });

  test('refuses what upstreams read as another path: params, encoded separators, trailing dots and spaces, double encoding, bad or folding UTF-8', () => {
    for (const bad of ['/a;b', '/a%3Bb', '/a%2Fb', '/a%5Cb', '/a.', '/a.../b', '/a%2e', '/a%20', '/%20a', '/a%09', '/a%7f', '/a%252e', '/a%2541', '/%c0%af', '/%c0%ae', '/%ed%a0%80', '/%ff', '/%c3', '/%ef%bd%90', '/%c4%b1', '/%e2%84%aa', '/a b', '/a\x80']) {
      assert.ok(refused(bad), bad);
    }
    for (const fine of ['/a%20b', '/a%25', '/a%25zz', '/v1.2/x', '/.well-known/x', '/%E6%97%A5']) assert.ok(!refused(fine), fine);
  });

  test('semicolons: strip drops each ;param up to the next slash', () => {
    const STRIP: PathPolicy = { escapedSlashes: 'reject', semicolons: 'strip' };
    assert.equal(normalizePath('/a;x=1/b;y', STRIP), '/a/b');
    assert.equal(normalizePath('/;x/a', STRIP), '/a');
    assert.ok(refused('/a/..;/b', STRIP));
  });
});

describe('letter case', () => {
  test('case_insensitive routes match any case; literal-case routes first; params keep their case', () => {
    const router = routerOf(
      '{ name: ci, paths: ["/Admin/:id"], case_insensitive: true }',
      '{ name: exact-ci, paths: ["=/Health"], case_insensitive: true }',
      '{ name: regex-ci, paths: ["~^/v[0-9]+/Orders$"], case_insensitive: true }',
      '{ name: cs, paths: ["/admin/special"] }',
    );
    assert.equal(hit(router, '/ADMIN/AbC'), 'ci');
    assert.equal(hit(router, '/admin/special'), 'cs');
    assert.equal(hit(router, '/admin/SPECIAL'), 'ci');
    assert.equal(hit(router, '/health'), 'exact-ci');
    assert.equal(hit(router, '/HEALTH'), 'exact-ci');
    assert.equal(hit(router, '/V2/orders'), 'regex-ci');
    const q = query('/aDmIn/XyZ');
    router.match(q);
    assert.deepEqual(q.params, { id: 'XyZ' });
  });

  test('caseVariant: a path whose case chose another route than a case-insensitive reading would', () => {
    const entries = (text: string) => buildSnapshot(loadConfigText('c.yaml', text, registry), registry, pools, 1, 'c.yaml').snapshot.router;
    const router = entries(['_format_version: "1"', 'services:', '  - name: s', '    url: http://127.0.0.1:9', '    routes:',
      '      - { name: private, paths: ["/private"] }', '      - { name: Mixed, paths: ["/Mixed"] }', '      - { name: mixed, paths: ["/mixed"] }', '      - { name: open, paths: ["/"] }'].join('\n'));
    const refused = (path: string) => {
      const q = query(path);
      const e = router.match(q)!;
      const length = q.matchLength;
      const r = router.caseVariant(q, e);
      assert.equal(q.matchLength, length, 'matchLength is left as the match set it');
      return r;
    };
    assert.equal(refused('/PRIVATE'), true);
    assert.equal(refused('/Private/x'), true);
    assert.equal(refused('/private/X'), false);
    assert.equal(refused('/Users/AbC'), false);
    assert.equal(refused('/Mixed'), false, 'routes that differ only in case are each reachable by their own spelling');
    assert.equal(refused('/mixed'), false);
    assert.equal(refused('/MIXED'), true, 'a case-insensitive upstream reads it as /mixed, which has its own route');
    const allow = entries(['_format_version: "1"', 'paths: { case_variants: allow }', 'services:', '  - name: s', '    url: http://127.0.0.1:9', '    routes:', '      - { name: private, paths: ["/private"] }', '      - { name: open, paths: ["/"] }'].join('\n'));
    const q = query('/PRIVATE');
    assert.equal(allow.caseVariant(q, allow.match(q)!), false);
  });
});

test('foldCase folds ASCII letters and the letters of escaped UTF-8, and leaves escapes of ASCII bytes as they are', () => {
  assert.equal(foldCase('/CAF%C3%89/X'), '/caf%C3%A9/x');
  assert.equal(foldCase('/D%C3%89J%C3%80'), '/d%C3%A9j%C3%A0');
  assert.equal(foldCase('/a%2Fb/%E2%82%AC'), '/a%2fb/%E2%82%AC');
  assert.equal(foldCase('/plain'), '/plain');
});
