// POST /cache/purge on the status listener: `{"tags": [...], "paths": [...]}` purges the
// memory caches of the gateway (every worker); answers `{"purged": n}`. Loopback peers
// only, whatever address the status listener is bound to. Redis caches are purged by
// `northgate cache purge` directly in Redis.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PurgeRequest } from './store.js';

const MAX_BODY = 64 * 1024;

export type PurgeFn = (req: PurgeRequest) => Promise<number>;

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Checks a purge body: arrays of non-empty strings, at least one tag or path. */
export function parsePurge(value: unknown): PurgeRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the body must be a JSON object {"tags": [...], "paths": [...]}';
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== 'tags' && k !== 'paths') return `unknown field "${k}"`;
  const list = (k: 'tags' | 'paths'): string[] | string => {
    const x = v[k] ?? [];
    if (!Array.isArray(x) || x.some((s) => typeof s !== 'string' || s === '' || s.length > 1024) || x.length > 1000) return `"${k}" must be an array of at most 1000 non-empty strings`;
    return x as string[];
  };
  const tags = list('tags');
  if (typeof tags === 'string') return tags;
  const paths = list('paths');
  if (typeof paths === 'string') return paths;
  if (tags.length + paths.length === 0) return 'give at least one tag or path';
  if (paths.some((p) => !p.startsWith('/'))) return 'a path starts with "/" (no host, no query)';
  return { tags, paths };
}

function problem(res: ServerResponse, status: number, code: string, title: string, detail: string): void {
  const body = JSON.stringify({ type: `urn:northgate:problem:${code}`, title, status, detail });
  res.writeHead(status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export function handlePurge(req: IncomingMessage, res: ServerResponse, purge: PurgeFn): void {
  if (!isLoopback(req.socket.remoteAddress)) return problem(res, 403, 'forbidden', 'Forbidden', 'cache purges are accepted from loopback addresses only');
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    return problem(res, 405, 'method-not-allowed', 'Method Not Allowed', 'use POST');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY && !refused) {
      refused = true;
      res.shouldKeepAlive = false;
      problem(res, 413, 'body-too-large', 'Request Body Too Large', `at most ${MAX_BODY} bytes`);
    } else if (!refused) chunks.push(c);
  });
  req.on('end', () => {
    if (refused) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return problem(res, 400, 'bad-request', 'Bad Request', 'the body is not JSON');
    }
    const r = parsePurge(parsed);
    if (typeof r === 'string') return problem(res, 400, 'bad-request', 'Bad Request', r);
    purge(r).then(
      (n) => {
        const body = JSON.stringify({ purged: n });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(body);
      },
      () => problem(res, 500, 'internal-error', 'Internal Gateway Error', 'the purge failed'),
    );
  });
}
