// Plans: consumers on two tiers get their plan's limits on every route, a route's own
// rate-limit overrides the plan, a global config still applies to requests without a plan,
// plan changes apply on reload, and an unknown plan is a located config error.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configProblems } from '../helpers/config.js';
import { tempDir } from '../helpers/servers.js';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';

const count = (list: Array<{ status: number }>, s: number) => list.filter((r) => r.status === s).length;
const burst = (gw: TestGateway, path: string, n: number, key?: string) => Promise.all(Array.from({ length: n }, () => gw.request({ path, ...(key ? { headers: { apikey: key } } : {}) })));

const dir = tempDir();
const config = (silverMax: number) => (upstream: string) => `
_format_version: "1"
plans:
  - { name: gold, rate_limit: { limits: [{ per: 1h, max: 6 }] }, quota: { period: month, max: 1000, path: "${join(dir, 'q.sqlite')}" } }
  - { name: silver, rate_limit: { limits: [{ per: 1h, max: ${silverMax} }] } }
consumers:
  - { username: gina, plan: gold, credentials: { key-auth: [{ key: gina-key-0001 }] } }
  - { username: sam, plan: silver, credentials: { key-auth: [{ key: sam-key-00001 }] } }
  - { username: nora, credentials: { key-auth: [{ key: nora-key-0001 }] } }
plugins:
  rate-limit: { limits: [{ per: 1h, max: 1 }], key: ip }
services:
  - name: s
    url: "${upstream}"
    plugins: { key-auth: {} }
    routes:
      - { name: one, paths: ["/one"] }
      - { name: two, paths: ["/two"] }
      - { name: own, paths: ["/own"], plugins: { rate-limit: { limits: [{ per: 1h, max: 3 }] } } }
`;

describe('plans', () => {
  let gw: TestGateway;
  before(async () => {
    gw = createTestGateway({ config: config(2)('http://up'), upstreams: { up: () => ({ body: 'ok' }) } });
  });
  after(async () => {
    await gw.close();
  });

  test('two consumers on two plans get their plan\'s limits, shared across routes', async () => {
    const gold = [...(await burst(gw, '/one', 4, 'gina-key-0001')), ...(await burst(gw, '/two', 4, 'gina-key-0001'))];
    assert.equal(count(gold, 200), 6, 'gold: 6 per hour over the whole API');
    const ok = gold.find((r) => r.status === 200)!;
    assert.equal(ok.headers['ratelimit-policy'], '"1h";q=6;w=3600');
    assert.equal(ok.headers['x-quota-limit'], '1000', 'the gold plan has a quota too');
    const silver = await burst(gw, '/one', 5, 'sam-key-00001');
    assert.equal(count(silver, 200), 2, 'silver: 2 per hour');
    assert.equal(silver.find((r) => r.status === 200)!.headers['x-quota-limit'], undefined, 'silver has no quota');
  });

  test('a route\'s own rate-limit overrides the plan; a consumer without a plan gets the global config', async () => {
    const own = await burst(gw, '/own', 5, 'gina-key-0001');
    assert.equal(count(own, 200), 3);
    assert.equal(own.find((r) => r.status === 200)!.headers['ratelimit-policy'], '"1h";q=3;w=3600');
    const nora = await burst(gw, '/two', 3, 'nora-key-0001');
    assert.equal(count(nora, 200), 1, 'global rate-limit (1 per hour per ip) for a consumer without a plan');
  });

  test('a plan change applies on reload', async () => {
    assert.equal((await gw.request({ path: '/two', headers: { apikey: 'sam-key-00001' } })).status, 429, 'silver budget is used up');
    const r = gw.reload(config(5)('http://up'));
    assert.ok(r.ok, JSON.stringify(r.problems));
    const silver = await burst(gw, '/two', 8, 'sam-key-00001');
    assert.equal(count(silver, 200), 5);
    assert.equal(silver.find((x) => x.status === 200)!.headers['ratelimit-policy'], '"1h";q=5;w=3600');
  });

  test('an unknown plan is a located config error with a hint; duplicate names too', () => {
    const yaml = `_format_version: "1"
plans:
  - { name: gold }
  - { name: gold }
consumers:
  - username: ann
    plan: goldd
`;
    const problems = configProblems(yaml, 'p.yaml');
    assert.ok(problems.includes('p.yaml:7:11 consumers[0].plan: no plan named "goldd" (did you mean "gold"?)'), problems.join('\n'));
    assert.ok(problems.some((p) => /^p\.yaml:4:\d+ plans\[1\]\.name: duplicate plan name "gold"/.test(p)), problems.join('\n'));
    const bad = configProblems(`_format_version: "1"\nplans:\n  - { name: x, rate_limit: { limits: [{ per: 1h, max: 1 }], policy: redis } }\n`, 'p.yaml');
    assert.ok(bad.some((p) => /plans\[0\]\.rate_limit\.redis: policy "redis" needs redis/.test(p)), bad.join('\n'));
  });
});
