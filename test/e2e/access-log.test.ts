// One JSON access line per request on stdout, with the fields operators rely on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { http, rawRequest, startCli, startEchoUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

let up: Upstream;
let gw: CliGateway;
before(async () => {
  up = await startEchoUpstream();
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services: [{ name: echo-svc, url: "${up.url}/base", routes: [{ name: echo-route, paths: ["/e"], strip_path: true }] }]
`)]);
});
after(async () => {
  await gw.stop();
  await up.close();
});

const accessLine = (id: string) => gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === id);

test('a proxied request is logged with route, service, target, sizes and latencies', async () => {
  const res = await http(gw.url + '/e/x?q=1', { method: 'POST', body: 'hello' });
  const line = await accessLine(res.headers['x-request-id'] as string);
  assert.equal(line['level'], 'info');
  assert.match(line['time'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(line['pid'], gw.child.pid);
  assert.equal(line['method'], 'POST');
  assert.equal(line['path'], '/e/x');
  assert.equal(line['status'], 200);
  assert.equal(line['route'], 'echo-route');
  assert.equal(line['service'], 'echo-svc');
  assert.equal(line['target'], up.url);
  assert.equal(line['bytes_in'], 5);
  assert.equal(line['bytes_out'], Buffer.byteLength(res.body));
  assert.equal(line['client_ip'], '127.0.0.1');
  assert.equal(line['error'], null);
  assert.equal(typeof line['latency_ms'], 'number');
  assert.equal(typeof line['upstream_latency_ms'], 'number');
  assert.ok((line['latency_ms'] as number) >= (line['upstream_latency_ms'] as number));
});

test('the gateway\'s own errors are logged with their code, and client text is escaped', async () => {
  const res = await http(gw.url + '/nowhere/"quoted\\');
  assert.equal(res.status, 404);
  const line = await accessLine(res.headers['x-request-id'] as string);
  assert.equal(line['status'], 404);
  assert.equal(line['route'], null);
  assert.equal(line['error'], 'route-not-found');
  assert.equal(line['upstream_latency_ms'], null);
  const raw = await rawRequest(gw.port, 'GET /e/../x HTTP/1.1\r\nHost: a\r\nX-Request-Id: bad-path-1\r\nConnection: close\r\n\r\n');
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.equal((await accessLine('bad-path-1'))['error'], 'bad-request');
});
