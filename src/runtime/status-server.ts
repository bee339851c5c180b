// The status listener: /healthz (the process lives), /readyz (config loaded, listeners
// bound, the plugins' stores answering or waited for long enough, not draining). Bound to
// loopback by default; /metrics is served here too.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { bodyTypeRefusal, guardRequest, hostPolicy, type GuardRefusal } from './request-guard.js';
import { ERRORS, problemBody } from '../base/errors.js';
import { purgeMemoryStores } from '../plugins/cache/memory-store.js';
import { handlePurge, type PurgeFn } from '../plugins/cache/purge-endpoint.js';

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export type MetricsSource = () => Promise<{ contentType: string; body: string }>;

/** In one process the memory caches are here; the cluster master passes a relay to its workers. */
const purgeHere: PurgeFn = async (req) => purgeMemoryStores(req);

/** Purges come from loopback peers only, so only loopback names may be in their `Host`. */
const PURGE_HOSTS = hostPolicy('127.0.0.1', [], 'purges are accepted from this machine only: address it as localhost or 127.0.0.1');

function refuse(res: ServerResponse, r: GuardRefusal): void {
  const id = randomUUID();
  const body = problemBody(r.code, r.detail, id);
  res.writeHead(ERRORS[r.code].status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-request-id': id }).end(body);
}

export function startStatusServer(host: string, port: number, readiness: () => Readiness, metrics?: MetricsSource, purge: PurgeFn = purgeHere): Promise<{ server: Server; port: number }> {
  const server = createServer({ headersTimeout: 5000, requestTimeout: 10_000, keepAliveTimeout: 5000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/cache/purge') {
      const refused = guardRequest(req, PURGE_HOSTS) ?? bodyTypeRefusal(req, ['application/json']);
      if (refused !== null) {
        req.resume();
        return refuse(res, refused);
      }
      return handlePurge(req, res, purge);
    }
    if (path === '/metrics' && metrics !== undefined) {
      metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        () => {
          const text = JSON.stringify({ type: 'urn:northgate:problem:internal-error', title: 'Internal Gateway Error', status: 500, detail: 'metrics could not be collected' });
          res.writeHead(500, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
      );
      return;
    }
    let status = 200;
    let body: unknown;
    if (path === '/healthz') {
      body = { status: 'ok' };
    } else if (path === '/readyz') {
      const r = readiness();
      status = r.ready ? 200 : 503;
      body = { status: r.ready ? 'ready' : 'not ready', ...r.detail };
    } else {
      status = 404;
      body = { type: 'urn:northgate:problem:route-not-found', title: 'Not Found', status: 404, detail: 'status endpoints: /healthz, /readyz, /metrics, POST /cache/purge' };
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': status === 404 ? 'application/problem+json' : 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  server.maxConnections = 256;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a !== null ? a.port : port });
    });
  });
}
