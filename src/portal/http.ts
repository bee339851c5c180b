// Small HTTP helpers of the portal listener: JSON bodies with a size cap, problem+json
// answers from the one error table, cookies.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, problemBody, type ErrorCode } from '../base/errors.js';

export const MAX_JSON_BYTES = 64 * 1024;

/** A request-time refusal of the portal, rendered as problem+json. */
export class PortalError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? ERRORS[code].title);
  }
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
} as const;

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string | string[]> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendProblem(res: ServerResponse, err: PortalError): void {
  const body = problemBody(err.code, err.detail, randomUUID());
  res.writeHead(ERRORS[err.code].status, { ...SECURITY_HEADERS, 'content-type': 'application/problem+json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...err.headers });
  res.end(body);
}

/** `imgOrigin`: the one other origin images may come from (the brand's https logo), or null. */
export function sendHtml(res: ServerResponse, status: number, html: string, imgOrigin: string | null = null): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // Everything comes from the portal itself (the brand's logo from its configured origin);
    // no inline script or style, no third-party request.
    'content-security-policy': `default-src 'self'; img-src 'self' data:${imgOrigin === null ? '' : ' ' + imgOrigin}; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'`,
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

/** Reads a JSON object body (application/json, at most MAX_JSON_BYTES). */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return Promise.reject(new PortalError('csrf-failed', 'state-changing calls take an application/json body'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_JSON_BYTES) {
        reject(new PortalError('body-too-large', `a portal request body is at most ${MAX_JSON_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return resolve({});
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
        resolve(v as Record<string, unknown>);
      } catch {
        reject(new PortalError('bad-request', 'the body must be a JSON object'));
      }
    });
  });
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export function str(body: Record<string, unknown>, name: string, opts: { max: number; required?: boolean }): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new PortalError('bad-request', `"${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new PortalError('bad-request', `"${name}" must be a string`);
  if (v.length > opts.max) throw new PortalError('bad-request', `"${name}" is at most ${opts.max} characters`);
  return v;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
