// Fallback upstream when nginx is not on PATH: a fixed ~100-byte JSON answer.
import http from 'node:http';
import { BODY, announce, args, exitOnSignals } from './common.js';

const { port } = args();
const body = Buffer.from(BODY);
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
// Proxies keep idle pooled connections for the whole run; do not close them under their feet.
server.keepAliveTimeout = 300_000;
server.headersTimeout = 310_000;
server.listen(port, '127.0.0.1', () => announce(server));
exitOnSignals(() => new Promise<void>((r) => server.close(() => r())));
