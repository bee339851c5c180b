// The try-it relay (POST /portal/api/try): a signed-in developer calls a published API
// through the gateway's own proxy listener with their key. The call comes from the
// gateway's loopback address, which an internal service may trust (ip-restriction on
// 127.0.0.1), so the path is held to the published API before anything is sent: it must
// be a plain path (no dot segment, encoded slash or backslash at any decoding depth, in
// any Unicode spelling), and the gateway's own router must send it to a route of that API.
// The request goes out with exactly the checked path (undici's dispatcher, no URL parser
// that would resolve dot segments on the way).
import { firstQueryValues } from '../base/query-params.js';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { normalizePath } from '../proxy/request-path.js';
import type { ApiContext } from './api.js';
import { PortalError, readJson, sendJson, str } from './http.js';

const TRY_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
export const TRY_MAX_RESPONSE = 256 * 1024;
const TRY_TIMEOUT_MS = 10_000;

// RFC 3986 pchar and "/" (path), plus "?" (query), with %XX escapes; anything else (spaces,
// "#", "\", controls, non-ASCII) must be percent-encoded by the caller.
const PATH_CHARS = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
const QUERY_CHARS = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const ESCAPE = /%[0-9A-Fa-f]{2}/;
const DOT_SEGMENT = /^\.\.?(?:;.*)?$/;
// An upstream or a second proxy may decode again: look through this many layers of escapes.
const MAX_DECODES = 3;
const API_KEY = /^[\x21-\x7e]{1,1024}$/;
const CONTENT_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+-]{1,64}(?:\s*;[\x20-\x7e]*)?$/;

/**
 * Why `path` (relative to the API's prefix) could reach something other than the API, or
 * null when it is a plain path. Checked on the path as written and on each percent-decoded
 * layer, each also in Unicode compatibility form (NFKC: "．" is ".", "／" is "/").
 */
export function unsafeTryPath(path: string): string | null {
  if (!path.startsWith('/')) return 'must start with "/" (it is appended to the API\'s base URL)';
  if (path.startsWith('//')) return 'must not start with "//"';
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  if (!PATH_CHARS.test(p)) return 'may hold only URL path characters and %XX escapes: percent-encode spaces, "#", "\\", control and non-ASCII characters';
  if (q !== -1 && !QUERY_CHARS.test(path.slice(q + 1))) return 'has a query with characters that must be percent-encoded (spaces, "#", "\\", control or non-ASCII characters)';
  if (p.includes('//')) return 'must not contain an empty segment ("//")';
  const slashes = count(p, '/');
  let layer = p;
  for (let depth = 0; ; depth++) {
    for (const form of [layer, layer.normalize('NFKC')]) {
      if (/[\\\u0000-\u001f\u007f]/.test(form)) return 'must not contain a backslash or a control character, encoded or not';
      if (count(form, '/') !== slashes) return 'must not contain an encoded slash';
      // "..;x" is ".." to servers that drop a segment's ";parameters" (Tomcat, Jetty, Spring).
      if (form.split('/').some((seg) => DOT_SEGMENT.test(seg))) return 'must not contain "." or ".." segments, encoded or not';
    }
    if (!ESCAPE.test(layer)) return null;
    if (depth === MAX_DECODES) return 'is percent-encoded too many times';
    const next = percentDecode(layer);
    if (next === null) return 'has percent-escapes that are not UTF-8';
    layer = next;
  }
}

function count(s: string, c: string): number {
  let n = 0;
  for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) n++;
  return n;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** One layer of %XX decoding as strict UTF-8 (overlong forms such as %C0%AE are refused: null). */
function percentDecode(s: string): string | null {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const hex = src[i] === 0x25 && i + 2 < src.length ? src.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = src[i]!;
    }
  }
  try {
    return UTF8.decode(out.subarray(0, n));
  } catch {
    return null;
  }
}

export async function tryIt(c: ApiContext): Promise<void> {
  const body = await readJson(c.req);
  const service = str(body, 'service', { max: 128, required: true })!;
  const method = str(body, 'method', { max: 10, required: true })!.toUpperCase();
  const path = str(body, 'path', { max: 2048, required: true })!;
  const key = str(body, 'key', { max: 1024 });
  const payload = str(body, 'body', { max: 32 * 1024 });
  const contentType = str(body, 'content_type', { max: 128 });
  const api = c.settings.apis.get(service);
  if (api === undefined) throw new PortalError('not-found', `no published API named "${service}"`);
  if (!TRY_METHODS.has(method)) throw new PortalError('bad-request', `"method" must be one of ${[...TRY_METHODS].join(', ')}`);
  const unsafe = unsafeTryPath(path);
  if (unsafe !== null) throw new PortalError('bad-request', `"path" ${unsafe}`);
  if (key !== undefined && !API_KEY.test(key)) throw new PortalError('bad-request', '"key" must be printable ASCII without spaces');
  if (contentType !== undefined && !CONTENT_TYPE.test(contentType)) throw new PortalError('bad-request', '"content_type" must be a media type such as application/json');
  if (c.proxyUrl === null) throw new PortalError('upstream-unavailable', 'the gateway has no proxy listener bound');

  const headers: Record<string, string> = { 'user-agent': 'northgate-portal-try-it' };
  // The call carries the Host of the API's public base URL when one is configured, so that
  // it takes the routes a developer's own call takes (routes with \`hosts:\`).
  const publicUrl = new URL(c.settings.baseUrl ?? c.proxyUrl);
  if (c.settings.baseUrl !== null) headers['host'] = publicUrl.host;
  const host = publicUrl.hostname.toLowerCase().replace(/\.$/, '');
  if (key !== undefined) headers['x-api-key'] = key;
  if (payload !== undefined) headers['content-type'] = contentType ?? 'application/json';
  const target = api.pathPrefix + path;
  // The gateway's router decides where the call would go: it must be one of this API's routes
  // (not a neighbouring prefix, not a more specific route of another service under this one).
  const q = target.indexOf('?');
  // The proxy's own reading of the path: a refusal (a reason, not a path) is never tried.
  const routed = normalizePath(q === -1 ? target : target.slice(0, q), c.snapshot.paths);
  const queryValues = firstQueryValues(q === -1 ? '' : target.slice(q));
  const entry =
    routed.charCodeAt(0) !== 47
      ? null
      : c.snapshot.router.match({ method, host, path: routed, header: (n) => headers[n], queryParam: (n) => queryValues.get(n), matchLength: 0, params: null });
  if (entry === null || entry.route.service.name !== api.service) throw new PortalError('bad-request', `"path" must be on the API: ${target} is not a route of "${api.service}"`);

  const started = performance.now();
  let r: Dispatcher.ResponseData;
  try {
    r = await getGlobalDispatcher().request({ origin: c.proxyUrl, path: target, method: method as Dispatcher.HttpMethod, headers, body: payload ?? null, headersTimeout: TRY_TIMEOUT_MS, bodyTimeout: TRY_TIMEOUT_MS });
  } catch {
    throw new PortalError('upstream-unavailable', 'the call through the gateway failed');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of r.body) {
      size += (chunk as Buffer).length;
      if (size > TRY_MAX_RESPONSE) {
        truncated = true;
        r.body.destroy();
        break;
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    throw new PortalError('upstream-unavailable', 'the answer through the gateway broke off');
  }
  const shown: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (k !== 'set-cookie' && v !== undefined) shown[k] = Array.isArray(v) ? v.join(', ') : v;
  sendJson(c.res, 200, { status: r.statusCode, headers: shown, body: Buffer.concat(chunks).toString('utf8'), truncated, duration_ms: Math.round(performance.now() - started) });
}
