// A gateway in the test's own process, without sockets: requests are written into node's
// HTTP server through an in-memory connection (real HTTP parsing on both sides), and
// in-process upstreams are node HTTP servers that undici reaches through the same kind of
// connection. What a test proves with it is the gateway's behaviour, not the kernel's.
import { createServer, request as httpRequest, Server, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { buildConnector } from 'undici';
import { createLogger } from '../base/logger.js';
import { loadConfigText } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import type { RawConfig } from '../config/types.js';
import { PluginRegistry } from '../pipeline/registry.js';
import { BUILTIN_PLUGINS } from '../plugins/index.js';
import { handleRequest } from '../proxy/handler.js';
import type { ListenerInfo } from '../proxy/context.js';
import { answerClientError } from '../runtime/client-error.js';
import { Gateway, type ReloadResult } from '../runtime/gateway.js';
import { CONNECT_REFUSED } from '../runtime/listeners.js';
import type { Plugin } from '../sdk/plugin.js';
import { socketPair, type MemorySocket } from './memory-socket.js';

const require = createRequire(import.meta.url);

/** A config as an object (the shape of northgate.yaml) or as YAML/JSON text. */
export type TestConfig = Record<string, unknown> | RawConfig | string;

/** What an in-process upstream received. */
export interface UpstreamRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  /** The body as UTF-8 text; `bytes` holds it as sent. */
  readonly body: string;
  readonly bytes: Buffer;
}

export interface UpstreamReply {
  /** Default 200. */
  readonly status?: number;
  readonly headers?: Record<string, string | string[]>;
  /** A string or Buffer is sent as is; anything else as JSON (with its content type). */
  readonly body?: unknown;
}

export type UpstreamHandler = (req: UpstreamRequest) => UpstreamReply | Promise<UpstreamReply>;

/**
 * An in-process upstream: a function answering each request, or a node HTTP server (not
 * listening) when the test needs the response object itself (streaming, chunked, trailers).
 */
export type TestUpstream = UpstreamHandler | Server;

export interface TestGatewayOptions {
  readonly config: TestConfig;
  /** Plugins beside the built-in ones (as a config's `extensions:` would add them). */
  readonly plugins?: readonly Plugin[];
  /**
   * In-process upstreams by host name: a service or target URL `http://NAME` (any port) is
   * answered by `upstreams[NAME]`. Other URLs are connected to for real.
   */
  readonly upstreams?: Readonly<Record<string, TestUpstream>>;
  /** Environment for `${VAR}` in the config (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface TestRequest {
  readonly method?: string;
  /** Path and query; default "/". */
  readonly path?: string;
  /**
   * Host defaults to "localhost". A flat array `[name, value, name, value, …]` is sent as is,
   * in that order and case, repeats included (no default Host).
   */
  readonly headers?: Record<string, string | string[]> | readonly string[];
  readonly body?: string | Buffer;
  /** The client's address as the gateway sees it (default 127.0.0.1). */
  readonly clientIp?: string;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  /** The body as UTF-8 text; `bytes` holds it as received (e.g. compressed). */
  readonly body: string;
  readonly bytes: Buffer;
  json<T = unknown>(): T;
}

export interface TestGateway {
  readonly gateway: Gateway;
  request(req?: TestRequest): Promise<TestResponse>;
  /**
   * Writes `data` as is on a new connection and resolves with everything the gateway sent
   * (latin1) once it closed the connection: for heads and bodies a client library will not
   * produce (bad framing, a body cut short, malformed requests).
   */
  raw(data: string | Buffer): Promise<string>;
  /**
   * A new connection to the gateway, its client end: what the test writes, the gateway reads
   * as it arrives (a body sent in steps, a body that never ends).
   */
  connect(clientIp?: string): Duplex;
  /** What each in-process upstream received, oldest first. */
  received(upstream: string): readonly UpstreamRequest[];
  /** Loads another config (validated like a file); the old one keeps serving when it is invalid. */
  reload(config: TestConfig): ReloadResult;
  close(): Promise<void>;
}

/** Builds a gateway from a config object; throws ConfigError (every problem located) when it is invalid. */
export function createTestGateway(opts: TestGatewayOptions): TestGateway {
  const builtIn = new Set<Plugin>(BUILTIN_PLUGINS);
  const registry = new PluginRegistry([...BUILTIN_PLUGINS, ...(opts.plugins ?? []).filter((p) => !builtIn.has(p))]);
  let text = configText(opts.config);
  const upstreams = new Map(Object.entries(opts.upstreams ?? {}).map(([name, upstream]) => [name.toLowerCase(), new InProcessUpstream(upstream)]));
  const gateway = new Gateway({
    registry,
    logger: createLogger({ level: 'silent' }),
    loadConfig: () => loadConfigText('test-config', text, registry, opts.env),
    source: 'test-config',
    ...(upstreams.size > 0 ? { connect: upstreamConnector(upstreams) } : {}),
  });
  try {
    gateway.load();
  } catch (err) {
    // A test's failure output shows the problems, not just their count.
    if (err instanceof ConfigError) err.message += `\n${err.lines().join('\n')}`;
    throw err;
  }
  const sockets = new Set<MemorySocket>();
  const listener = (): ListenerInfo => ({ protocol: 'http', portText: String(gateway.snapshot.listeners.proxy[0]?.port ?? 80) });
  let info = listener();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => handleRequest(gateway, info, req, res);
  const server = createServer({ maxHeaderSize: gateway.snapshot.limits.maxHeaderBytes, requireHostHeader: false, insecureHTTPParser: false }, onRequest);
  // As on the real listener: the gateway decides about 100-continue and expectations itself.
  server.on('checkContinue', onRequest);
  server.on('checkExpectation', onRequest);
  // As on the real listener: parser errors and CONNECT get the gateway's problem+json answer.
  server.on('clientError', answerClientError);
  server.on('connect', (_req: IncomingMessage, socket: Socket) => answerClientError(Object.assign(new Error('CONNECT'), { code: CONNECT_REFUSED }), socket));
  const connect = (clientIp: string): MemorySocket => {
    const { client, server: end } = socketPair({ address: clientIp, port: 40000 + (sockets.size % 20000) }, { address: '127.0.0.1', port: Number(info.portText) });
    sockets.add(end);
    end.once('close', () => sockets.delete(end));
    server.emit('connection', end);
    return client;
  };
  return {
    gateway,
    request: (req = {}) => send(connect(req.clientIp ?? '127.0.0.1'), req),
    raw: (data) => exchange(connect('127.0.0.1'), data),
    connect: (clientIp = '127.0.0.1') => connect(clientIp),
    received: (name) => upstreams.get(name.toLowerCase())?.received ?? [],
    reload: (config) => {
      text = configText(config);
      const result = gateway.reload();
      info = listener();
      return result;
    },
    close: async () => {
      await gateway.drain(1000);
      for (const s of sockets) s.destroy();
      for (const u of upstreams.values()) u.close();
    },
  };
}

function configText(config: TestConfig): string {
  if (typeof config === 'string') return config;
  // Pretty-printed, so that a problem's LINE:COL points at a readable place.
  const c = config as Record<string, unknown>;
  return JSON.stringify({ ...c, _format_version: c['_format_version'] ?? '1' }, null, 2);
}

function send(socket: MemorySocket, req: TestRequest): Promise<TestResponse> {
  const given = req.headers ?? {};
  const headers = isRawHeaders(given) ? [...given] : { host: 'localhost', ...lowerKeys(given) };
  return new Promise((resolve, reject) => {
    // node accepts a flat array of raw headers; its typings know only the object form.
    const r = httpRequest({ method: req.method ?? 'GET', path: req.path ?? '/', headers: headers as Record<string, string>, createConnection: () => socket as unknown as Socket, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(response(res.statusCode!, res.headers, res.rawHeaders, Buffer.concat(chunks))));
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

function isRawHeaders(headers: Record<string, string | string[]> | readonly string[]): headers is readonly string[] {
  return Array.isArray(headers);
}

function exchange(socket: MemorySocket, data: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(data);
  });
}

function lowerKeys(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function response(status: number, headers: IncomingHttpHeaders, rawHeaders: string[], bytes: Buffer): TestResponse {
  const body = bytes.toString('utf8');
  return { status, headers, rawHeaders, body, bytes, json: <T>() => JSON.parse(body) as T };
}

/** An upstream answered by a node HTTP server fed in-memory connections. */
class InProcessUpstream {
  /** What a handler upstream received (a server of the test's own records nothing). */
  readonly received: UpstreamRequest[] = [];
  readonly server: Server;
  readonly #sockets = new Set<MemorySocket>();

  constructor(upstream: TestUpstream) {
    if (upstream instanceof Server) {
      this.server = upstream;
      return;
    }
    const handler = upstream;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const seen: UpstreamRequest = { method: req.method!, path: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: bytes.toString('utf8'), bytes };
        this.received.push(seen);
        Promise.resolve()
          .then(() => handler(seen))
          .then(
            (reply) => writeReply(res, reply),
            (err: unknown) => writeReply(res, { status: 500, body: `in-process upstream threw: ${(err as Error).message}` }),
          );
      });
    });
  }

  accept(socket: MemorySocket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.server.emit('connection', socket);
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
  }
}

function writeReply(res: ServerResponse, reply: UpstreamReply): void {
  const raw = reply.body;
  const json = raw !== undefined && typeof raw !== 'string' && !Buffer.isBuffer(raw);
  const body = raw === undefined ? '' : json ? JSON.stringify(raw) : (raw as string | Buffer);
  const headers: Record<string, string | string[] | number> = { ...(json ? { 'content-type': 'application/json' } : {}), ...lowerKeys(reply.headers ?? {}) };
  if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) headers['content-length'] = Buffer.byteLength(body);
  res.writeHead(reply.status ?? 200, headers);
  res.end(body);
}

/** undici's connector for the pools: named in-process upstreams in memory, any other origin over the network. */
function upstreamConnector(upstreams: ReadonlyMap<string, InProcessUpstream>): buildConnector.connector {
  let network: buildConnector.connector | null = null;
  let port = 50000;
  return (opts, callback) => {
    const upstream = upstreams.get(opts.hostname.toLowerCase());
    if (upstream === undefined) {
      network ??= (require('undici') as typeof import('undici')).buildConnector({});
      return network(opts, callback);
    }
    const { client, server } = socketPair({ address: '127.0.0.1', port: port++ }, { address: opts.hostname, port: Number(opts.port) || 80 });
    upstream.accept(server);
    queueMicrotask(() => callback(null, client as unknown as Socket));
  };
}
