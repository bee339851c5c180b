// A real HTTP/1.1 server that records what it read: every request as node's parser read it
// (method, target, version, raw headers, body, raw trailers, and whether it arrived as an
// Upgrade), in the order the requests completed, and the raw bytes of every connection.
// Used as the upstream of the gateway and, without upgrade handling, as the reference parser
// of the differential test. Nothing here is a mock: it listens on 127.0.0.1 port 0.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  method: string;
  url: string;
  httpVersion: string;
  /** Names as sent, values as node read them (OWS trimmed). */
  rawHeaders: string[];
  body: Buffer;
  rawTrailers: string[];
  /** Arrived as an HTTP/1.1 Upgrade (node's 'upgrade' event); its body is never read. */
  upgrade: boolean;
}

export interface RecordingServer {
  server: Server;
  port: number;
  url: string;
  /** Requests in the order their reading completed (an upgrade: its head). */
  received: Received[];
  /** The bytes read on each connection, in the order the connections were accepted. */
  connections: Buffer[][];
  /** Resolves once `n` requests were received, or after `capMs` (then with what there is). */
  waitFor(n: number, capMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export interface RecordingOptions {
  /** Treat Upgrade requests as upgrades (answered 403, connection closed). False: node reads them as ordinary requests. */
  upgrades?: boolean;
  /** Answers a request instead of the default 200; called once its body and trailers were read. */
  answer?: (req: IncomingMessage, res: ServerResponse, received: Received) => void;
}

export async function startRecordingServer(opts: RecordingOptions = {}): Promise<RecordingServer> {
  const received: Received[] = [];
  const connections: Buffer[][] = [];
  const waiters: Array<() => void> = [];
  const record = (r: Received) => {
    received.push(r);
    for (const w of waiters.splice(0)) w();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method!, url: req.url!, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks), rawTrailers: req.rawTrailers, upgrade: false };
      record(r);
      if (opts.answer !== undefined) return opts.answer(req, res, r);
      const body = `ok ${req.method} ${req.url}\n`;
      // node reads nothing more on a connection after a request with upgrade headers (its
      // parser stops as for an upgrade): say so and close, rather than leave the client waiting.
      const last = req.headers.upgrade !== undefined && /upgrade/i.test(String(req.headers.connection));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...(last ? { connection: 'close' } : {}) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.on('connection', (socket: Socket) => {
    const bytes: Buffer[] = [];
    connections.push(bytes);
    socket.on('data', (c: Buffer) => bytes.push(c));
  });
  if (opts.upgrades === true) {
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      record({ method: req.method!, url: req.url!, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), rawTrailers: [], upgrade: true });
      socket.on('error', () => undefined);
      void head;
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 13\r\nconnection: close\r\n\r\nno upgrades\r\n');
    });
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    connections,
    waitFor: (n, capMs = 3000) =>
      new Promise((resolve) => {
        const deadline = setTimeout(() => resolve(received), capMs);
        const check = () => {
          if (received.length >= n) {
            clearTimeout(deadline);
            resolve(received);
          } else waiters.push(check);
        };
        check();
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Writes raw bytes on a new connection and reads the answers until `done(text)` holds, the
 * server closes, or `capMs` pass (then the socket is destroyed). `closed`: the server closed it.
 */
export async function converse(port: number, bytes: string | Buffer, done: (text: string) => boolean = () => false, capMs = 3000): Promise<{ text: string; closed: boolean }> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = true;
    const timer = setTimeout(() => {
      closed = false;
      socket.destroy();
    }, capMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (done(Buffer.concat(chunks).toString('latin1'))) {
        closed = false;
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    });
    socket.write(bytes);
  });
}

/** The status codes of the HTTP/1.x responses in a raw answer, in order (a status line may follow a body without a line break). */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}
