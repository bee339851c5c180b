// A local stand-in for the Gateway API conformance suite's echo backend (echo-basic), written
// from its documented behaviour: it answers any request with the JSON the suite reads —
// path (the request target as received), host, method, proto, headers (Go's canonical names,
// arrays of values, no Host), httpPort, namespace, ingress, service, pod — with Content-Type
// exactly application/json; `X-Echo-Set-Header: name:value,...` sets response headers;
// `/status/NNN` answers NNN; `?delay=1s` waits first. One server per pod name, on 127.0.0.1
// port 0; every request is recorded (the suite greps pod logs for mirrored requests).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoRequest {
  readonly path: string;
  readonly host: string;
  readonly method: string;
  readonly proto: string;
  readonly headers: Record<string, string[]>;
  readonly httpPort: string;
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly pod: string;
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-foo-bar` → `X-Foo-Bar`. */
export function canonicalHeader(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export interface EchoBackend {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
  readonly server: Server;
  /** Every request answered, in order. */
  readonly seen: EchoRequest[];
  close(): Promise<void>;
}

const MAX_DELAY_MS = 10_000;

function parseDelay(text: string | null): number {
  if (text === null) return 0;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/.exec(text);
  if (m === null) return 0;
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  return Math.min(n, MAX_DELAY_MS);
}

export async function startEchoBackend(namespace: string, pod: string): Promise<EchoBackend> {
  const seen: EchoRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? '/';
    const u = new URL(target, 'http://echo');
    const status = /^\/status\/([0-9]+)$/.exec(u.pathname);
    if (status !== null) {
      const code = Number(status[1]);
      res.writeHead(code >= 200 && code <= 599 ? code : 400).end();
      return;
    }
    if (u.pathname === '/health') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    const headers: Record<string, string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = canonicalHeader(req.rawHeaders[i]!);
      if (name === 'Host') continue;
      (headers[name] ??= []).push(req.rawHeaders[i + 1]!);
    }
    const record: EchoRequest = { path: target, host: req.headers.host ?? '', method: req.method ?? 'GET', proto: `HTTP/${req.httpVersion}`, headers, httpPort: '3000', namespace, ingress: '', service: '', pod };
    seen.push(record);
    const reply = (): void => {
      const out: Array<[string, string]> = [];
      for (const v of headers['X-Echo-Set-Header'] ?? []) {
        for (const item of v.split(',')) {
          const colon = item.indexOf(':');
          if (colon <= 0) continue;
          const name = item.slice(0, colon).trim();
          if (name === '') continue;
          const value = item.slice(colon + 1).trim();
          const existing = out.find(([n]) => n === name);
          if (existing) existing[1] += `,${value}`;
          else out.push([name, value]);
        }
      }
      const body = JSON.stringify(record, null, ' ');
      const raw = ['Content-Type', 'application/json', 'X-Content-Type-Options', 'nosniff', ...out.flat(), 'Content-Length', String(Buffer.byteLength(body))];
      res.writeHead(200, raw);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    req.resume();
    const delay = parseDelay(u.searchParams.get('delay'));
    if (delay === 0) return void req.on('end', reply);
    const t = setTimeout(() => {
      timers.delete(t);
      reply();
    }, delay);
    timers.add(t);
  };
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    namespace,
    pod,
    port: (server.address() as AddressInfo).port,
    server,
    seen,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
