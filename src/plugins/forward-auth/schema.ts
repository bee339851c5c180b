import { readFileSync } from 'node:fs';
import { DURATION_PATTERN, parseDuration } from '../../base/duration.js';
import { headerNameSchema } from '../../base/schema-defs.js';

const duration = { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 500ms, 2s' };
const names = { type: 'array', maxItems: 64, uniqueItems: true, items: headerNameSchema };
const pemFile = { type: 'string', minLength: 1 };

export const forwardAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' },
    method: { enum: ['GET', 'POST'] },
    headers: names,
    body: {
      type: 'object',
      additionalProperties: false,
      required: ['max_bytes'],
      properties: {
        max_bytes: { type: 'integer', minimum: 1, maximum: 16 * 1024 * 1024 },
        too_large: { enum: ['reject', 'omit'] },
      },
    },
    timeout: duration,
    upstream_headers: names,
    client_headers: names,
    failure: { enum: ['deny', 'allow'] },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['ttl'],
      properties: {
        key: { type: 'array', maxItems: 64, uniqueItems: true, items: { anyOf: [{ const: 'client_ip' }, headerNameSchema] } },
        ttl: duration,
        max_entries: { type: 'integer', minimum: 1, maximum: 1_000_000 },
        include_request: { type: 'boolean' },
        denials: { type: 'boolean' },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: { ca: pemFile, client_cert: pemFile, client_key: pemFile, servername: { type: 'string', minLength: 1 } },
    },
    max_connections: { type: 'integer', minimum: 1, maximum: 1024 },
  },
};

export interface ForwardAuthConfig {
  url: string;
  method?: 'GET' | 'POST';
  headers?: string[];
  body?: { max_bytes: number; too_large?: 'reject' | 'omit' };
  timeout?: string;
  upstream_headers?: string[];
  client_headers?: string[];
  failure?: 'deny' | 'allow';
  cache?: { key?: string[]; ttl: string; max_entries?: number; include_request?: boolean; denials?: boolean };
  tls?: { ca?: string; client_cert?: string; client_key?: string; servername?: string };
  max_connections?: number;
}

/** Sent to the authorization service on every check; a config cannot list them again. */
export const ALWAYS_SENT = ['x-forwarded-method', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-uri', 'x-forwarded-for', 'x-real-ip', 'x-request-id'];
/** Framing and connection fields: each hop sets its own. */
const HOP = ['host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect'];
const NOT_FORWARDED = new Set([...HOP, ...ALWAYS_SENT]);
/** The core owns these on the upstream request and on the client's response. */
const NOT_COPIED = new Set([...HOP, 'x-request-id']);
const NOT_TO_CLIENT = new Set([...HOP, 'x-request-id', 'content-type']);

export const TIMEOUT_MIN_MS = 100;
export const TIMEOUT_MAX_MS = 60_000;
export const TTL_MAX_MS = 24 * 3600_000;

type Problem = { path: Array<string | number>; message: string };

export function checkForwardAuth(config: ForwardAuthConfig): Problem[] {
  const problems: Problem[] = [];
  let url: URL | null = null;
  try {
    url = new URL(config.url);
  } catch {
    problems.push({ path: ['url'], message: 'is not a valid URL' });
  }
  if (url !== null) {
    if (url.username !== '' || url.password !== '') problems.push({ path: ['url'], message: 'must not carry credentials (send a header the service checks instead)' });
    if (url.hash !== '') problems.push({ path: ['url'], message: 'must not have a fragment' });
    if (url.protocol === 'http:' && config.tls !== undefined) problems.push({ path: ['tls'], message: 'applies to an https:// url only' });
  }
  const timeout = parseDuration(config.timeout ?? '2s')!;
  if (timeout < TIMEOUT_MIN_MS || timeout > TIMEOUT_MAX_MS) problems.push({ path: ['timeout'], message: 'must be between 100ms and 60s' });
  if (config.body !== undefined && config.method !== 'POST') problems.push({ path: ['body'], message: 'the body is sent with method: POST only' });
  (config.headers ?? []).forEach((h, i) => {
    if (NOT_FORWARDED.has(h.toLowerCase())) problems.push({ path: ['headers', i], message: `"${h}" is set by the gateway on every check` });
  });
  (config.upstream_headers ?? []).forEach((h, i) => {
    if (NOT_COPIED.has(h.toLowerCase())) problems.push({ path: ['upstream_headers', i], message: `"${h}" is managed by the gateway` });
  });
  (config.client_headers ?? []).forEach((h, i) => {
    if (NOT_TO_CLIENT.has(h.toLowerCase())) problems.push({ path: ['client_headers', i], message: `"${h}" is managed by the gateway` });
  });
  if (config.cache !== undefined) {
    const ttl = parseDuration(config.cache.ttl)!;
    if (ttl < 1000 || ttl > TTL_MAX_MS) problems.push({ path: ['cache', 'ttl'], message: 'must be between 1s and 24h' });
    if (config.cache.key !== undefined) {
      // A header the service decides on but the key leaves out would let one client's cached
      // answer stand for another's request (a cached allow for a request without a cookie).
      const key = new Set(config.cache.key.map((k) => k.toLowerCase()));
      for (const h of config.headers ?? [])
        if (!key.has(h.toLowerCase())) problems.push({ path: ['cache', 'key'], message: `must name every header in "headers" ("${h}" is sent to the service but not in the key)` });
    }
  }
  if (config.tls !== undefined) {
    if ((config.tls.client_cert === undefined) !== (config.tls.client_key === undefined)) problems.push({ path: ['tls'], message: 'client_cert and client_key go together' });
    for (const field of ['ca', 'client_cert', 'client_key'] as const) {
      const file = config.tls[field];
      if (file === undefined) continue;
      try {
        readFileSync(file);
      } catch (err) {
        problems.push({ path: ['tls', field], message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      }
    }
  }
  return problems;
}
