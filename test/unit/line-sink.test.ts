// The access log's writer: whole lines, in order, never blocking the event loop on a
// socket or pipe whose reader is slow, and bounded when it cannot keep up.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { LineSink } from '../../src/base/line-sink.js';
import { tempDir } from '../helpers/servers.js';

const line = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(200) }) + '\n';

test('to a file: every line, in order, after flush', () => {
  const file = join(tempDir(), 'access.log');
  const fd = openSync(file, 'w');
  const sink = new LineSink(fd);
  for (let i = 0; i < 1000; i++) sink.write(line(i));
  sink.close();
  closeSync(fd);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 1000);
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { i: number }).i, i));
});

test('to a file: multi-byte text and a line longer than the sink buffer arrive whole and in order', () => {
  const file = join(tempDir(), 'access-utf8.log');
  const fd = openSync(file, 'w');
  const sink = new LineSink(fd);
  const lines: string[] = [];
  for (let i = 0; i < 500; i++) lines.push(JSON.stringify({ i, text: i % 7 === 0 ? 'ünïcødé ✓ 漢字 '.repeat(40) : 'plain' }) + '\n');
  // 100,000 three-byte characters: ~300 KB of UTF-8, more than the sink buffers at once.
  lines.splice(250, 0, JSON.stringify({ i: 'long', text: '漢'.repeat(100_000) }) + '\n');
  for (const l of lines) sink.write(l);
  sink.close();
  closeSync(fd);
  assert.equal(readFileSync(file, 'utf8'), lines.join(''));
});

test('to a socket whose reader is paused: writes do not block, and everything arrives in order once it reads', async () => {
  const received: Buffer[] = [];
  let peer: Socket | null = null;
  const server = createServer((s) => {
    peer = s;
    s.pause();
    s.on('data', (c: Buffer) => received.push(c));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(client, 'connect');
  while (peer === null) await new Promise((r) => setImmediate(r));
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
  const sink = new LineSink(fd);
  // ~2 MB: far more than socket buffers hold while nobody reads.
  for (let i = 0; i < 10_000; i++) sink.write(line(i));
  sink.flush();
  // Reaching this point at all means no write blocked the event loop.
  let ticked = false;
  setImmediate(() => (ticked = true));
  await new Promise((r) => setImmediate(r));
  assert.ok(ticked);
  (peer as Socket).resume();
  const expected = Array.from({ length: 10_000 }, (_, i) => line(i)).join('').length;
  for (let k = 0; k < 500 && received.reduce((n, b) => n + b.length, 0) < expected; k++) await new Promise((r) => setTimeout(r, 10));
  const text = Buffer.concat(received).toString();
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 10_000);
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { i: number }).i, i));
  assert.equal(sink.dropped, 0);
  sink.close();
  client.destroy();
  server.close();
});
