// The admin listener: browser defences (Host, Origin, media type: request-guard.ts),
// bearer-token auth (digests compared in constant time) or a console session (whose writes
// also need its CSRF token), bounded bodies, JSON in and out, every error as problem+json
// from the one error table. The console (console/) is served at /ui/.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isLoopback } from '../base/address.js';
import { ERRORS, problemBody, type ErrorCode } from '../base/errors.js';
import type { ConfigControl } from '../store/control.js';
import { EntityError } from '../store/entities.js';
import { buildOpenApi } from './openapi.js';
import { bodyTypeRefusal, guardRequest, hostPolicy, type HostPolicy } from '../runtime/request-guard.js';
import { consoleApi, type ConsoleAccess, type ConsoleContext } from './console/api.js';
import { consoleAssets, SECURITY_HEADERS } from './console/assets.js';
import { ConsoleSessions, csrfMatches, CSRF_HEADER } from './console/sessions.js';
import { TrafficHistory } from './console/traffic.js';
import { AdminProblem, buildRoutes, problemList, type AdminNode, type AdminReply, type AdminRequest, type AdminRoute } from './routes.js';

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:8001';
export const DEFAULT_ADMIN_MAX_BODY = 1024 * 1024;
const JSON_ONLY = ['application/json'] as const;
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly maxBodyBytes?: number;
  /** Names (and `*.name`, addresses) besides loopback that `Host` may carry (admin.allowed_hosts). */
  readonly allowedHosts?: readonly string[];
  readonly control: ConfigControl;
  /** The node's services beyond its config (cache purge). */
  readonly node: AdminNode;
  /** Where the file-mode hint points. */
  readonly configFile: string | null;
  readonly onError?: (err: unknown) => void;
}

/** Why the admin listener may not start as configured, or null. */
export function adminRefusal(host: string, token: string | undefined): string | null {
  if (token !== undefined || isLoopback(host)) return null;
  return `the admin API would listen on ${host}, beyond loopback, without a token: set admin.token (e.g. "\${NORTHGATE_ADMIN_TOKEN}") or bind listen.admin to 127.0.0.1`;
}

export class AdminServer {
  readonly #opts: AdminOptions;
  readonly #routes: AdminRoute[];
  readonly #tokenDigest: Buffer | null;
  readonly #hosts: HostPolicy;
  readonly #sessions = new ConsoleSessions();
  readonly #traffic: TrafficHistory | null;
  readonly #console: ConsoleContext;
  #server: Server | null = null;

  constructor(opts: AdminOptions) {
    this.#opts = opts;
    const routes: AdminRoute[] = buildRoutes(() => buildOpenApi(routes, opts.control.registry));
    this.#routes = routes;
    this.#tokenDigest = opts.token === undefined ? null : createHash('sha256').update(opts.token).digest();
    this.#hosts = hostPolicy(opts.host, opts.allowedHosts ?? []);
    const metrics = opts.node.metrics;
    this.#traffic = metrics === null ? null : new TrafficHistory(metrics);
    this.#console = {
      control: opts.control,
      sessions: this.#sessions,
      traffic: this.#traffic,
      tokenRequired: this.#tokenDigest !== null,
      tokenMatches: (token) => this.#tokenDigest !== null && timingSafeEqual(createHash('sha256').update(token).digest(), this.#tokenDigest),
      current: () => opts.node.config(),
    };
  }

  get routes(): readonly AdminRoute[] {
    return this.#routes;
  }

  async listen(): Promise<number> {
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5000, maxHeaderSize: 16_384 }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#opts.onError?.(err);
        this.#problem(res, 'internal-error', 'the admin API failed; see the gateway log');
      });
    });
    server.maxConnections = 256;
    this.#server = server;
    this.#traffic?.start();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.#opts.host, port: this.#opts.port }, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : this.#opts.port);
      });
    });
  }

  async close(): Promise<void> {
    this.#traffic?.stop();
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  /** Who sends the request: no token is configured, the token, a console session, or nobody. */
  #access(req: IncomingMessage): ConsoleAccess {
    if (this.#tokenDigest === null) return { kind: 'open' };
    const m = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    if (m !== null && timingSafeEqual(createHash('sha256').update(m[1]!).digest(), this.#tokenDigest)) return { kind: 'token' };
    const session = this.#sessions.fromRequest(req);
    return session === null ? { kind: 'none' } : { kind: 'session', csrf: session.csrf };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Before the token: a page the operator visits learns nothing, whatever it sends.
    const refused = guardRequest(req, this.#hosts);
    if (refused !== null) {
      req.resume();
      return this.#problem(res, refused.code, refused.detail);
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) return this.#consoleRequest(req, res, url);
    const access = this.#access(req);
    if (access.kind === 'none') {
      req.resume();
      return this.#problem(res, 'unauthorized', 'the admin API needs "Authorization: Bearer <admin.token>"', {}, { 'www-authenticate': 'Bearer realm="northgate-admin"' });
    }
    // A session's cookie goes with every request the browser sends: a write also needs the
    // CSRF token, which only the console's own page holds.
    if (access.kind === 'session' && WRITES.has(req.method ?? '') && !csrfMatches(access.csrf, req)) {
      req.resume();
      return this.#problem(res, 'csrf-failed', `a write from a console session needs its ${CSRF_HEADER} header`);
    }
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const candidates = this.#routes.filter((r) => matchPath(r.path, segments) !== null);
    if (candidates.length === 0) {
      req.resume();
      return this.#problem(res, 'route-not-found', `no admin endpoint at ${url.pathname}; see /openapi.json`);
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = candidates.find((r) => r.method === method);
    if (!route) {
      req.resume();
      const allow = candidates.map((r) => r.method).join(', ');
      return this.#problem(res, 'method-not-allowed', `${req.method} is not allowed here; allowed: ${allow}`, {}, { allow });
    }
    if (route.write && this.#opts.control.mode === 'file') {
      req.resume();
      const file = this.#opts.configFile ?? 'the config file';
      return this.#problem(res, 'method-not-allowed', `this node runs with mode: file, so the admin API is read-only: edit ${file} and reload (SIGHUP or --watch), or set mode: database with a store to manage entities here`, {}, { allow: 'GET, HEAD' });
    }
    const badType = bodyTypeRefusal(req, route.accepts ?? JSON_ONLY);
    if (badType !== null) {
      req.resume();
      return this.#problem(res, badType.code, badType.detail);
    }
    let text: string;
    try {
      text = await readBody(req, this.#opts.maxBodyBytes ?? DEFAULT_ADMIN_MAX_BODY);
    } catch (err) {
      if (err instanceof AdminProblem) return this.#problem(res, err.code, err.message, {}, { connection: 'close' });
      throw err;
    }
    const request: AdminRequest = {
      method: route.method,
      params: matchPath(route.path, segments)!,
      query: url.searchParams,
      headers: req.headers,
      text,
      json: () => parseJson(text),
    };
    let reply: AdminReply;
    try {
      reply = await route.handler(request, this.#opts.control, this.#opts.node);
    } catch (err) {
      if (err instanceof AdminProblem) return this.#problem(res, err.code, err.message, err.extra, err.headers);
      if (err instanceof EntityError) return this.#problem(res, err.code, err.message, err.code === 'invalid-entity' ? { problems: problemList(err) } : {});
      throw err;
    }
    this.#reply(req, res, reply);
  }

  #reply(req: IncomingMessage, res: ServerResponse, reply: AdminReply, extra: Readonly<Record<string, string>> = {}): void {
    const headers: Record<string, string | number> = { 'cache-control': 'no-store', ...extra, ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    const out = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(out);
    res.writeHead(reply.status, headers).end(req.method === 'HEAD' ? undefined : out);
  }

  /** /ui/: the console's files (no data in them: no sign-in needed) and its API under /ui/api/. */
  async #consoleRequest(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!url.pathname.startsWith('/ui/api/')) {
      req.resume();
      if (req.method !== 'GET' && req.method !== 'HEAD') return this.#problem(res, 'method-not-allowed', 'the console\'s files are read with GET', {}, { allow: 'GET, HEAD' });
      if (url.pathname === '/ui') return void res.writeHead(308, { location: '/ui/', ...SECURITY_HEADERS }).end();
      const file = consoleAssets().get(url.pathname.slice('/ui/'.length));
      if (file === undefined) return this.#problem(res, 'not-found', `no console file at ${url.pathname}`);
      const headers: Record<string, string | number> = { ...SECURITY_HEADERS, 'content-type': file.type, etag: file.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' };
      if (req.headers['if-none-match'] === file.etag) return void res.writeHead(304, headers).end();
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      const body = gzip ? file.gzip : file.body;
      if (gzip) headers['content-encoding'] = 'gzip';
      headers['content-length'] = body.length;
      return void res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
    }
    const access = this.#access(req);
    const method = req.method ?? 'GET';
    if (WRITES.has(method)) {
      // Sign-in has no session yet; every other write of a session needs its CSRF token.
      const signIn = method === 'POST' && url.pathname === '/ui/api/session';
      if (access.kind === 'session' && !signIn && !csrfMatches(access.csrf, req)) {
        req.resume();
        return this.#problem(res, 'csrf-failed', `a write from a console session needs its ${CSRF_HEADER} header`);
      }
      const badType = bodyTypeRefusal(req, JSON_ONLY);
      if (badType !== null) {
        req.resume();
        return this.#problem(res, badType.code, badType.detail);
      }
    }
    let text: string;
    try {
      text = await readBody(req, this.#opts.maxBodyBytes ?? DEFAULT_ADMIN_MAX_BODY);
    } catch (err) {
      if (err instanceof AdminProblem) return this.#problem(res, err.code, err.message, {}, { connection: 'close' });
      throw err;
    }
    let reply: AdminReply;
    try {
      reply = await consoleApi({ method, path: url.pathname, query: url.searchParams, req, access, json: () => parseJson(text) }, this.#console);
    } catch (err) {
      if (err instanceof AdminProblem) return this.#problem(res, err.code, err.message, err.extra, { ...SECURITY_HEADERS, ...err.headers });
      if (err instanceof EntityError) return this.#problem(res, err.code, err.message, err.code === 'invalid-entity' ? { problems: problemList(err) } : {});
      throw err;
    }
    this.#reply(req, res, reply, SECURITY_HEADERS);
  }

  #problem(res: ServerResponse, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const id = randomUUID();
    const body = JSON.stringify({ ...(JSON.parse(problemBody(code, detail, id)) as object), ...extra });
    res.writeHead(ERRORS[code].status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), 'x-request-id': id, 'cache-control': 'no-store', ...headers }).end(body);
  }
}

/** `{name}` segments capture one path segment (percent-decoded). */
export function matchPath(template: string, segments: readonly string[]): Record<string, string> | null {
  const parts = template.split('/').filter((s) => s !== '');
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.startsWith('{')) {
      try {
        params[p.slice(1, -1)] = decodeURIComponent(segments[i]!);
      } catch {
        return null;
      }
    } else if (p !== segments[i]) return null;
  }
  return params;
}

function parseJson(text: string): unknown {
  if (text.trim() === '') throw new AdminProblem('bad-request', 'the body is empty; send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AdminProblem('bad-request', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) {
    req.resume();
    return Promise.reject(new AdminProblem('body-too-large', `the body is over the admin API's limit of ${max} bytes (admin.max_body_bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        reject(new AdminProblem('body-too-large', `the body is over the admin API's limit of ${max} bytes (admin.max_body_bytes)`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
