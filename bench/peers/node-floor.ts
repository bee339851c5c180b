// "Node floor": node:http server + undici Pool.stream pass-through. Forwards
// method, path and headers (minus hop-by-hop ones) and streams the answer back.
// This is what any Node proxy costs before it does anything else.
import http from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { announce, args, exitOnSignals } from './common.js';

const { port, upstream } = args();
if (!upstream) throw new Error('usage: node-floor <port> <upstreamUrl>');
const pool = new Pool(upstream);

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function requestHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i] as string;
    if (!HOP.has(k.toLowerCase())) out.push(k, raw[i + 1] as string);
  }
  return out;
}

function responseHeaders(h: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  for (const k of HOP) if (k in h) delete h[k];
  return h as OutgoingHttpHeaders;
}

const server = http.createServer((req, res) => {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool.stream<ServerResponse>(
    {
      method: req.method as string,
      path: req.url as string,
      headers: requestHeaders(req.rawHeaders),
      body: hasBody ? req : null,
      opaque: res,
    },
    ({ statusCode, headers, opaque }) => {
      opaque.writeHead(statusCode, responseHeaders(headers));
      return opaque;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway\n');
      } else {
        res.destroy();
      }
    },
  );
});
server.listen(port, '127.0.0.1', () => announce(server));
exitOnSignals(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await pool.close();
});
