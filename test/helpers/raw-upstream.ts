// An upstream that writes raw bytes: for answers node:http would never produce (1xx
// sequences, odd status lines). Reads each request head (and a Content-Length body), then
// writes what `answer` returns for it and closes the connection.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawUpstream {
  port: number;
  url: string;
  /** Request heads received so far, as text. */
  heads: string[];
  close(): Promise<void>;
}

/** `answer` gets the request head; the string or buffers it returns are written in order, then the socket ends. */
export async function startRawUpstream(answer: (head: string) => string | Buffer | Array<string | Buffer>): Promise<RawUpstream> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = seen.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (seen.length < end + 4 + length) return;
      socket.off('data', onData);
      heads.push(head);
      const out = answer(head);
      for (const part of Array.isArray(out) ? out : [out]) socket.write(part);
      socket.end();
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
