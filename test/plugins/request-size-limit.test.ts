// The `request-size-limit` plugin: a per-scope body limit, on declared and streamed bytes.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createTestGateway, type TestGateway } from '../../src/testing/index.js';
import { configProblems, routeWithPlugin } from '../helpers/config.js';

const problemsOf = (yaml: string): string[] => configProblems(yaml, 'r.yaml');

const withPlugin = (plugin: string): string => routeWithPlugin('request-size-limit', plugin);

describe('request-size-limit plugin schema', () => {
  test('max_bytes is required, a non-negative integer', () => {
    assert.match(problemsOf(withPlugin('{}')).join('\n'), /^r\.yaml:8:\d+ services\[0\]\.routes\[0\]\.plugins\.request-size-limit/m);
    for (const bad of ['{ max_bytes: -1 }', '{ max_bytes: 1.5 }', '{ max_bytes: "1k" }', '{ max_bytes: 10, maxbytes: 1 }']) {
      const lines = problemsOf(withPlugin(bad));
      assert.equal(lines.length, 1, `${bad}: ${lines.join('\n')}`);
      assert.match(lines[0]!, /plugins\.request-size-limit\.max_?bytes/);
    }
  });
});

interface Seen {
  complete: boolean;
  received: number;
}

/** Reads from a connection until the gateway closes it. */
const readAll = (socket: Duplex): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });

describe('request-size-limit plugin behaviour', () => {
  let gw: TestGateway;
  let started = 0;
  /** Resolvers for the next upstream request to receive body bytes / to close. */
  let onData: (() => void) | null = null;
  let onClose: ((s: Seen) => void) | null = null;
  before(async () => {
    const up = createServer((req: IncomingMessage, res) => {
      started++;
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        onData?.();
      });
      req.on('error', () => undefined);
      req.on('close', () => onClose?.({ complete: req.complete, received: n }));
      req.on('end', () => res.end(JSON.stringify({ received: n })));
    });
    gw = createTestGateway({ config: `
_format_version: "1"
limits: { max_body_bytes: 5000 }
services:
  - name: s
    url: "http://up"
    plugins: { request-size-limit: { max_bytes: 100 } }
    routes:
      - paths: ["/small"]
      - paths: ["/none"]
        plugins: { request-size-limit: { max_bytes: 0 } }
      - paths: ["/above-global"]
        plugins: { request-size-limit: { max_bytes: 1000000 } }
  - name: free
    url: "http://up"
    routes: [{ paths: ["/free"] }]
`, upstreams: { up } });
  });
  after(async () => {
    await gw.close();
  });

  test('a declared Content-Length over the limit is a 413 problem before anything reaches the upstream', async () => {
    const before = started;
    const res = await gw.request({ path: '/small', method: 'POST', body: 'x'.repeat(101) });
    assert.equal(res.status, 413);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    assert.equal((JSON.parse(res.body) as { type: string }).type, 'urn:northgate:problem:body-too-large');
    assert.equal((await gw.request({ path: '/none', method: 'POST', body: 'x' })).status, 413);
    assert.equal(started, before, 'the upstream saw nothing');
  });

  test('bodies up to the limit are forwarded whole, with Content-Length or chunked', async () => {
    assert.deepEqual(JSON.parse((await gw.request({ path: '/small', method: 'POST', body: 'x'.repeat(100) })).body), { received: 100 });
    assert.equal((await gw.request({ path: '/none' })).status, 200, 'no body is fine with max_bytes 0');
    const chunked = await gw.raw(`POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n32\r\n${'y'.repeat(50)}\r\n32\r\n${'y'.repeat(50)}\r\n0\r\n\r\n`);
    assert.match(chunked, /^HTTP\/1\.1 200 /);
    assert.match(chunked, /"received":100/);
  });

  test('a chunked body growing past the limit is cut with 413; the upstream request is aborted', { timeout: 10_000 }, async () => {
    const socket = gw.connect();
    const answer = readAll(socket);
    const upstreamGotData = new Promise<void>((r) => (onData = r));
    const upstreamClosed = new Promise<Seen>((r) => (onClose = r));
    socket.write(`POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n${'z'.repeat(40)}\r\n`);
    // The upstream request is under way before the body goes over the limit.
    await upstreamGotData;
    onData = null;
    // Small chunks, none over the limit alone, and the body never ends: the gateway must not wait for it.
    socket.write(`28\r\n${'z'.repeat(40)}\r\n`.repeat(3));
    const text = await answer;
    assert.match(text, /^HTTP\/1\.1 413 /);
    assert.match(text, /urn:northgate:problem:body-too-large/);
    const seen = await upstreamClosed;
    onClose = null;
    assert.equal(seen.complete, false, 'the upstream never saw a complete request');
    assert.ok(seen.received <= 100, `the upstream got at most the limit (${seen.received} bytes)`);
  });

  test('a limit above limits.max_body_bytes does not raise it; routes without the plugin keep the global limit', async () => {
    assert.equal((await gw.request({ path: '/above-global', method: 'POST', body: 'x'.repeat(5001) })).status, 413);
    assert.deepEqual(JSON.parse((await gw.request({ path: '/above-global', method: 'POST', body: 'x'.repeat(5000) })).body), { received: 5000 });
    assert.deepEqual(JSON.parse((await gw.request({ path: '/free', method: 'POST', body: 'x'.repeat(4000) })).body), { received: 4000 });
  });
});
