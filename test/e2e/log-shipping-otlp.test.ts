// The otlp-logs sink against a real local OTLP/HTTP receiver, protobuf and JSON: one
// LogRecord per request in an ExportLogsServiceRequest with the resource (service.name,
// host.name, process.pid) and scope, the record's JSON as body, HTTP attributes plus route,
// service, consumer and credential, the trace id of the request, severity WARN for a 5xx;
// a collector answering 503 gets the batch again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually, sinkCounts } from '../helpers/log-receiver.js';
import { decodeLogsExport, type OtlpLogRecord, type OtlpLogsExport } from '../helpers/otlp-logs.js';
import { http, startCli, startEchoUpstream, startUpstream, writeConfig, type CliGateway, type Upstream, DEAD_PORT } from '../helpers/servers.js';

const exports: Array<{ path: string; body: OtlpLogsExport }> = [];
let collector: Upstream;
let echo: Upstream;
let gw: CliGateway;
let posts = 0;
const TRACE = '0af7651916cd43dd8448eb211c80319c';

before(async () => {
  collector = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The first export of the JSON sink is refused as retryable.
      if (req.url === '/json/v1/logs' && posts++ === 0) return void res.writeHead(503).end();
      exports.push({ path: req.url!, body: decodeLogsExport(req.headers['content-type'], Buffer.concat(chunks)) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  echo = await startEchoUpstream();
  const dead = { port: DEAD_PORT };
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { enabled: false }
consumers:
  - { username: alice, credentials: { key-auth: [{ id: alice-main, key: "alice-key-0123456789" }] } }
log_sinks:
  - { name: proto, type: otlp-logs, url: "${collector.url}/proto/v1/logs", service_name: edge, fields: [path, status, consumer], batch: { max_events: 3, interval: 100ms } }
  - { name: json, type: otlp-logs, protocol: http/json, url: "${collector.url}/json/v1/logs", fields: [path, status], batch: { max_events: 3, interval: 100ms }, retry: { base_delay: 20ms } }
services:
  - name: orders
    url: "${echo.url}"
    plugins: { key-auth: {} }
    routes: [{ name: order, paths: ["/orders"] }]
  - { name: dead, url: "http://127.0.0.1:${dead.port}", routes: [{ name: dead, paths: ["/dead"] }] }
`)]);
});
after(async () => {
  await gw?.stop();
  await collector.close();
  await echo.close();
});

const attr = (r: OtlpLogRecord, key: string): unknown => {
  const v = r.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : (v['stringValue'] ?? v['intValue']);
};

test('one LogRecord per request over OTLP/HTTP, protobuf and JSON', async () => {
  for (let i = 0; i < 4; i++) {
    const headers: Record<string, string> = { apikey: 'alice-key-0123456789' };
    if (i === 0) headers['traceparent'] = `00-${TRACE}-b7ad6b7169203331-01`;
    assert.equal((await http(`${gw.url}/orders/${i}`, { headers })).status, 200);
  }
  assert.equal((await http(`${gw.url}/dead`)).status, 502);
  for (const sink of ['proto', 'json']) await eventually(() => sinkCounts(gw.statusPort!, sink), (c) => c.sent === 5);

  for (const [path, service] of [['/proto/v1/logs', 'edge'], ['/json/v1/logs', 'northgate']] as const) {
    const mine = exports.filter((e) => e.path === path);
    const records = mine.flatMap((e) => e.body.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords)));
    assert.equal(records.length, 5, path);
    for (const e of mine) {
      const attrs = Object.fromEntries(e.body.resourceLogs[0]!.resource.attributes.map((a) => [a.key, a.value['stringValue'] ?? a.value['intValue']]));
      assert.equal(attrs['service.name'], service);
      assert.equal(typeof attrs['process.pid'], 'number');
      assert.equal(e.body.resourceLogs[0]!.scopeLogs[0]!.scope.name, 'northgate');
    }
    const ok = records.filter((r) => attr(r, 'http.response.status_code') === 200);
    assert.equal(ok.length, 4);
    for (const r of ok) {
      assert.equal(r.severityNumber, 9);
      assert.equal(r.severityText, 'INFO');
      assert.equal(attr(r, 'http.request.method'), 'GET');
      assert.equal(attr(r, 'northgate.route'), 'order');
      assert.equal(attr(r, 'northgate.consumer'), 'alice');
      assert.equal(attr(r, 'northgate.credential'), 'alice-main');
      assert.match(String(attr(r, 'url.path')), /^\/orders\/\d$/);
      assert.equal((JSON.parse(r.body.stringValue) as { status: number }).status, 200);
      const ms = Number(BigInt(r.timeUnixNano) / 1_000_000n);
      assert.ok(Math.abs(ms - Date.now()) < 60_000, 'a Unix time in nanoseconds');
    }
    assert.equal(records.filter((r) => r.traceId === TRACE).length, 1);
    const failed = records.find((r) => attr(r, 'http.response.status_code') === 502)!;
    assert.equal(failed.severityNumber, 13);
    assert.equal(failed.severityText, 'WARN');
    assert.equal(attr(failed, 'northgate.service'), 'dead');
  }
  const json = await sinkCounts(gw.statusPort!, 'json');
  assert.deepEqual({ failed: json.failed, retried: json.retried, sent: json.sent }, { failed: 1, retried: 1, sent: 5 });
});
