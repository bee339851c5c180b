// POST /cache/purge on the admin API: the memory caches of every worker of the node and the
// Redis caches of the running config, by tag and by path; token required; bad bodies refused;
// a Redis cache that cannot be reached makes the answer a 503 that says what was purged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, adminClient, adminUrlOf } from '../helpers/admin.js';
import { http, startCli, startUpstream, writeConfig, type Upstream } from '../helpers/servers.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';

let up: Upstream;
let served = 0;
before(async () => {
  up = await startUpstream((req, res) => {
    served++;
    const body = `${req.url} #${served}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600', 'surrogate-key': 'tag-a', 'content-length': String(Buffer.byteLength(body)) }).end(body);
  });
});
after(() => up.close());

function config(redisUrl: string, prefix: string): string {
  return `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
admin: { token: "${ADMIN_TOKEN}" }
access_log: { enabled: false }
services:
  - name: s
    url: "${up.url}"
    routes:
      - name: mem
        paths: ["/m/"]
        plugins: { cache: {} }
      - name: red
        paths: ["/r/"]
        plugins: { cache: { store: redis, redis: { url: "${redisUrl}", prefix: "${prefix}", timeout: 1s } } }
`;
}

/** Requests `path` until one worker answers from its cache (bounded), so every worker that will be asked holds it. */
async function warm(base: string, path: string): Promise<void> {
  for (let i = 0; i < 20; i++) if ((await http(base + path)).headers['x-cache'] === 'HIT') return;
  assert.fail(`${path} never became a cache hit`);
}

describe('admin API cache purge', () => {
  test('by tag and by path: memory caches of both workers and the Redis cache; token and body checked', async (t) => {
    const skip = await redisSkipReason();
    if (skip !== undefined) return t.skip(skip);
    const prefix = `ngtest:purge:${process.pid}:${Date.now()}:`;
    const gw = await startCli(['--config', writeConfig(config(REDIS_URL, prefix)), '--workers', '2']);
    try {
      const api = adminClient(adminUrlOf(gw));
      await warm(gw.url, '/m/a');
      await warm(gw.url, '/r/a');

      const anonymous = await adminClient(adminUrlOf(gw), null)('POST', '/cache/purge', { tags: ['tag-a'] });
      assert.equal(anonymous.status, 401);
      for (const bad of [{}, { tags: [] }, { tags: 'tag-a' }, { paths: ['no-slash'] }, { tags: ['x'], what: 1 }]) {
        const r = await api('POST', '/cache/purge', bad);
        assert.equal(r.status, 400, JSON.stringify(bad));
        assert.equal(r.headers['content-type'], 'application/problem+json');
      }
      assert.equal((await api('POST', '/cache/purge', 'not json')).status, 400);

      const byTag = await api('POST', '/cache/purge', { tags: ['tag-a'] });
      assert.equal(byTag.status, 200, byTag.body);
      assert.ok(byTag.json.memory.purged >= 1, byTag.body);
      assert.deepEqual(byTag.json.redis, [{ url: REDIS_URL, prefix, purged: 1 }]);
      assert.equal(byTag.json.purged, byTag.json.memory.purged + 1);
      // Nothing of the tag is left anywhere: whichever worker answers, the next request of each is a miss.
      assert.equal((await http(gw.url + '/m/a')).headers['x-cache'], 'MISS');
      assert.equal((await http(gw.url + '/r/a')).headers['x-cache'], 'MISS');

      await warm(gw.url, '/m/b?x=1');
      const byPath = await api('POST', '/cache/purge', { paths: ['/m/b'] });
      assert.equal(byPath.status, 200);
      assert.ok(byPath.json.memory.purged >= 1, 'the path purges every query string of it');
      assert.equal(byPath.json.redis[0].purged, 0);
    } finally {
      await gw.stop();
    }
  });

  test('a Redis cache that cannot be reached: 503 cache-unavailable, the memory caches purged all the same', async () => {
    const gw = await startCli(['--config', writeConfig(config('redis://127.0.0.1:1', 'ngtest:dead:'))]);
    try {
      const api = adminClient(adminUrlOf(gw));
      await warm(gw.url, '/m/c');
      const r = await api('POST', '/cache/purge', { tags: ['tag-a'] });
      assert.equal(r.status, 503, r.body);
      assert.equal(r.json.type, 'urn:northgate:problem:cache-unavailable');
      assert.match(r.json.detail, /redis redis:\/\/127\.0\.0\.1:1 \(ngtest:dead:\)/);
      assert.deepEqual(r.json.report.memory, { purged: 1 });
      assert.equal((await http(gw.url + '/m/c')).headers['x-cache'], 'MISS');
    } finally {
      await gw.stop();
    }
  });
});
