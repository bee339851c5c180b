// An upstream that fails while the client is still uploading: the client gets the gateway's
// 502 problem on its connection (then the connection closes, the rest of its body unread by
// the upstream), never a cut connection without an answer. Runs on both engines
// (test/node/upload-failure.test.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startGateway, type InProcessGateway } from '../helpers/servers.js';

let upstream: Server;
let gw: InProcessGateway;
const upstreamSockets = new Set<Socket>();

before(async () => {
  // Reads the request head and the first body bytes, then resets the connection.
  upstream = createServer((socket) => {
    upstreamSockets.add(socket);
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > 64) socket.resetAndDestroy();
    });
    socket.on('error', () => undefined);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const port = (upstream.address() as { port: number }).port;
  gw = await startGateway(`_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: api
    url: "http://127.0.0.1:${port}"
    routes: [{ paths: ["/"] }]
`);
});

after(async () => {
  await gw?.close();
  for (const s of upstreamSockets) s.destroy();
  upstream.close();
});

/** Sends a request head announcing `length` body bytes and the first `first` of them; resolves with all the client read until the gateway closed (or 5 s). */
async function uploadThenRead(length: number, first: number, chunked: boolean): Promise<string> {
  const socket = connect(gw.port, '127.0.0.1');
  await once(socket, 'connect');
  const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  const body = Buffer.alloc(first, 'a');
  socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n`);
  socket.write(chunked ? Buffer.concat([Buffer.from(`${first.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 5000))]);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

for (const chunked of [false, true]) {
  test(`upstream reset mid-upload (${chunked ? 'chunked' : 'Content-Length'}): the client gets a 502 problem`, async () => {
    const text = await uploadThenRead(1_000_000, 4096, chunked);
    assert.match(text, /^HTTP\/1\.1 502 /, `the client read: ${JSON.stringify(text.slice(0, 200))}`);
    assert.match(text, /application\/problem\+json/);
  });
}
