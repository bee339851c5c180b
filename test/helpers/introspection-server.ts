// An RFC 7662 introspection endpoint on 127.0.0.1 for the introspection plugin's tests: it
// checks the gateway's client authentication, answers from a table of tokens, counts calls,
// and can misbehave on demand (500, garbage, a huge answer, no answer until released).
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type Mode = 'ok' | 'status-500' | 'not-json' | 'no-active' | 'html' | 'huge' | 'hold';

export interface IntrospectionServer {
  readonly url: string;
  /** token → answer; an unknown token is `{ active: false }`. */
  readonly tokens: Map<string, Record<string, unknown>>;
  /** Requests that passed client authentication. */
  calls: number;
  /** Every request's form body and Authorization header, oldest first. */
  readonly seen: Array<{ form: URLSearchParams; authorization: string | undefined; contentType: string | undefined }>;
  mode: Mode;
  /** Answers every held request (mode `hold`) as `ok` would. */
  release(): void;
  /** Resolves once `n` calls were received. */
  received(n: number): Promise<void>;
  close(): Promise<void>;
}

export interface ServerOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Serve HTTPS with this key and certificate. */
  readonly tls?: { key: Buffer; cert: Buffer };
}

export async function startIntrospectionServer(opts: ServerOptions = {}): Promise<IntrospectionServer> {
  const clientId = opts.clientId ?? 'gateway';
  const clientSecret = opts.clientSecret ?? 's3cret: with spaces & more';
  const held: Array<() => void> = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  const basic = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;

  const answer = (res: ServerResponse, form: URLSearchParams): void => {
    const doc = state.tokens.get(form.get('token') ?? '') ?? { active: false };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const form = new URLSearchParams(body);
    const authorization = req.headers.authorization;
    state.seen.push({ form, authorization, contentType: req.headers['content-type'] });
    const byBasic = authorization === basic;
    const byPost = authorization === undefined && form.get('client_id') === clientId && form.get('client_secret') === clientSecret;
    if (req.method !== 'POST' || !(byBasic || byPost)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      return;
    }
    state.calls++;
    for (const w of waiters.filter((w) => state.calls >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    switch (state.mode) {
      case 'status-500':
        return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"active":true}');
      case 'not-json':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"active":tru');
      case 'no-active':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"sub":"alice"}');
      case 'html':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>{"active":true}</html>');
      case 'huge':
        // A valid answer padded to 2 MiB: only the size may refuse it.
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ active: true, sub: 'alice', pad: 'x'.repeat(2 * 1024 * 1024) }));
      case 'hold':
        held.push(() => answer(res, form));
        return;
      default:
        answer(res, form);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => handle(req, res, body));
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, listener) : createHttpServer(listener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const state: IntrospectionServer = {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/oauth/introspect`,
    tokens: new Map(),
    calls: 0,
    seen: [],
    mode: 'ok',
    release: () => held.splice(0).forEach((f) => f()),
    received: (n) => (state.calls >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: async () => {
      state.release();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  return state;
}

/** A port on 127.0.0.1 that nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createHttpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}
