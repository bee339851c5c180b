// The outbound side of forward-auth: one undici Pool per authorization service (origin, TLS
// and limits), shared by every handler that names the same one and closed when the last
// handler is released, so a reload keeps the warm connections. Each check is bounded: one
// deadline for connect, head and body together, a cap on the body kept (a denial's page)
// and on the body drained (anything else), and no redirect is ever followed.
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import { lazyRequire } from '../../base/lazy-require.js';
import type { ForwardAuthConfig } from './schema.js';

// undici's index (its Pool with the request() API, ~110 modules) loads when a config first
// uses forward-auth, not with the plugin list.
const undici = lazyRequire<typeof import('undici')>('undici');

/** The most of an answer's body kept (a denial's page) or drained to reuse the connection. */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface AuthAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body when it was wanted and fit in MAX_ANSWER_BYTES; null when it was larger or not wanted. */
  readonly body: Buffer | null;
}

/** Why a check got no usable answer (refused connection, timeout, reset…); never carries header values. */
export class AuthCallError extends Error {
  override name = 'AuthCallError';
}

interface Shared {
  readonly pool: Pool;
  refs: number;
}

const pools = new Map<string, Shared>();

export interface AuthService {
  /** The request target sent to the service: the configured URL's path and query. */
  readonly path: string;
  /** Sends one check; `wantBody(status)` says whether that status's body is kept. */
  call(method: string, headers: string[], body: Buffer | null, wantBody: (status: number) => boolean): Promise<AuthAnswer>;
  release(): void;
}

export function acquireService(config: ForwardAuthConfig, timeoutMs: number): AuthService {
  const url = new URL(config.url);
  const connections = config.max_connections ?? 64;
  const tls = url.protocol === 'https:' ? tlsOptions(config.tls) : {};
  const id = JSON.stringify([url.origin, connections, timeoutMs, config.tls ?? null, tls]);
  let shared = pools.get(id);
  if (shared === undefined) {
    // undici's own timers are a backstop to the per-check deadline below.
    const pool = new (undici().Pool)(url.origin, { connections, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connect: { timeout: timeoutMs, ...tls } });
    shared = { pool, refs: 0 };
    pools.set(id, shared);
  }
  shared.refs++;
  const pool = shared.pool;
  const path = url.pathname + url.search;
  let released = false;
  return {
    path,
    call: (method, headers, body, wantBody) => call(pool, path, method, headers, body, wantBody, timeoutMs),
    release() {
      if (released) return;
      released = true;
      if (--shared.refs > 0) return;
      pools.delete(id);
      void shared.pool.close().catch(() => {});
    },
  };
}

function tlsOptions(tls: ForwardAuthConfig['tls']): { ca?: string; cert?: string; key?: string; servername?: string } {
  if (tls === undefined) return {};
  return {
    ...(tls.ca !== undefined ? { ca: readFileSync(tls.ca, 'utf8') } : {}),
    ...(tls.client_cert !== undefined ? { cert: readFileSync(tls.client_cert, 'utf8') } : {}),
    ...(tls.client_key !== undefined ? { key: readFileSync(tls.client_key, 'utf8') } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  };
}

async function call(pool: Pool, path: string, method: string, headers: string[], body: Buffer | null, wantBody: (status: number) => boolean, timeoutMs: number): Promise<AuthAnswer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    // Dispatcher.request never follows a redirect: a 3xx is an answer like any other.
    const res = await pool.request({ path, method, headers, body, signal: abort.signal });
    const status = res.statusCode;
    if (!wantBody(status)) {
      // Drained in the background so the connection can be reused; a larger body closes it.
      res.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => {});
      return { status, headers: res.headers, body: null };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) {
        res.body.destroy();
        return { status, headers: res.headers, body: null };
      }
      chunks.push(chunk);
    }
    return { status, headers: res.headers, body: Buffer.concat(chunks, size) };
  } catch (err) {
    throw new AuthCallError(abort.signal.aborted ? `no complete answer within ${timeoutMs} ms` : `cannot be reached (${causeOf(err)})`);
  } finally {
    clearTimeout(timer);
  }
}

function causeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return err instanceof Error ? err.name : 'error';
}
