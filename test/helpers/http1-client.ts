// For the HTTP/1.1 client's tests: runs one dispatch on any pool with undici's dispatch
// surface and collects what the handler saw; a raw upstream that keeps connections open
// and lets each test write the bytes it wants.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Exchange {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  interim: number[];
  body: Buffer;
  trailers: Array<[string, string]> | null;
  error: (Error & { code?: string }) | null;
  connected: boolean;
}

export interface Dispatching {
  dispatch(opts: never, handler: never): boolean;
}

export interface Hooks {
  onConnect?(abort: (err?: Error) => void): void;
  onData?(chunk: Buffer, resume: () => void): boolean;
  onHeaders?(status: number, abort: (err?: Error) => void): void;
  requestTrailers?(): Record<string, string | string[] | undefined> | null;
  onReplay?(err: Error): boolean;
}

function pairs(raw: Array<Buffer | string> | null | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (raw == null) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toString('latin1'), raw[i + 1]!.toString('latin1')]);
  return out;
}

/** One request through `pool`; resolves when the handler completes or fails (never rejects). */
export function exchange(pool: Dispatching, opts: Record<string, unknown>, hooks: Hooks = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const out: Exchange = { status: 0, statusText: '', headers: [], interim: [], body: Buffer.alloc(0), trailers: null, error: null, connected: false };
    const chunks: Buffer[] = [];
    let abort: (err?: Error) => void = () => undefined;
    let resume: () => void = () => undefined;
    let settled = false;
    const handler = {
      onConnect(a: (err?: Error) => void) {
        out.connected = true;
        abort = a;
        hooks.onConnect?.(a);
      },
      onHeaders(status: number, raw: Buffer[], r: () => void, statusText: string) {
        resume = r;
        if (status < 200) {
          out.interim.push(status);
          return true;
        }
        out.status = status;
        out.statusText = statusText;
        out.headers = pairs(raw);
        hooks.onHeaders?.(status, abort);
        return true;
      },
      onData(chunk: Buffer) {
        chunks.push(Buffer.from(chunk));
        return hooks.onData ? hooks.onData(chunk, resume) : true;
      },
      onComplete(trailers: Buffer[] | null) {
        if (settled) throw new Error('completed twice');
        settled = true;
        out.body = Buffer.concat(chunks);
        out.trailers = pairs(trailers);
        resolve(out);
      },
      onError(err: Error) {
        if (settled) throw new Error(`error after the end: ${err.message}`);
        settled = true;
        out.body = Buffer.concat(chunks);
        out.error = err;
        resolve(out);
      },
      ...(hooks.requestTrailers ? { requestTrailers: hooks.requestTrailers } : {}),
      ...(hooks.onReplay ? { onReplay: hooks.onReplay } : {}),
    };
    pool.dispatch(opts as never, handler as never);
  });
}

export interface ScriptedUpstream {
  url: string;
  /** Request heads (and bodies) received, in order. */
  requests: Array<{ head: string; body: Buffer; socket: number }>;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A raw upstream: each complete request (head, then a Content-Length or chunked body) is
 * given to `answer` with its socket, which writes what the test wants (and may end or
 * destroy the socket). Connections stay open otherwise.
 */
export async function startScriptedUpstream(answer: (head: string, socket: Socket, index: number) => void): Promise<ScriptedUpstream> {
  const sockets = new Set<Socket>();
  const state: ScriptedUpstream = { url: '', requests: [], connections: 0, close: async () => undefined };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const id = ++state.connections;
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let seen = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      for (;;) {
        const end = seen.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = seen.subarray(0, end).toString('latin1');
        let rest = seen.subarray(end + 4);
        let body: Buffer;
        if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const parts: Buffer[] = [];
          let p = 0;
          for (;;) {
            const lineEnd = rest.indexOf('\r\n', p);
            if (lineEnd === -1) return;
            const size = parseInt(rest.subarray(p, lineEnd).toString('latin1'), 16);
            if (size === 0) {
              const trailerEnd = rest.indexOf('\r\n\r\n', lineEnd - 2);
              if (trailerEnd === -1) return;
              body = Buffer.concat([...parts, Buffer.from(`\n--trailers--\n${rest.subarray(lineEnd + 2, trailerEnd + 2).toString('latin1')}`)]);
              rest = rest.subarray(trailerEnd + 4);
              break;
            }
            if (rest.length < lineEnd + 2 + size + 2) return;
            parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
            p = lineEnd + 2 + size + 2;
          }
        } else {
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (rest.length < length) return;
          body = rest.subarray(0, length);
          rest = rest.subarray(length);
        }
        seen = rest;
        state.requests.push({ head, body, socket: id });
        answer(head, socket, state.requests.length - 1);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
