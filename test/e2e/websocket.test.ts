// WebSocket through the gateway with the `ws` package on both ends: echo, auth on the
// handshake (a refused handshake is the usual problem+json), the route's path handling,
// close in both directions, the idle timeout, and the open-tunnels gauge.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { openWebSockets } from '../../src/proxy/websocket.js';
import { startGateway, startUpstream, type InProcessGateway, type Upstream } from '../helpers/servers.js';

/** Drops a client whose handshake was refused (ws reports that as an error). */
function refuse(ws: WebSocket): void {
  ws.on('error', () => undefined);
  ws.terminate();
}

describe('WebSocket proxying', () => {
  let upstream: Upstream;
  let wss: WebSocketServer;
  let gw: InProcessGateway;
  const handshakes: IncomingMessage[] = [];
  const serverSockets: WebSocket[] = [];
  before(async () => {
    upstream = await startUpstream((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('websocket only\n'));
    wss = new WebSocketServer({ noServer: true });
    upstream.server.on('upgrade', (req, socket, head) => {
      if (req.url?.includes('/refuse')) {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\nrefused\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        handshakes.push(req);
        serverSockets.push(ws);
        ws.on('message', (data, binary) => {
          const text = data.toString();
          if (text === 'close-me') ws.close(4001, 'server says bye');
          else ws.send(binary ? data : `echo:${text}`, { binary });
        });
      });
    });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
consumers:
  - username: alice
    credentials: { key-auth: [{ key: "alice-secret-key-1" }] }
services:
  - name: chat
    url: "${upstream.url}/base"
    timeouts: { websocket_idle: 300ms }
    routes:
      - { paths: ["/chat"], strip_path: true, plugins: { key-auth: {} } }
      - { paths: ["/open"], strip_path: true }
`);
  });
  after(async () => {
    wss.close();
    await gw.close();
    await upstream.close();
  });

  const open = async (path: string, headers: Record<string, string> = {}): Promise<WebSocket> => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, { headers });
    await once(ws, 'open');
    return ws;
  };

  test('frames echo both ways; the handshake passed the route path handling and key-auth', async () => {
    const ws = await open('/chat/room/1?x=y', { apikey: 'alice-secret-key-1' });
    ws.send('hello');
    assert.equal(String((await once(ws, 'message'))[0]), 'echo:hello');
    const big = Buffer.alloc(256 * 1024, 7);
    ws.send(big);
    const [data, binary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.equal(binary, true);
    assert.ok(Buffer.compare(data, big) === 0);
    const req = handshakes.at(-1)!;
    assert.equal(req.url, '/base/room/1?x=y');
    assert.equal(req.headers['x-consumer-username'], 'alice');
    assert.equal(req.headers['apikey'], undefined);
    assert.equal(req.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(openWebSockets(), 1);
    ws.close(1000, 'done');
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1000);
  });

  test('a handshake without a key is refused with the usual 401 problem', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/chat/room`);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    let body = '';
    for await (const c of res) body += String(c);
    assert.equal((JSON.parse(body) as { type: string }).type, 'urn:northgate:problem:unauthorized');
    refuse(ws);
  });

  test("an upstream that refuses the upgrade: its answer reaches the client", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/open/refuse`);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    assert.equal(res.statusCode, 403);
    let body = '';
    for await (const c of res) body += String(c);
    assert.equal(body, 'refused\n');
    refuse(ws);
  });

  test('the upstream closing is seen by the client, with its code and reason', async () => {
    const ws = await open('/open/x');
    ws.send('close-me');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'server says bye');
  });

  test('the client going away closes the upstream side', async () => {
    const ws = await open('/open/y');
    ws.send('ping');
    await once(ws, 'message');
    const server = serverSockets.at(-1)!;
    const closed = once(server, 'close');
    ws.terminate();
    await closed;
  });

  test('an idle tunnel is closed on both sides after timeouts.websocket_idle', async () => {
    const ws = await open('/open/idle');
    const server = serverSockets.at(-1)!;
    const serverClosed = once(server, 'close');
    const [code] = (await once(ws, 'close')) as [number];
    // No close frame: the gateway cuts the TCP connection (1006 abnormal closure).
    assert.equal(code, 1006);
    await serverClosed;
    assert.equal(openWebSockets(), 0);
  });

  test('an upstream that is down: 502 problem on the handshake', async () => {
    const down = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: gone
    url: "http://127.0.0.1:1"
    routes: [{ paths: ["/"] }]
`);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${down.port}/x`);
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 502);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      refuse(ws);
    } finally {
      await down.close();
    }
  });
});
