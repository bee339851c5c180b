// Every metric family /metrics exports is documented in docs/observability.md (and every
// documented one is exported); quota refusals are counted; the RateLimit header's `t` means
// the same on admitted and refused requests (seconds until the limit is fully replenished).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { killCli } from '../helpers/load.js';
import { http, ROOT, startCli, startEchoUpstream, tempDir, writeConfig } from '../helpers/servers.js';

test('exported metrics match docs/observability.md; quota refusals counted; RateLimit t is the same quantity when refused', async () => {
  const upstream = await startEchoUpstream();
  const dir = tempDir();
  const file = writeConfig(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0", admin: null }
services:
  - name: limited
    url: "${upstream.url}"
    plugins: { rate-limit: { limits: [{ per: 10s, max: 2 }], key: ip } }
    routes: [{ name: limited, paths: ["/limited"] }]
  - name: metered
    url: "${upstream.url}"
    plugins: { quota: { period: day, max: 1, key: ip, path: "${join(dir, 'quota.sqlite')}" } }
    routes: [{ name: metered, paths: ["/metered"] }]
`);
  const gw = await startCli(['--config', file]);
  try {
    // RateLimit: 2 per 10 s. The second admitted request leaves r=0 and the limit full again in
    // 10 s; the refused third says the same t (Retry-After: when the next one passes, ~5 s).
    const first = await http(`${gw.url}/limited/a`);
    const second = await http(`${gw.url}/limited/b`);
    const refused = await http(`${gw.url}/limited/c`);
    assert.deepEqual([first.status, second.status, refused.status], [200, 200, 429]);
    const t = (h: string | string[] | undefined) => Number(/;t=(\d+)/.exec(String(h))![1]);
    assert.match(String(second.headers['ratelimit']), /;r=0;t=\d+$/);
    assert.ok(Math.abs(t(refused.headers['ratelimit']) - t(second.headers['ratelimit'])) <= 1, `${String(second.headers['ratelimit'])} vs ${String(refused.headers['ratelimit'])}`);
    assert.ok(t(refused.headers['ratelimit']) >= 9, 'fully replenished in about 10 s');
    assert.ok(Number(refused.headers['retry-after']) < t(refused.headers['ratelimit']), 'Retry-After is the wait for one request, sooner than a full refill');

    assert.equal((await http(`${gw.url}/metered/a`)).status, 200);
    assert.equal((await http(`${gw.url}/metered/b`)).status, 429);

    const metrics = (await http(`http://127.0.0.1:${gw.statusPort}/metrics`)).body;
    assert.match(metrics, /^northgate_quota_exceeded_total\{service="metered",route="metered"\} 1$/m);
    assert.match(metrics, /^northgate_rate_limited_total\{service="limited",route="limited"\} 1$/m);

    const exported = new Set([...metrics.matchAll(/^# TYPE (northgate_[a-z0-9_]+) /gm)].map((m) => m[1]!));
    const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `(northgate_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!));
    assert.deepEqual([...exported].filter((n) => !documented.has(n)).sort(), [], 'exported but not in docs/observability.md');
    assert.deepEqual([...documented].filter((n) => !exported.has(n)).sort(), [], 'documented but not exported');
    assert.match(metrics, /^# TYPE process_cpu_user_seconds_total /m, 'the process_* family the docs list');
  } finally {
    await killCli(gw);
    await upstream.close();
  }
});
