// Records and the access line: with the access log on, a sink's record copies the fields it
// shares with the request's access line instead of making them again. Against a real
// gateway with its access log in a file and http sinks to a local receiver that keeps the
// bodies as sent: a sink with the access log's own field list ships, byte for byte, the
// line without its envelope; the default list ships those bytes and four fields more (as
// JSON lines and in a JSON array, a consumer name that is not ASCII included); a reordered
// list with fields the line lacks ships the same values in its own order; hostile client
// text (quotes, a field name and JSON in a header, bytes that are not UTF-8, a header cut at
// the logged length) included. The access log itself is the line it was: its keys and values.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_ACCESS_LOG_FIELDS } from '../../src/observability/access-log-format.js';
import { DEFAULT_SINK_FIELDS } from '../../src/observability/log-sink-config.js';
import { http, startCli, startEchoUpstream, tempDir, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const KEY = 'alice-secret-key-0123456789';
const ZOE_KEY = 'zoe-secret-key-0123456789';
const ENVELOPE = '{"level":"info","type":"access",';
const MIXED = ['user_agent', 'path', 'time', 'consumer', 'query', 'status', 'trace_id', 'req.h.apikey', 'method', 'request_id', 'upstream'];

/** A receiver that keeps each body's text as sent, by the path it was posted to. */
interface Receiver {
  url: string;
  bodies: Map<string, string[]>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const bodies = new Map<string, string[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const list = bodies.get(req.url!) ?? [];
      list.push(Buffer.concat(chunks).toString('utf8'));
      bodies.set(req.url!, list);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let echo: Upstream;
let receiver: Receiver;
let gw: CliGateway;
let logFile: string;

before(async () => {
  echo = await startEchoUpstream();
  receiver = await startReceiver();
  logFile = join(tempDir(), 'access.log');
  const batch = 'batch: { max_events: 1000, interval: 50ms }';
  gw = await startCli(['--config', writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
access_log: { path: "${logFile}" }
consumers:
  - { username: alice, credentials: { key-auth: [{ id: alice-key-1, key: "${KEY}" }] } }
  - { username: "zoë", credentials: { key-auth: [{ id: "zoë-key", key: "${ZOE_KEY}" }] } }
log_sinks:
  - { name: same, type: http, url: "${receiver.url}/same", fields: [${DEFAULT_ACCESS_LOG_FIELDS.join(', ')}], ${batch} }
  - { name: defaults, type: http, url: "${receiver.url}/defaults", ${batch} }
  - { name: defaults-array, type: http, format: json_array, url: "${receiver.url}/defaults-array", ${batch} }
  - { name: mixed, type: http, format: json_array, url: "${receiver.url}/mixed", fields: [${MIXED.map((f) => JSON.stringify(f)).join(', ')}], ${batch} }
services:
  - name: orders
    url: "${echo.url}"
    routes:
      - { name: keyed, paths: ["/keyed"], plugins: { key-auth: {} } }
      - { name: open, paths: ["/open"] }
`)]);
});
after(async () => {
  await gw?.stop();
  await echo.close();
  await receiver.close();
});

/** Sends raw bytes; resolves with the answer's text once the server closes. */
function rawBytes(port: number, bytes: Buffer): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString('latin1')));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.write(bytes);
  });
}

/** The records a sink shipped, as the text of each (split by the sink's format). */
function shipped(path: string, array: boolean): string[] {
  const out: string[] = [];
  for (const body of receiver.bodies.get(path) ?? []) {
    if (!array) {
      assert.ok(body.endsWith('\n'));
      out.push(...body.slice(0, -1).split('\n'));
      continue;
    }
    // A JSON array of records: split at the top level (a record is one object with no nesting).
    assert.ok(body.startsWith('[{') && body.endsWith('}]'));
    const items = JSON.parse(body) as unknown[];
    const texts = body.slice(1, -1).split(/(?<=\}),(?=\{")/);
    assert.equal(texts.length, items.length, 'a record boundary inside a value would break this split: none expected');
    out.push(...texts);
  }
  return out;
}

test('a record copies the access line: byte for byte with the same fields, the same values with others; hostile text included', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await http(`${gw.url}/keyed/${i}?access_token=t0ken&x=${i}`, { headers: { apikey: KEY, 'x-request-id': `plain-${i}`, 'user-agent': `ua/${i}` } });
    assert.equal(r.status, 200);
    ids.push(`plain-${i}`);
  }
  // A consumer whose name is not ASCII: the fields the record adds after the line's stretch are not ASCII.
  assert.equal((await http(`${gw.url}/keyed/z`, { headers: { apikey: ZOE_KEY, 'x-request-id': 'zoe-1' } })).status, 200);
  ids.push('zoe-1');
  assert.equal((await http(`${gw.url}/keyed/no-key`, { headers: { 'x-request-id': 'refused-1' } })).status, 401);
  ids.push('refused-1');
  assert.equal((await http(`${gw.url}/nowhere`, { headers: { 'x-request-id': 'unmatched-1' } })).status, 404);
  ids.push('unmatched-1');
  // A User-Agent that spells a key and a record boundary, a path with a quote, bytes that are not UTF-8, a header beyond the logged length.
  const hostile = Buffer.concat([
    Buffer.from('GET /open/%22q?a=%22,%22path%22:2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: hostile-1\r\nConnection: close\r\n', 'latin1'),
    Buffer.from('User-Agent: x","status":999,"path":"/evil"},{"request_id":"forged \\" ', 'latin1'),
    Buffer.from([0xff, 0xfe, 0xc3, 0x20]),
    Buffer.from(' é \u2028 end\r\n', 'utf8'),
    Buffer.from(`Apikey: ${'k'.repeat(100)}\r\n\r\n`, 'latin1'),
  ]);
  assert.match(await rawBytes(gw.port, hostile), /^HTTP\/1\.1 200 /);
  ids.push('hostile-1');
  const long = Buffer.from(`GET /open/long HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: long-1\r\nUser-Agent: ${'é'.repeat(3000)}\r\nConnection: close\r\n\r\n`, 'latin1');
  assert.match(await rawBytes(gw.port, long), /^HTTP\/1\.1 200 /);
  ids.push('long-1');

  // Stopping flushes the access log and sends what the sinks hold.
  assert.equal(await gw.stop(), 0);
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, ids.length);
  const lineOf = new Map(lines.map((l) => [(JSON.parse(l) as Record<string, unknown>)['request_id'] as string, l]));
  assert.deepEqual([...lineOf.keys()].sort(), [...ids].sort());
  for (const l of lines) {
    // The access log is the line it was: envelope, then the default fields in order.
    assert.ok(l.startsWith(ENVELOPE), l);
    assert.deepEqual(Object.keys(JSON.parse(l) as object), ['level', 'type', ...DEFAULT_ACCESS_LOG_FIELDS]);
  }

  const byId = (texts: string[]): Map<string, string> => new Map(texts.map((t) => [(JSON.parse(t) as Record<string, unknown>)['request_id'] as string, t]));
  const same = byId(shipped('/same', false));
  const defaults = byId(shipped('/defaults', false));
  const defaultsArray = byId(shipped('/defaults-array', true));
  const mixed = byId(shipped('/mixed', true));
  for (const id of ids) {
    const line = lineOf.get(id)!;
    // The same fields: the line's bytes without its envelope and newline.
    assert.equal(same.get(id), `{${line.slice(ENVELOPE.length)}`, id);
    // The default fields: the line's fields, byte for byte, then four more; the same in a JSON array.
    assert.ok(defaults.get(id)?.startsWith(`{${line.slice(ENVELOPE.length, -1)},"trace_id":`), `${id}: ${defaults.get(id)}`);
    assert.equal(defaultsArray.get(id), defaults.get(id), id);
    const values = JSON.parse(line) as Record<string, unknown>;
    for (const [sink, fields] of [
      [defaults, DEFAULT_SINK_FIELDS],
      [mixed, MIXED],
    ] as const) {
      const text = sink.get(id)!;
      assert.ok(text !== undefined, `${id} shipped`);
      const record = JSON.parse(text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(record), fields, id);
      for (const f of fields) if (f in values) assert.deepEqual(record[f], values[f], `${id} ${f}`);
    }
  }
  const hostileRecord = JSON.parse(mixed.get('hostile-1')!) as Record<string, unknown>;
  assert.equal(hostileRecord['req.h.apikey'], '[redacted]');
  assert.equal(hostileRecord['status'], 200);
  assert.equal(hostileRecord['path'], '/open/%22q');
  assert.equal(hostileRecord['query'], 'a=%22,%22path%22:2');
  assert.equal(hostileRecord['user_agent'], 'x","status":999,"path":"/evil"},{"request_id":"forged \\" \uFFFD\uFFFD\uFFFD  é \u2028 end');
  assert.equal((JSON.parse(mixed.get('plain-1')!) as Record<string, unknown>)['consumer'], 'alice');
  assert.equal((JSON.parse(mixed.get('plain-1')!) as Record<string, unknown>)['query'], 'access_token=[redacted]&x=1');
  assert.equal((JSON.parse(defaults.get('plain-1')!) as Record<string, unknown>)['credential'], 'alice-key-1');
  // Sent as UTF-8: a byte per character would read back as U+FFFD.
  const zoe = JSON.parse(defaults.get('zoe-1')!) as Record<string, unknown>;
  assert.deepEqual([zoe['consumer'], zoe['credential']], ['zoë', 'zoë-key']);
  assert.equal((JSON.parse(mixed.get('unmatched-1')!) as Record<string, unknown>)['upstream'], null);
});
