// The plugin interface, exercised by plugins written here exactly as a user would write
// them: priority order, reverse order on the response path, async phases, local replies,
// body chunk transforms, the log phase, and a thrown error becoming a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalReply, type Plugin } from '../../src/sdk/index.js';
import { http, startEchoUpstream, startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

const trace: string[] = [];
const logged: Array<{ status: number; route: string | undefined }> = [];

function tracer(name: string, priority: number): Plugin<{ tag?: string }> {
  return {
    name,
    priority,
    schema: { type: 'object', additionalProperties: false, properties: { tag: { type: 'string' } } },
    create: (cfg) => ({
      request: (ctx) => {
        trace.push(`${name}:request`);
        ctx.locals.set(name, cfg.tag ?? name);
      },
      upstreamRequest: (ctx) => {
        trace.push(`${name}:upstreamRequest`);
        ctx.upstreamHeaders.append('x-chain', name);
      },
      responseHeaders: (ctx) => {
        trace.push(`${name}:responseHeaders`);
        ctx.responseHeaders.append('x-chain', name);
      },
      log: () => trace.push(`${name}:log`),
    }),
  };
}

const slowAuth: Plugin<{ allow: string }> = {
  name: 'slow-auth',
  priority: 1000,
  schema: { type: 'object', required: ['allow'], properties: { allow: { type: 'string' } }, additionalProperties: false },
  create: (cfg) => ({
    request: async (ctx) => {
      await new Promise((r) => setImmediate(r));
      if (ctx.header('x-token') !== cfg.allow) return LocalReply.problem(401, 'unauthorized', 'Unauthorized', 'missing or bad token', { 'www-authenticate': 'Token' });
      return undefined;
    },
  }),
};

const buggy: Plugin<{ where: 'request' | 'responseHeaders' }> = {
  name: 'buggy',
  priority: 10,
  schema: { type: 'object', properties: { where: { enum: ['request', 'responseHeaders'] } }, additionalProperties: false },
  create: (cfg) =>
    cfg.where === 'request'
      ? { request: () => { throw new Error('secret internal detail at /srv/app.js'); } }
      : { responseHeaders: () => { throw new Error('boom in headers'); } },
};

const upper: Plugin<Record<string, never>> = {
  name: 'upper',
  priority: 5,
  schema: { type: 'object' },
  create: () => ({
    responseChunk: (_ctx, chunk) => Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'),
    responseEnd: () => Buffer.from('!'),
  }),
};

const logCatcher: Plugin<Record<string, never>> = {
  name: 'log-catcher',
  priority: 1,
  schema: { type: 'object' },
  create: () => ({ log: (ctx) => void logged.push({ status: ctx.responseStatus, route: ctx.route?.name }) }),
};

describe('plugin pipeline', () => {
  let echo: Upstream;
  let text: Upstream;
  let gw: InProcessGateway;
  before(async () => {
    echo = await startEchoUpstream();
    text = await startUpstream((_q, r) => {
      r.write('hello ');
      r.end('world');
    });
    gw = await startGateway(
      `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
plugins: { log-catcher: {} }
services:
  - name: s
    url: "${echo.url}"
    plugins: { low: {}, high: {} }
    routes:
      - { name: order, paths: ["/order"], plugins: { mid: { tag: route } } }
      - { name: auth, paths: ["/auth"], plugins: { slow-auth: { allow: "t0k" }, high: {} } }
      - { name: bug-request, paths: ["/bug-request"], plugins: { buggy: { where: request } } }
      - { name: bug-headers, paths: ["/bug-headers"], plugins: { buggy: { where: responseHeaders } } }
  - name: text
    url: "${text.url}"
    routes:
      - { name: upper, paths: ["/upper"], plugins: { upper: {} } }
`,
      [tracer('high', 900), tracer('mid', 500), tracer('low', 100), slowAuth, buggy, upper, logCatcher],
    );
  });
  after(async () => {
    await gw.close();
    await echo.close();
    await text.close();
  });

  test('request phases run by descending priority, response phases in reverse', async () => {
    trace.length = 0;
    const res = await http(gw.url + '/order');
    assert.equal(res.status, 200);
    const upstreamSaw = (JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-chain'];
    assert.equal(upstreamSaw, 'high, mid, low');
    assert.equal(res.headers['x-chain'], 'low, mid, high');
    assert.deepEqual(trace.filter((t) => t.endsWith(':request')), ['high:request', 'mid:request', 'low:request']);
    assert.deepEqual(trace.filter((t) => t.endsWith(':log')), ['low:log', 'mid:log', 'high:log']);
  });

  test('an async request hook can end the request with a local reply; response hooks still decorate it', async () => {
    const denied = await http(gw.url + '/auth');
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['www-authenticate'], 'Token');
    assert.equal(denied.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(denied.body) as { type: string }).type, 'urn:northgate:problem:unauthorized');
    assert.equal(denied.headers['x-chain'], 'low, high', 'response phases of the other plugins ran on the local reply');
    const allowed = await http(gw.url + '/auth', { headers: { 'x-token': 't0k' } });
    assert.equal(allowed.status, 200);
  });

  test('a thrown error is a bug: 500 problem+json without the error text', async () => {
    for (const path of ['/bug-request', '/bug-headers']) {
      const res = await http(gw.url + path);
      assert.equal(res.status, 500, path);
      assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:internal-error');
      assert.doesNotMatch(res.body, /secret|boom|\/srv/);
    }
    // The gateway is still serving.
    assert.equal((await http(gw.url + '/order')).status, 200);
  });

  test('body chunk hooks transform the stream and may append at the end', async () => {
    const res = await http(gw.url + '/upper');
    assert.equal(res.body, 'HELLO WORLD!');
    assert.equal(res.headers['content-length'], undefined, 'a transformed body cannot keep the upstream length');
  });

  test('the log phase sees every request, including the gateway\'s own replies', async () => {
    logged.length = 0;
    await http(gw.url + '/order');
    await http(gw.url + '/auth');
    assert.deepEqual(logged, [
      { status: 200, route: 'order' },
      { status: 401, route: 'auth' },
    ]);
  });

  test('plugin configs are validated with their own schema at load', async () => {
    await assert.rejects(
      startGateway(
        `
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services: [{ name: s, url: "http://127.0.0.1:1", routes: [{ paths: ["/"], plugins: { slow-auth: { allw: x } } }] }]
`,
        [slowAuth],
      ),
      (err: Error & { lines?: () => string[] }) => {
        const lines = err.lines!();
        assert.ok(lines.some((l) => l.includes('plugins.slow-auth: missing required key "allow"')), lines.join('\n'));
        assert.ok(lines.some((l) => l.includes('plugins.slow-auth.allw: unknown key "allw" (did you mean "allow"?)')), lines.join('\n'));
        return true;
      },
    );
  });
});
