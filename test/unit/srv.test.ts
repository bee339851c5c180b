// SRV targets: what the config refuses (and where), and the SRV client against a hostile
// DNS responder on 127.0.0.1 — malformed answers are errors (the last good records stay),
// never a crash or a hang; a datagram with another id is not taken for the answer.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { querySrv } from '../../src/upstream/srv-query.js';

function problems(text: string): string[] {
  try {
    loadConfigText('gw.yaml', text, defaultRegistry(), {});
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
  return assert.fail('expected the config to be refused');
}

const upstream = (target: string) => `_format_version: "1"\nupstreams:\n  - name: u\n    targets:\n      - ${target}\n`;

describe('SRV targets in the config', () => {
  test('exactly one of url and srv; weight with url only, scheme with srv only; an SRV name', () => {
    assert.deepEqual(problems(upstream('{ srv: "_http._tcp.orders.example", weight: 2 }')), ['gw.yaml:5:53 upstreams[0].targets[0].weight: an SRV target takes its weights from the SRV records']);
    assert.deepEqual(problems(upstream('{ url: "http://127.0.0.1:1", srv: "_http._tcp.orders.example" }')), ['gw.yaml:5:9 upstreams[0].targets[0]: a target has either "url" (with "weight") or "srv" (with "scheme")']);
    assert.deepEqual(problems(upstream('{}')), ['gw.yaml:5:9 upstreams[0].targets[0]: a target has either "url" (with "weight") or "srv" (with "scheme")']);
    assert.deepEqual(problems(upstream('{ url: "http://127.0.0.1:1", scheme: https }')), ['gw.yaml:5:46 upstreams[0].targets[0].scheme: applies to "srv" targets; a "url" has its scheme']);
    for (const bad of ['orders.example', '_http.orders.example', '_http._sctp.orders.example', '_http._tcp.', '_http._tcp.a..b']) {
      assert.deepEqual(problems(upstream(`{ srv: "${bad}" }`)), ['gw.yaml:5:16 upstreams[0].targets[0].srv: must be an SRV name such as _http._tcp.orders.example'], bad);
    }
    assert.deepEqual(problems(upstream('{ srv: "_grpc._tcp.a.example", scheme: ftp }')), ['gw.yaml:5:48 upstreams[0].targets[0].scheme: must be one of: http, https, grpc, grpcs']);
  });

  test('an SRV scheme counts for the protocol rules: no grpc beside http, tls needs a TLS scheme', () => {
    const text = `_format_version: "1"\nupstreams:\n  - name: u\n    targets: [{ srv: "_grpc._tcp.a.example", scheme: grpc }, { url: "http://127.0.0.1:1" }]\n`;
    assert.deepEqual(problems(text), ['gw.yaml:4:14 upstreams[0].targets: mixes grpc:// and http:// targets; put them in separate upstreams']);
  });
});

describe('the SRV client against a hostile responder', () => {
  let socket: Socket;
  let port = 0;
  /** What the responder does with the next query: return the reply bytes (given the query), or null for silence. */
  let reply: (q: Buffer) => Buffer[] = () => [];
  before(async () => {
    socket = createSocket('udp4');
    socket.on('message', (q, rinfo) => {
      for (const r of reply(q)) socket.send(r, rinfo.port, rinfo.address);
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    port = socket.address().port;
  });
  after(() => socket.close());

  // Answers are awaited up to 5 s (a loaded machine); only the silence case waits its short timeout out.
  const ask = (timeoutMs = 5_000) => querySrv('_http._tcp.a.example', { servers: [`127.0.0.1:${port}`], timeoutMs, attempts: 1 });
  /** A reply header for query q: id copied, QR set, rcode, the given counts; the question copied. */
  const answer = (q: Buffer, rcode: number, an: number, body: Buffer[]): Buffer => {
    const h = Buffer.alloc(12);
    q.copy(h, 0, 0, 2);
    h.writeUInt16BE(0x8180 | rcode, 2);
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(an, 6);
    const questionEnd = 12 + q.subarray(12).indexOf(0) + 5;
    return Buffer.concat([h, q.subarray(12, questionEnd), ...body]);
  };
  const srvRecord = (target: Buffer, ttl = 30): Buffer => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(33, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(6 + target.length, 10);
    const fixed = Buffer.from([0, 1, 0, 5, 0x1f, 0x90]);
    return Buffer.concat([rr, fixed, target]);
  };

  test('a well-formed answer: records with priority, weight, port, name; the TTL', async () => {
    reply = (q) => [answer(q, 0, 1, [srvRecord(Buffer.from('\x03web\x01a\x07example\x00', 'latin1'), 42)])];
    assert.deepEqual(await ask(), { records: [{ priority: 1, weight: 5, port: 8080, name: 'web.a.example' }], ttlMs: 42_000 });
  });

  test('a compression loop, a label past the end, a record past the end: errors, not hangs', async () => {
    reply = (q) => [answer(q, 0, 1, [srvRecord(Buffer.from([0xc0, 12 + q.subarray(12).indexOf(0) + 5 + 18]))])];
    await assert.rejects(ask(), /malformed DNS answer: compression loop/);
    reply = (q) => [answer(q, 0, 1, [srvRecord(Buffer.from([60, 0x61]))])];
    await assert.rejects(ask(), /malformed DNS answer/);
    reply = (q) => [answer(q, 0, 1, [srvRecord(Buffer.from('\x03web\x00', 'latin1')).subarray(0, 16)])];
    await assert.rejects(ask(), /malformed DNS answer: truncated record/);
  });

  test('SERVFAIL and REFUSED are failures; NXDOMAIN is an empty answer', async () => {
    reply = (q) => [answer(q, 2, 0, [])];
    await assert.rejects(ask(), /SERVFAIL/);
    reply = (q) => [answer(q, 5, 0, [])];
    await assert.rejects(ask(), /REFUSED/);
    reply = (q) => [answer(q, 3, 0, [])];
    assert.deepEqual(await ask(), { records: [], ttlMs: null });
  });

  test('a datagram with another id is ignored: the real answer after it is taken, and silence times out', async () => {
    reply = (q) => {
      const forged = answer(q, 0, 1, [srvRecord(Buffer.from('\x04evil\x07example\x00', 'latin1'))]);
      forged.writeUInt16BE((q.readUInt16BE(0) + 1) & 0xffff, 0);
      return [forged, answer(q, 0, 1, [srvRecord(Buffer.from('\x03web\x01a\x07example\x00', 'latin1'))])];
    };
    assert.equal((await ask()).records[0]!.name, 'web.a.example');
    reply = () => [];
    await assert.rejects(ask(300), /did not answer/);
  });
});
