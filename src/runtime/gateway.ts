// One gateway process: holds the live snapshot, the proxy listeners and the pools, and
// swaps snapshots on reload. In worker mode the master owns the status listener.
import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { ERRORS, problemBody, type ErrorCode } from '../errors.js';
import { buildSnapshot } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import type { Snapshot, ListenerSpec } from '../config/snapshot.js';
import type { RawConfig } from '../config/types.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { RequestContext } from '../proxy/context.js';
import { handleRequest, type ProxyRuntime } from '../proxy/handler.js';
import { PoolRegistry } from '../upstream/pools.js';
import { HealthRegistry } from '../upstream/health.js';
import { Tracing } from '../observability/tracing.js';
import type { Logger } from './logger.js';

export interface GatewayOptions {
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  /** Produces the config to (re)load: reads and validates the file, or returns the embedded one. */
  readonly loadConfig: () => RawConfig;
  readonly source: string;
  /** Called with each snapshot put in service (first load and every successful reload). */
  readonly onSnapshot?: (snapshot: Snapshot) => void;
}

export interface ReloadResult {
  ok: boolean;
  version: number;
  durationMs: number;
  routes?: number;
  problems?: string[];
}

export class Gateway implements ProxyRuntime {
  #snapshot!: Snapshot;
  readonly #opts: GatewayOptions;
  readonly #pools = new PoolRegistry();
  /** Target health survives reloads (an ejected target stays ejected). */
  readonly #health = new HealthRegistry();
  readonly #servers: Server[] = [];
  readonly #retired = new Set<Snapshot>();
  #version = 0;
  #inflight = 0;
  #draining = false;
  #drained: (() => void) | null = null;
  #connections = 0;
  #tracing: Tracing | null = null;

  constructor(opts: GatewayOptions) {
    this.#opts = opts;
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inflight(): number {
    return this.#inflight;
  }

  get openConnections(): number {
    return this.#connections;
  }

  /** Every target of the live config, with whether it may receive traffic. */
  targets(): Array<{ upstream: string; target: string; healthy: boolean }> {
    const seen = new Set<unknown>();
    const now = Date.now();
    const out: Array<{ upstream: string; target: string; healthy: boolean }> = [];
    for (const service of this.#snapshot.services.values()) {
      const u = service.upstream;
      if (seen.has(u)) continue;
      seen.add(u);
      // Passive health: an ejected target receives no traffic until its ejection ends.
      for (const t of u.targets) out.push({ upstream: u.name, target: t.url, healthy: t.health.available(now) });
    }
    return out;
  }

  onStart(ctx: RequestContext): void {
    this.#inflight++;
    ctx.snapshot.stats.inflight++;
  }

  onFinish(ctx: RequestContext): void {
    this.#inflight--;
    const s = ctx.snapshot;
    if (--s.stats.inflight === 0 && this.#retired.has(s)) this.#dispose(s);
    if (this.#inflight === 0 && this.#drained !== null) this.#drained();
  }

  /** Loads the first config; throws ConfigError when it is invalid. */
  load(): Snapshot {
    const { snapshot, pools } = buildSnapshot(this.#opts.loadConfig(), this.#opts.registry, this.#pools, ++this.#version, this.#opts.source, this.#health);
    this.#snapshot = snapshot;
    this.#pools.retain(pools);
    if (snapshot.tracing !== null) this.#tracing = new Tracing(snapshot.tracing, this.#opts.logger);
    this.#opts.onSnapshot?.(snapshot);
    return snapshot;
  }

  /** Binds every proxy listener of the current snapshot. Resolves with their bound addresses. */
  async listen(): Promise<Array<{ host: string; port: number }>> {
    const bound: Array<{ host: string; port: number }> = [];
    for (const spec of this.#snapshot.listeners.proxy) {
      const server = this.#createServer(spec);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: spec.host, port: spec.port, exclusive: false }, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address !== null ? address.port : spec.port);
        });
      });
      // Requests know their listener's real port (port 0 in tests) for X-Forwarded-Port.
      listenerInfo.get(server)!.portText = String(port);
      this.#servers.push(server);
      bound.push({ host: spec.host, port });
    }
    return bound;
  }

  /** Re-reads the config off the hot path and swaps it in atomically; the old one keeps serving on failure. */
  reload(): ReloadResult {
    const started = performance.now();
    let config: RawConfig;
    try {
      config = this.#opts.loadConfig();
    } catch (err) {
      const problems = err instanceof ConfigError ? err.lines() : [(err as Error).message];
      const failed = { ok: false, version: this.#snapshot.version, durationMs: performance.now() - started, problems };
      reloadChannel.publish(failed);
      return failed;
    }
    const { snapshot, pools } = buildSnapshot(config, this.#opts.registry, this.#pools, ++this.#version, this.#opts.source, this.#health);
    const old = this.#snapshot;
    this.#snapshot = snapshot;
    this.#pools.retain(pools);
    this.#health.retain(new Set([...snapshot.services.values()].flatMap((s) => s.upstream.targets.map((t) => t.health))));
    this.#applyLimits();
    this.#opts.onSnapshot?.(snapshot);
    if (old.stats.inflight === 0) this.#dispose(old);
    else this.#retired.add(old);
    const changed = listenersChanged(old, snapshot);
    if (changed) this.#opts.logger.warn({ type: 'reload' }, 'listener addresses changed in the config; they take effect on restart');
    if (JSON.stringify(old.tracing) !== JSON.stringify(snapshot.tracing)) this.#opts.logger.warn({ type: 'reload' }, 'tracing settings changed in the config; they take effect on restart');
    const result = { ok: true, version: snapshot.version, durationMs: performance.now() - started, routes: snapshot.routes.length };
    reloadChannel.publish(result);
    return result;
  }

  /** Stops accepting, lets in-flight requests finish until the deadline, then closes everything. */
  async drain(deadlineMs = this.#snapshot.drainTimeoutMs): Promise<{ unfinished: number }> {
    this.#draining = true;
    for (const s of this.#servers) {
      s.close();
      s.closeIdleConnections();
    }
    if (this.#inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        timer.unref();
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const unfinished = this.#inflight;
    for (const s of this.#servers) s.closeAllConnections();
    await this.#pools.closeAll();
    // Export the spans still queued (bounded by the exporter's own timeout).
    await this.#tracing?.shutdown().catch(() => undefined);
    return { unfinished };
  }

  #dispose(s: Snapshot): void {
    this.#retired.delete(s);
    try {
      s.dispose();
    } catch (err) {
      this.#opts.logger.error({ err }, 'error while disposing a retired config');
    }
  }

  #createServer(spec: ListenerSpec): Server {
    const limits = this.#snapshot.limits;
    const http = {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headerTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: 1000,
      noDelay: true,
      insecureHTTPParser: false,
      requireHostHeader: true,
    };
    const tls = spec.tls;
    // A client certificate is asked for but not required by the TLS layer: mtls-auth answers
    // a missing or unverified one with a 401 problem instead of a handshake failure.
    const server: Server =
      tls === null
        ? createServer(http)
        : (createHttpsServer({
            ...http,
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            minVersion: tls.minVersion,
            ...(tls.clientCa !== null ? { ca: readFileSync(tls.clientCa) } : {}),
            requestCert: tls.requestCert,
            rejectUnauthorized: false,
          }) as unknown as Server);
    server.maxConnections = limits.maxConnections;
    server.setTimeout(limits.idleTimeoutMs);
    server.on(tls === null ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.#connections++;
      socket.once('close', () => this.#connections--);
    });
    const listener: { protocol: 'http' | 'https'; portText: string } = { protocol: tls === null ? 'http' : 'https', portText: '' };
    listenerInfo.set(server, listener);
    server.on('request', (req, res) => {
      try {
        handleRequest(this, listener, req, res);
      } catch (err) {
        // A bug in the core must cost one request, never the process.
        this.#opts.logger.error({ err }, 'uncaught error in request handling');
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'application/problem+json' }).end(problemBody('internal-error', undefined, randomUUID()));
      }
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
    return server;
  }

  #applyLimits(): void {
    const limits = this.#snapshot.limits;
    for (const s of this.#servers) {
      s.headersTimeout = limits.headerTimeoutMs;
      s.requestTimeout = limits.requestTimeoutMs;
      s.keepAliveTimeout = limits.idleTimeoutMs;
      s.maxConnections = limits.maxConnections;
      s.setTimeout(limits.idleTimeoutMs);
    }
  }
}

const listenerInfo = new WeakMap<Server, { protocol: 'http' | 'https'; portText: string }>();

/** Published after every reload attempt with its ReloadResult (metrics subscribe). */
export const reloadChannel = channel('northgate:config:reload');

function listenersChanged(a: Snapshot, b: Snapshot): boolean {
  const key = (s: Snapshot) => s.listeners.proxy.map((l) => l.address).join(',') + '|' + (s.listeners.status?.address ?? '');
  return key(a) !== key(b);
}

/** Parser-level errors (malformed request, oversized head, slow head) answered as problem+json. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  let code: ErrorCode = 'bad-request';
  if (err.code === 'HPE_HEADER_OVERFLOW') code = 'headers-too-large';
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') code = 'request-timeout';
  const spec = ERRORS[code];
  const body = problemBody(code, code === 'bad-request' ? 'malformed HTTP request' : undefined, randomUUID());
  socket.end(
    `HTTP/1.1 ${spec.status} ${spec.title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
