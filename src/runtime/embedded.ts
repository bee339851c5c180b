// What `northgate start` runs with no config file: the gateway on :8000, status on
// 127.0.0.1:8100, and a built-in demo upstream that echoes the request it receives, so
// that `curl localhost:8000/echo/hello` answers at once.
import { createServer, type Server } from 'node:http';
import type { RawConfig } from '../config/types.js';

export function embeddedConfig(echoPort: number): RawConfig {
  return {
    _format_version: '1',
    listen: { proxy: process.env['NORTHGATE_PROXY_LISTEN'] ?? '0.0.0.0:8000', status: process.env['NORTHGATE_STATUS_LISTEN'] ?? '127.0.0.1:8100' },
    services: [
      {
        name: 'demo',
        url: `http://127.0.0.1:${echoPort}`,
        plugins: { headers: { response: { set: { 'x-northgate-demo': 'true' } } } },
        routes: [{ name: 'echo', paths: ['/echo'], strip_path: true }],
      },
    ],
  };
}

/** The demo upstream: answers every request with a JSON description of it. */
export function startEchoServer(port = 0): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ service: 'northgate demo echo', method: req.method, path: req.url, headers: req.headers, body_bytes: size });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.maxConnections = 1024;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : port });
    });
  });
}
