// GET /metrics on the status listener: Prometheus text format, counts equal to the
// requests sent (also summed across workers), bounded labels, reload counters.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { after, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import { http, startCli, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

interface Family {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}

/** Parses with parse-prometheus-text-format (which throws on any malformed line). */
async function scrape(port: number): Promise<{ families: Map<string, Family>; text: string }> {
  const res = await http(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
  const families = new Map((parsePrometheus(res.body) as Family[]).map((f) => [f.name, f]));
  return { families, text: res.body };
}

const sample = (f: Family | undefined, labels: Record<string, string>): number => {
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? 0 : Number(m.value);
};

/** The parser library folds labelled histograms into one; read their _count series from the text directly. */
const histogramCount = (text: string, name: string, route: string): number => {
  const m = new RegExp(`^${name}_count\\{[^}]*route="${route}"[^}]*\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
};

const config = (upstream: string) => `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
services:
  - name: api
    url: "${upstream}"
    routes:
      - { name: items, paths: ["/items"] }
      - { name: orders, paths: ["/orders"], methods: [POST] }
`;

describe('metrics, one process', () => {
  let up: Upstream;
  let gw: CliGateway;
  let file: string;
  before(async () => {
    up = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end(req.url === '/items/missing' ? '' : 'ok'));
    });
    file = writeConfig(config(up.url));
    gw = await startCli(['--config', file]);
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('request counts by service, route, method and code equal what was sent', async () => {
    for (let i = 0; i < 7; i++) assert.equal((await http(`${gw.url}/items/${i}`)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await http(`${gw.url}/orders`, { method: 'POST', body: 'x'.repeat(10) })).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await http(`${gw.url}/no/such/path/${i}`)).status, 404);
    const { families, text } = await scrape(gw.statusPort!);
    const requests = families.get('northgate_http_requests_total');
    assert.equal(requests?.type, 'COUNTER');
    assert.equal(sample(requests, { service: 'api', route: 'items', method: 'GET', code: '200' }), 7);
    assert.equal(sample(requests, { service: 'api', route: 'orders', method: 'POST', code: '200' }), 3);
    // Unmatched requests share one series: raw paths never become labels.
    assert.equal(sample(requests, { service: '', route: '', method: 'GET', code: '404' }), 4);
    assert.doesNotMatch(text, /no\/such\/path/);
    assert.equal(histogramCount(text, 'northgate_http_request_duration_seconds', 'items'), 7);
    assert.equal(histogramCount(text, 'northgate_upstream_duration_seconds', 'items'), 7);
    assert.equal(histogramCount(text, 'northgate_upstream_duration_seconds', ''), 0, 'no upstream time for requests that never went upstream');
    assert.match(text, /^northgate_http_request_size_bytes_sum\{service="api",route="orders"\} 30$/m);
    assert.equal(families.get('northgate_http_request_duration_seconds')?.type, 'HISTOGRAM');
    assert.match(text, /northgate_http_request_duration_seconds_bucket\{le="0\.0005",/);
    assert.equal(sample(families.get('northgate_upstream_target_health'), { upstream: 'service:api', target: up.url }), 1);
    assert.ok(families.has('northgate_open_connections'));
    assert.ok(families.has('process_cpu_user_seconds_total'), 'process metrics are exported');
  });

  test('reloads are counted by result, with the time of the last success', async () => {
    const before = await scrape(gw.statusPort!);
    const okBefore = sample(before.families.get('northgate_config_reloads_total'), { result: 'success' });
    const failBefore = sample(before.families.get('northgate_config_reloads_total'), { result: 'failure' });
    const lastBefore = sample(before.families.get('northgate_config_last_reload_success_timestamp_seconds'), {});
    const seen = gw.lines.filter((l) => l['type'] === 'reload').length;
    gw.child.kill('SIGHUP');
    await gw.waitFor((l) => l['type'] === 'reload' && gw.lines.filter((x) => x['type'] === 'reload').length > seen);
    writeFileSync(file, config(up.url).replace('paths: ["/items"]', 'paths: ["items"]'));
    gw.child.kill('SIGHUP');
    await gw.waitFor((l) => l['type'] === 'reload' && l['msg'] !== 'config reloaded');
    const after = await scrape(gw.statusPort!);
    assert.equal(sample(after.families.get('northgate_config_reloads_total'), { result: 'success' }), okBefore + 1);
    assert.equal(sample(after.families.get('northgate_config_reloads_total'), { result: 'failure' }), failBefore + 1);
    assert.ok(sample(after.families.get('northgate_config_last_reload_success_timestamp_seconds'), {}) >= lastBefore);
  });
});

describe('metrics, two workers', () => {
  test('the master sums the workers\' counts', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    // Access log on: its pid field shows which worker served each request.
    const gw = await startCli(['--config', writeConfig(config(up.url).replace('access_log: { enabled: false }', 'access_log: { enabled: true }')), '--workers', '2']);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await http(`${gw.url}/items/${i}`);
        assert.equal(res.status, 200);
        ids.push(res.headers['x-request-id'] as string);
      }
      const lines = await Promise.all(ids.map((id) => gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === id)));
      assert.equal(new Set(lines.map((l) => l['pid'])).size, 2, 'both workers served requests, so the sum is a real aggregation');
      const { families, text } = await scrape(gw.statusPort!);
      assert.equal(sample(families.get('northgate_http_requests_total'), { route: 'items', code: '200' }), 20);
      assert.equal(histogramCount(text, 'northgate_http_request_duration_seconds', 'items'), 20);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('metrics, per consumer and rate limits', () => {
  test('with metrics.per_consumer the consumer is a label; 429s are counted by route', async () => {
    const up = await startUpstream((_req, res) => res.end('ok'));
    const gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
metrics: { per_consumer: true }
consumers:
  - { username: alice, credentials: { key-auth: [{ key: "alice-key-0123456789" }] } }
  - { username: bob, credentials: { key-auth: [{ key: "bob-key-0123456789ab" }] } }
services:
  - name: api
    url: "${up.url}"
    plugins: { key-auth: {} }
    routes:
      - { name: limited, paths: ["/limited"], plugins: { rate-limit: { limits: [{ per: 1h, max: 2 }], key: consumer } } }
`)]);
    try {
      const as = (key: string) => ({ headers: { 'x-api-key': key } });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await http(`${gw.url}/limited`, as('alice-key-0123456789'))).status);
      statuses.push((await http(`${gw.url}/limited`, as('bob-key-0123456789ab'))).status);
      assert.deepEqual(statuses, [200, 200, 429, 200]);
      const { families } = await scrape(gw.statusPort!);
      const requests = families.get('northgate_http_requests_total');
      assert.equal(sample(requests, { route: 'limited', consumer: 'alice', code: '200' }), 2);
      assert.equal(sample(requests, { route: 'limited', consumer: 'alice', code: '429' }), 1);
      assert.equal(sample(requests, { route: 'limited', consumer: 'bob', code: '200' }), 1);
      assert.equal(sample(families.get('northgate_rate_limited_total'), { service: 'api', route: 'limited' }), 1);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});

describe('metrics, target health, connections and label bounds', () => {
  test('an ejected target reads 0, open connections are counted, unknown methods are OTHER, response sizes are summed', async () => {
    const up = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.end('twelve bytes'));
    });
    const dead = await startUpstream(() => undefined);
    await dead.close();
    const gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
upstreams:
  - name: pool
    healthcheck: { passive: { consecutive_failures: 1, base_ejection: 5m } }
    targets: [{ url: "http://127.0.0.1:${dead.port}" }, { url: "${up.url}" }]
services:
  - { name: api, upstream: pool, retries: { attempts: 2, on: [connect-failure] }, routes: [{ name: items, paths: ["/items"] }] }
`)]);
    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    try {
      // The first request meets the dead target (ejected after one failure) and is retried on the live one.
      for (let i = 0; i < 4; i++) assert.equal((await http(`${gw.url}/items/${i}`)).status, 200);
      assert.equal((await http(`${gw.url}/elsewhere`, { method: 'PROPFIND' })).status, 404);
      // Three keep-alive connections, each with a finished request, stay open during the scrape.
      await Promise.all([0, 1, 2].map(() => getVia(agent, `${gw.url}/items/ka`)));
      const { families, text } = await scrape(gw.statusPort!);
      const health = families.get('northgate_upstream_target_health');
      assert.equal(health?.type, 'GAUGE');
      assert.equal(sample(health, { upstream: 'pool', target: `http://127.0.0.1:${dead.port}` }), 0);
      assert.equal(sample(health, { upstream: 'pool', target: up.url }), 1);
      assert.equal(sample(families.get('northgate_open_connections'), {}), 3);
      assert.equal(sample(families.get('northgate_http_requests_total'), { route: '', method: 'OTHER', code: '404' }), 1);
      assert.doesNotMatch(text, /PROPFIND/);
      assert.match(text, /^northgate_http_response_size_bytes_sum\{service="api",route="items"\} 84$/m, '7 responses of 12 bytes');
      assert.equal(families.get('northgate_http_response_size_bytes')?.type, 'HISTOGRAM');
      assert.equal(families.get('northgate_http_request_size_bytes')?.type, 'HISTOGRAM');
      assert.equal(families.get('northgate_config_reloads_total')?.type, 'COUNTER');
      assert.equal(families.get('northgate_config_last_reload_success_timestamp_seconds')?.type, 'GAUGE');
      for (const name of ['process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) assert.ok(families.has(name), name);
    } finally {
      agent.destroy();
      await gw.stop();
      await up.close();
    }
  });
});

function getVia(agent: Agent, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent }, (res) => {
      assert.equal(res.statusCode, 200);
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}
