// The admin listener: browser defences (Host, Origin, media type: request-guard.ts),
// bearer-token auth (digests compared in constant time), bounded bodies, JSON in and out,
// every error as problem+json from the one error table.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isLoopback } from '../base/address.js';
import { ERRORS, problemBody, type ErrorCode } from '../base/errors.js';
import type { ConfigControl } from '../store/control.js';
import { EntityError } from '../store/entities.js';
import { buildOpenApi } from './openapi.js';
import { bodyTypeRefusal, guardRequest, hostPolicy, type HostPolicy } from '../runtime/request-guard.js';
import { AdminProblem, buildRoutes, problemList, type AdminNode, type AdminReply, type AdminRequest, type AdminRoute } from './routes.js';

export const DEFAULT_ADMIN_ADDRESS = '127.0.0.1:8001';
export const DEFAULT_ADMIN_MAX_BODY = 1024 * 1024;
const JSON_ONLY = ['application/json'] as const;

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
  #server: Server | null = null;

  constructor(opts: AdminOptions) {
    this.#opts = opts;
    const routes: AdminRoute[] = buildRoutes(() => buildOpenApi(routes, opts.control.registry));
    this.#routes = routes;
    this.#tokenDigest = opts.token === undefined ? null : createHash('sha256').update(opts.token).digest();
    this.#hosts = hostPolicy(opts.host, opts.allowedHosts ?? []);
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
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  #authorized(req: IncomingMessage): boolean {
    if (this.#tokenDigest === null) return true;
    const m = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    const given = createHash('sha256').update(m?.[1] ?? '').digest();
    return timingSafeEqual(given, this.#tokenDigest) && m !== null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Before the token: a page the operator visits learns nothing, whatever it sends.
    const refused = guardRequest(req, this.#hosts);
    if (refused !== null) {
      req.resume();
      return this.#problem(res, refused.code, refused.detail);
    }
    if (!this.#authorized(req)) {
      req.resume();
      return this.#problem(res, 'unauthorized', 'the admin API needs "Authorization: Bearer <admin.token>"', {}, { 'www-authenticate': 'Bearer realm="northgate-admin"' });
    }
    const url = new URL(req.url ?? '/', 'http://admin');
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
      json: () => {
        if (text.trim() === '') throw new AdminProblem('bad-request', 'the body is empty; send a JSON object');
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new AdminProblem('bad-request', `the body is not valid JSON: ${(err as Error).message}`);
        }
      },
    };
    let reply: AdminReply;
    try {
      reply = await route.handler(request, this.#opts.control, this.#opts.node);
    } catch (err) {
      if (err instanceof AdminProblem) return this.#problem(res, err.code, err.message, err.extra, err.headers);
      if (err instanceof EntityError) return this.#problem(res, err.code, err.message, err.code === 'invalid-entity' ? { problems: problemList(err) } : {});
      throw err;
    }
    const headers: Record<string, string | number> = { 'cache-control': 'no-store', ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    const out = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(out);
    res.writeHead(reply.status, headers).end(req.method === 'HEAD' ? undefined : out);
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
