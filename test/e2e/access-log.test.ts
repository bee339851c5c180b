// One JSON access line per request: the default field set on stdout, a configured field
// list, hostile client text that must still give one valid JSON line, and the latency split
// (upstream_ms / gateway_ms / upstream_header_ms) checked against the upstream histogram.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_ACCESS_LOG_FIELDS } from '../../src/observability/access-log-format.js';
import { http, rawRequest, startCli, startEchoUpstream, startUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const ENVELOPE = ['level', 'type'];

describe('default fields on stdout', () => {
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
    await gw?.stop();
    await up.close();
  });
  const accessLine = (id: string) => gw.waitFor((l) => l['type'] === 'access' && l['request_id'] === id);

  test('a proxied request is logged with the default fields, in their documented order', async () => {
    const res = await http(gw.url + '/e/x?q=1', { method: 'POST', body: 'hello' });
    const line = await accessLine(res.headers['x-request-id'] as string);
    assert.deepEqual(Object.keys(line), [...ENVELOPE, ...DEFAULT_ACCESS_LOG_FIELDS]);
    assert.equal(line['level'], 'info');
    assert.match(line['time'] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line['pid'], gw.child.pid);
    assert.equal(line['method'], 'POST');
    assert.equal(line['path'], '/e/x');
    assert.equal(line['host'], '127.0.0.1');
    assert.equal(line['status'], 200);
    assert.equal(line['route'], 'echo-route');
    assert.equal(line['service'], 'echo-svc');
    assert.equal(line['target'], up.url);
    assert.equal(line['bytes_in'], 5);
    assert.equal(line['bytes_out'], Buffer.byteLength(res.body));
    assert.equal(line['client_ip'], '127.0.0.1');
    assert.equal(line['error'], null);
    const [total, upstream, gateway] = [line['duration_ms'], line['upstream_ms'], line['gateway_ms']] as number[];
    assert.ok(upstream! > 0 && gateway! > 0, JSON.stringify(line));
    // Rounded to the microsecond each: the split adds up to the total.
    assert.ok(Math.abs(upstream! + gateway! - total!) <= 0.002, JSON.stringify(line));
  });

  test('the gateway\'s own errors are logged with their code; no upstream time without an upstream', async () => {
    const res = await http(gw.url + '/nowhere/"quoted\\');
    assert.equal(res.status, 404);
    const line = await accessLine(res.headers['x-request-id'] as string);
    assert.equal(line['status'], 404);
    assert.equal(line['route'], null);
    assert.equal(line['error'], 'route-not-found');
    assert.equal(line['upstream_ms'], null);
    assert.equal(line['gateway_ms'], line['duration_ms']);
    const raw = await rawRequest(gw.port, 'GET /e/../x HTTP/1.1\r\nHost: a\r\nX-Request-Id: bad-path-1\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.equal((await accessLine('bad-path-1'))['error'], 'bad-request');
  });
});

describe('configured fields, to a file', () => {
  const ALL = [
    'time', 'pid', 'request_id', 'trace_id', 'client_ip', 'peer_ip', 'scheme', 'http_version', 'method', 'host', 'path', 'query', 'status',
    'bytes_in', 'bytes_out', 'duration_ms', 'gateway_ms', 'upstream_ms', 'upstream_header_ms', 'attempts', 'route', 'service', 'upstream',
    'target', 'consumer', 'user_agent', 'referer', 'error', 'req.h.x-tenant', 'res.h.x-served-by',
  ];
  let up: Upstream;
  let gw: CliGateway;
  let file: string;
  before(async () => {
    up = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'X-Served-By': req.headers['x-evil'] === undefined ? 'node-1' : 'a"b\\c\td' }).end('ok'));
    });
    file = join(tempDir(), 'access.log');
    gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log:
  path: ${file}
  fields: [${ALL.map((f) => JSON.stringify(f)).join(', ')}]
consumers:
  - { username: alice, credentials: { key-auth: [{ key: "alice-key-0123456789" }] } }
upstreams: [{ name: pool, targets: [{ url: "${up.url}" }] }]
services:
  - { name: open, upstream: pool, routes: [{ name: open-route, paths: ["/open"] }] }
  - { name: keyed, upstream: pool, plugins: { key-auth: {} }, routes: [{ name: keyed-route, paths: ["/keyed"] }] }
`)]);
  });
  after(async () => {
    await gw?.stop();
    await up.close();
  });

  /** Stops the gateway (which flushes the file) and returns the file's lines, each checked to be one valid JSON object. */
  async function fileLines(): Promise<Array<Record<string, unknown>>> {
    assert.equal(await gw.stop(), 0);
    const bytes = readFileSync(file);
    // Valid UTF-8 throughout (fatal decoder), one JSON object per line.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    assert.ok(text.endsWith('\n'));
    return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  test('every field, in the configured order; hostile client text stays one valid JSON line', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const a = await http(gw.url, {
      path: '/keyed/x?a=1&b="2"',
      headers: { 'x-api-key': 'alice-key-0123456789', 'x-tenant': 'acme', 'user-agent': 'curl/8', referer: 'https://r.example/', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    assert.equal(a.status, 200);
    // Raw bytes: quotes, backslash, a tab, bytes that are not UTF-8, valid UTF-8, U+2028, and a 5000-byte value.
    const hostile = Buffer.concat([
      Buffer.from('GET /open/%22q HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: hostile-1\r\nX-Evil: 1\r\nConnection: close\r\n', 'latin1'),
      Buffer.from('X-Tenant: "x\\y\tz', 'latin1'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x20]),
      Buffer.from(' é \u2028 end\r\n', 'utf8'),
      Buffer.from(`User-Agent: ${'u'.repeat(5000)}\r\nReferer: "\\\r\n\r\n`, 'latin1'),
    ]);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(gw.port, '127.0.0.1');
      let out = '';
      s.on('data', (c: Buffer) => (out += c.toString('latin1')));
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.write(hostile);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    // Refused for a second Host header: the headers after it are still read, so the line keeps
    // the client's User-Agent and trace id.
    const dupTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const dup = await rawRequest(gw.port, `GET /open HTTP/1.1\r\nHost: a\r\nHost: a\r\nX-Request-Id: dup-host-1\r\nUser-Agent: after/1\r\ntraceparent: 00-${dupTrace}-00f067aa0ba902b7-01\r\nConnection: close\r\n\r\n`);
    assert.match(dup, /^HTTP\/1\.1 400 /);

    const lines = await fileLines();
    assert.equal(lines.length, 3);
    const [first, second, third] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual([third['request_id'], third['status'], third['error'], third['user_agent'], third['trace_id']], ['dup-host-1', 400, 'bad-request', 'after/1', dupTrace]);
    assert.deepEqual(Object.keys(first), [...ENVELOPE, ...ALL]);
    assert.equal(first['request_id'], a.headers['x-request-id']);
    assert.equal(first['trace_id'], traceId, 'tracing off: the incoming traceparent\'s trace id');
    assert.equal(first['peer_ip'], '127.0.0.1');
    assert.equal(first['scheme'], 'http');
    assert.equal(first['http_version'], '1.1');
    assert.equal(first['path'], '/keyed/x');
    assert.equal(first['query'], 'a=1&b="2"');
    assert.equal(first['attempts'], 1);
    assert.equal(first['route'], 'keyed-route');
    assert.equal(first['service'], 'keyed');
    assert.equal(first['upstream'], 'pool');
    assert.equal(first['target'], up.url);
    assert.equal(first['consumer'], 'alice');
    assert.equal(first['user_agent'], 'curl/8');
    assert.equal(first['referer'], 'https://r.example/');
    assert.equal(first['req.h.x-tenant'], 'acme');
    assert.equal(first['res.h.x-served-by'], 'node-1');
    assert.ok((first['upstream_header_ms'] as number) <= (first['upstream_ms'] as number));

    assert.equal(second['request_id'], 'hostile-1');
    assert.equal(second['trace_id'], null);
    assert.equal(second['query'], null);
    assert.equal(second['consumer'], null);
    assert.equal(second['path'], '/open/%22q');
    assert.equal(second['req.h.x-tenant'], '"x\\y\tz\ufffd\ufffd\ufffd  é \u2028 end', 'bytes that are not UTF-8 become U+FFFD, the rest is kept');
    assert.equal(second['res.h.x-served-by'], 'a"b\\c\td');
    assert.equal(second['user_agent'], `${'u'.repeat(2048)}…`, 'long client text is cut');
    assert.equal(second['referer'], '"\\');
    const raw = readFileSync(file, 'utf8');
    assert.ok(raw.includes('\\u2028'), 'U+2028 is escaped in the file');
    assert.ok(raw.includes('\\t'), 'a tab is escaped');
  });
});

describe('latency split', () => {
  test('upstream_ms runs to the last upstream byte, upstream_header_ms to its head; the histogram observes the head time', async () => {
    // The upstream sends its head and a first chunk, then holds the rest until the client has
    // seen that chunk: the wait counts as upstream time, not gateway time.
    let releaseBody: () => void = () => undefined;
    const up = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first-part;');
      releaseBody = () => res.end('tail');
    });
    let gw: CliGateway | undefined;
    try {
      gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: "127.0.0.1:0" }
access_log: { fields: [request_id, duration_ms, gateway_ms, upstream_ms, upstream_header_ms] }
services: [{ name: slow, url: "${up.url}", routes: [{ name: slow-route, paths: ["/slow"] }] }]
`)]);
      const g = gw;
      const id = await new Promise<string>((resolve, reject) => {
        const s = connect(g.port, '127.0.0.1');
        let seen = '';
        let released = false;
        s.on('data', (c: Buffer) => {
          seen += c.toString('latin1');
          if (!released && seen.includes('first-part;')) {
            released = true;
            releaseBody();
          }
        });
        s.on('close', () => resolve(/x-request-id: (\S+)/i.exec(seen)?.[1] ?? ''));
        s.on('error', reject);
        s.write('GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      });
      const line = await g.waitFor((l) => l['type'] === 'access' && l['request_id'] === id);
      const [total, gateway, upstream, header] = ['duration_ms', 'gateway_ms', 'upstream_ms', 'upstream_header_ms'].map((k) => line[k] as number);
      assert.ok(header! < upstream!, `the body came a round trip after the head: ${JSON.stringify(line)}`);
      assert.ok(upstream! < total!);
      assert.ok(Math.abs(gateway! + upstream! - total!) <= 0.002);
      const metrics = await http(`http://127.0.0.1:${g.statusPort}/metrics`);
      const sum = Number(/^northgate_upstream_duration_seconds_sum\{service="slow",route="slow-route"\} (\S+)$/m.exec(metrics.body)?.[1]);
      const count = Number(/^northgate_upstream_duration_seconds_count\{service="slow",route="slow-route"\} (\S+)$/m.exec(metrics.body)?.[1]);
      assert.equal(count, 1);
      assert.ok(Math.abs(sum * 1000 - header!) < 0.002, `histogram sum ${sum}s vs upstream_header_ms ${header}`);
    } finally {
      await gw?.stop();
      await up.close();
    }
  });
});
