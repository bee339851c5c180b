// A local stand-in for the Gateway API conformance suite's echo backend (echo-basic), written
// from its documented behaviour: it answers any request with the JSON the suite reads —
// path (the request target as received), host, method, proto, headers (Go's canonical names,
// arrays of values, no Host), httpPort, namespace, ingress, service, pod — with Content-Type
// exactly application/json; `X-Echo-Set-Header: name:value,...` sets response headers;
// `/status/NNN` answers NNN; `?delay=1s` waits first; the retry simulation
// (`?uuid=U&succeedAfter=N[&responseCode=C][&delayRetry=D]`): the first N requests with one
// uuid fail, each after D, with status C, or without C by a reset connection, and the next
// ones are echoed. One server per pod name, on 127.0.0.1 port 0; every request is recorded
// (the suite greps pod logs for mirrored requests).
import { once } from 'node:events';
import type * as Grpc from '@grpc/grpc-js';
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
/** Retry simulations remembered at once (the oldest forgotten first). */
const MAX_SIMULATIONS = 10_000;

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
  const later = (ms: number, fn: () => void): void => {
    if (ms === 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  /** uuid → requests seen of a retry simulation. */
  const attempts = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? '/';
    const u = new URL(target, 'http://echo');
    const uuid = u.searchParams.get('uuid');
    const succeedAfter = Number(u.searchParams.get('succeedAfter') ?? '0');
    if (uuid !== null && Number.isInteger(succeedAfter) && succeedAfter > 0) {
      const n = attempts.get(uuid) ?? 0;
      attempts.delete(uuid);
      attempts.set(uuid, n + 1);
      if (attempts.size > MAX_SIMULATIONS) attempts.delete(attempts.keys().next().value!);
      if (n < succeedAfter) {
        const code = Number(u.searchParams.get('responseCode') ?? '0');
        req.resume();
        later(parseDelay(u.searchParams.get('delayRetry')), () => {
          if (code >= 200 && code <= 599) res.writeHead(code, { 'content-length': '0' }).end();
          else if (!req.socket.destroyed) req.socket.resetAndDestroy();
        });
        return;
      }
    }
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
    later(delay, reply);
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

/** @grpc/grpc-js, loaded by the first gRPC echo or call: the HTTP suites never need it. */
const grpcJs = (): Promise<typeof Grpc> => import('@grpc/grpc-js');

/** The suite's gRPC echo service (echo-basic/grpcecho.proto). */
export const GRPC_SERVICE = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';

/** What the gRPC echo answers, the fields the suite checks (its EchoResponse.assertions). */
export interface GrpcAssertions {
  readonly fully_qualified_method: string;
  readonly authority: string;
  readonly headers: Array<{ key: string; value: string }>;
  readonly context: { readonly namespace: string; readonly pod: string };
}

// The messages travel as JSON instead of protobuf: the gateway forwards gRPC frames whatever
// their payload, and the fields checked are the suite's.
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const grpcMethod = (name: string) => ({ path: `/${GRPC_SERVICE}/${name}`, requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize });
const GRPC_ECHO = { Echo: grpcMethod('Echo'), EchoTwo: grpcMethod('EchoTwo'), EchoThree: grpcMethod('EchoThree') };

/** A gRPC echo (plaintext HTTP/2): Echo and EchoTwo answer their assertions, EchoThree is UNIMPLEMENTED. */
export async function startGrpcEchoBackend(namespace: string, pod: string): Promise<EchoBackend> {
  const grpc = await grpcJs();
  const server = new grpc.Server();
  const answer = (name: string) => (call: Grpc.ServerUnaryCall<unknown, unknown>, cb: Grpc.sendUnaryData<unknown>) => {
    const md = call.metadata.getMap();
    cb(null, { assertions: { fully_qualified_method: `/${GRPC_SERVICE}/${name}`, authority: String(md[':authority'] ?? ''), headers: Object.entries(md).map(([key, value]) => ({ key, value: String(value) })), context: { namespace, pod } } });
  };
  server.addService(GRPC_ECHO, { Echo: answer('Echo'), EchoTwo: answer('EchoTwo') });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    namespace,
    pod,
    port,
    server: null as unknown as Server,
    seen: [],
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** One unary call of the echo service through `port` (plaintext), with `authority`; bounded at 5 s. */
export async function grpcCall(port: number, method: 'Echo' | 'EchoTwo' | 'EchoThree', metadata: Record<string, string>, authority: string): Promise<{ code: number; message?: string; response?: GrpcAssertions }> {
  const grpc = await grpcJs();
  const Client = grpc.makeGenericClientConstructor(GRPC_ECHO, 'GrpcEcho');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as Grpc.Client & Record<string, (req: unknown, md: Grpc.Metadata, opts: Grpc.CallOptions, cb: (err: Grpc.ServiceError | null, res: { assertions: GrpcAssertions }) => void) => void>;
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client[method]!({}, md, { deadline: Date.now() + 5000 }, (err, res) => {
      client.close();
      if (err) resolve({ code: err.code, message: err.details });
      else resolve({ code: 0, response: res.assertions });
    });
  });
}
