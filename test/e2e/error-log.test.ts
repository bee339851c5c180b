// A request the gateway fails (its own 5xx) gets an error-level line with the request id,
// the trace id, route, service and target: with tracing on, the server span's trace id (the
// one the upstream received); with tracing off, a valid incoming traceparent's, else null.
import assert from 'node:assert/strict';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/compiler/load.js';
import { AccessLog } from '../../src/observability/access-log.js';
import type { Plugin } from '../../src/sdk/plugin.js';
import { PluginRegistry } from '../../src/pipeline/registry.js';
import { BUILTIN_PLUGINS } from '../../src/plugins/index.js';
import { Gateway } from '../../src/runtime/gateway.js';
import { createLogger, flushLogger } from '../../src/base/logger.js';
import { http, startCli, startUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

async function deadPort(): Promise<number> {
  const u = await startUpstream(() => undefined);
  await u.close();
  return u.port;
}

const errorLine = (gw: CliGateway, id: string) => gw.waitFor((l) => l['type'] === 'error' && l['request_id'] === id);

describe('tracing off', () => {
  let hang: Upstream;
  let gw: CliGateway;
  let dead: number;
  before(async () => {
    hang = await startUpstream(() => undefined);
    dead = await deadPort();
    gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { enabled: false }
services:
  - { name: dead-svc, url: "http://127.0.0.1:${dead}", routes: [{ name: dead-route, paths: ["/dead"] }] }
  - { name: hang-svc, url: "${hang.url}", timeouts: { read: 300ms }, routes: [{ name: hang-route, paths: ["/hang"] }] }
`)]);
  });
  after(async () => {
    await gw?.stop();
    await hang.close();
  });

  test('a 502 is logged at error level with request id, the incoming trace id, route, service, target and code', async () => {
    const notFound = await http(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'not-an-error-1' } });
    assert.equal(notFound.status, 404);
    const res = await http(`${gw.url}/dead`, { headers: { 'x-request-id': 'dead-1', traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
    assert.equal(res.status, 502);
    const line = await errorLine(gw, 'dead-1');
    assert.equal(line['level'], 'error');
    assert.equal(line['trace_id'], TRACE);
    assert.equal(line['status'], 502);
    assert.equal(line['error'], 'upstream-unavailable');
    assert.equal(line['route'], 'dead-route');
    assert.equal(line['service'], 'dead-svc');
    assert.equal(line['target'], `http://127.0.0.1:${dead}`);
    assert.equal(line['method'], 'GET');
    assert.equal(line['path'], '/dead');
    assert.ok((line['attempts'] as number) >= 1);
    // Lines are written in order: the 404 came first and logged no error line.
    assert.equal(gw.lines.filter((l) => l['request_id'] === 'not-an-error-1').length, 0, 'a 4xx is not a gateway error');
    assert.equal(gw.lines.filter((l) => l['type'] === 'access').length, 0, 'error lines are written with the access log off');
  });

  test('a 504 is logged with its code; an invalid traceparent gives no trace id', async () => {
    const res = await http(`${gw.url}/hang`, { headers: { 'x-request-id': 'hang-1', traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } });
    assert.equal(res.status, 504);
    const line = await errorLine(gw, 'hang-1');
    assert.equal(line['error'], 'upstream-timeout');
    assert.equal(line['status'], 504);
    assert.equal(line['trace_id'], null);
    assert.equal(line['route'], 'hang-route');
    assert.equal(line['target'], hang.url);
  });
});

describe('tracing on', () => {
  test('the error line carries the server span\'s trace id, the one the upstream received', async () => {
    const receiver = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    const seen: string[] = [];
    const hang = await startUpstream((req) => seen.push(String(req.headers['traceparent'])));
    const gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
tracing: { endpoint: "${receiver.url}/v1/traces", flush_interval: 100ms }
services:
  - { name: hang-svc, url: "${hang.url}", timeouts: { read: 300ms }, routes: [{ name: hang-route, paths: ["/hang"] }] }
`)]);
    try {
      const res = await http(`${gw.url}/hang`, { headers: { 'x-request-id': 'traced-1' } });
      assert.equal(res.status, 504);
      const line = await errorLine(gw, 'traced-1');
      assert.equal(seen.length, 1);
      const upstreamTrace = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(seen[0]!)?.[1];
      assert.ok(upstreamTrace, seen[0]);
      assert.equal(line['trace_id'], upstreamTrace);
      const access = await gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === 'traced-1');
      assert.equal(access['error'], 'upstream-timeout');
    } finally {
      await gw.stop();
      await hang.close();
      await receiver.close();
    }
  });
});

describe('a bug in a plugin', () => {
  test('answers 500; the error line and the bug report carry the request id and trace id', async () => {
    const boom: Plugin = {
      name: 'boom',
      priority: 10,
      schema: { type: 'object' },
      create: () => ({
        request() {
          throw new Error('plugin bug');
        },
      }),
    };
    const up = await startUpstream((_req, res) => res.end('ok'));
    const file = join(tempDir(), 'gateway.log');
    const logger = createLogger({ dest: openSync(file, 'a') });
    const accessLog = new AccessLog(logger);
    const registry = new PluginRegistry([...BUILTIN_PLUGINS, boom]);
    const yaml = `_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services: [{ name: buggy, url: "${up.url}", routes: [{ name: buggy-route, paths: ["/b"], plugins: { boom: {} } }] }]
`;
    const gateway = new Gateway({ registry, logger, loadConfig: () => loadConfigText('t.yaml', yaml, registry), source: 't.yaml', onSnapshot: (s) => accessLog.configure(s) });
    gateway.load();
    const [bound] = await gateway.listen();
    try {
      const res = await http(`http://127.0.0.1:${bound!.port}/b`, { headers: { 'x-request-id': 'bug-1', traceparent: `00-${TRACE}-00f067aa0ba902b7-01` } });
      assert.equal(res.status, 500);
    } finally {
      await gateway.drain(1000);
      accessLog.close();
      await up.close();
    }
    flushLogger(logger);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = lines.find((l) => l['msg'] === 'request failed: internal-error');
    assert.ok(failed, JSON.stringify(lines));
    assert.deepEqual(
      [failed['level'], failed['request_id'], failed['trace_id'], failed['status'], failed['route'], failed['service']],
      ['error', 'bug-1', TRACE, 500, 'buggy-route', 'buggy'],
    );
    const bug = lines.find((l) => l['msg'] === 'plugin or core error while handling a request');
    assert.ok(bug, JSON.stringify(lines));
    assert.deepEqual([bug['level'], bug['request_id'], bug['trace_id'], (bug['err'] as { message: string }).message], ['error', 'bug-1', TRACE, 'plugin bug']);
  });
});
