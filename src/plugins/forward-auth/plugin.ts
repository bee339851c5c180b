// `forward-auth`: external authorization (Traefik ForwardAuth, Envoy ext_authz over HTTP,
// nginx auth_request). Each request is described to an HTTP authorization service — method,
// URI, chosen headers, optionally the body — and the service's answer decides: 2xx lets it
// through with the configured response headers added upstream, 3xx and 4xx go back to the
// client as the service answered, and a service that fails (5xx, timeout, unreachable)
// refuses the request with 503 unless `failure: allow` says otherwise.
import { STATUS_CODES } from 'node:http';
import { parseDuration } from '../../base/duration.js';
import { remoteFailure } from '../../base/remote-document.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../../sdk/plugin.js';
import { acquireService, AuthCallError, type AuthAnswer } from './client.js';
import { ExpiringLru } from '../../base/expiring-lru.js';
import { KeyHasher, cacheLifetime } from './decision-cache.js';
import { checkForwardAuth, forwardAuthSchema, type ForwardAuthConfig } from './schema.js';

/** The identity headers an authentication plugin sets: read from the upstream request (a client's copies never get there). */
const IDENTITY = new Set(['x-consumer-id', 'x-consumer-username', 'x-consumer-groups', 'x-credential-id', 'x-anonymous-consumer']);
/** What may be copied from the service's answer: no control character but HTAB (no header injection). */
const SAFE_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** At most one failure line per this long per handler, so a down service does not flood the log. */
const LOG_EVERY_MS = 1000;

/** An answer reduced to what a later request needs: headers to add upstream, or the reply to give. */
type Decision = { readonly allow: true; readonly upstream: readonly string[] } | { readonly allow: false; readonly status: number; readonly headers: readonly string[]; readonly body: Buffer | null };

export const forwardAuthPlugin: Plugin<ForwardAuthConfig> = {
  name: 'forward-auth',
  // After authentication (1000–1004), so the service may be given the consumer; before acl
  // (950), rate limits (900) and quotas (890), so a refused request is not counted.
  priority: 990,
  schema: forwardAuthSchema,
  check: checkForwardAuth,
  create: (config) => createForwardAuth(config),
};

function createForwardAuth(config: ForwardAuthConfig): PluginHandler {
  const timeoutMs = parseDuration(config.timeout ?? '2s')!;
  const service = acquireService(config, timeoutMs);
  const method = config.method ?? 'GET';
  const forwarded = (config.headers ?? []).map((h) => h.toLowerCase());
  const sendsContentType = !forwarded.includes('content-type');
  const upstreamNames = config.upstream_headers ?? [];
  const upstreamLower = upstreamNames.map((h) => h.toLowerCase());
  const clientNames = config.client_headers ?? [];
  const failOpen = config.failure === 'allow';
  const bodyLimit = config.body?.max_bytes ?? 0;
  const omitLarge = config.body?.too_large === 'omit';
  const shownUrl = config.url;

  const cacheConfig = config.cache;
  const cache = cacheConfig === undefined ? null : new ExpiringLru<Decision>(cacheConfig.max_entries ?? 10_000);
  const ttlMs = cacheConfig === undefined ? 0 : parseDuration(cacheConfig.ttl)!;
  const keyNames = (cacheConfig?.key ?? config.headers ?? []).map((k) => (k === 'client_ip' ? k : k.toLowerCase()));
  const perRequest = cacheConfig?.include_request ?? true;
  const cacheDenials = cacheConfig?.denials ?? false;

  let lastLog = -Infinity;
  let unlogged = 0;
  const logFailure = (reason: string): void => {
    const now = performance.now();
    if (now - lastLog < LOG_EVERY_MS) {
      unlogged++;
      return;
    }
    lastLog = now;
    const more = unlogged > 0 ? ` (and ${unlogged} more since the last line)` : '';
    unlogged = 0;
    // Published for the process log; the value is discarded: this is not thrown.
    remoteFailure('forward-auth service', shownUrl, `${reason}; ${failOpen ? 'requests let through (failure: allow)' : 'requests refused with 503'}${more}`);
  };

  const fail = (reason: string): RequestPhaseResult => {
    logFailure(reason);
    return failOpen ? undefined : LocalReply.error('auth-unavailable', 'the authorization service did not answer; try again shortly');
  };

  const headersFor = (ctx: PluginContext, body: Buffer | null, omitted: boolean): string[] => {
    const out: string[] = [];
    const up = ctx.upstreamHeaders;
    for (let i = 0; i < forwarded.length; i++) {
      const name = forwarded[i]!;
      if (IDENTITY.has(name)) {
        for (const v of up.getAll(name)) out.push(name, v);
      } else {
        const v = ctx.header(name);
        if (v !== undefined) out.push(name, v);
      }
    }
    out.push('x-forwarded-method', ctx.method, 'x-forwarded-proto', up.get('x-forwarded-proto') ?? 'http');
    const host = up.get('x-forwarded-host');
    if (host !== undefined) out.push('x-forwarded-host', host);
    out.push('x-forwarded-uri', ctx.path + ctx.query, 'x-forwarded-for', up.get('x-forwarded-for') ?? ctx.clientIp, 'x-real-ip', ctx.clientIp, 'x-request-id', ctx.id);
    if (body !== null && sendsContentType) {
      const type = ctx.header('content-type');
      if (type !== undefined) out.push('content-type', type);
    }
    if (omitted) out.push('x-forwarded-body', 'omitted');
    return out;
  };

  const keyOf = (ctx: PluginContext, body: Buffer | null, omitted: boolean): string => {
    const h = new KeyHasher();
    for (let i = 0; i < keyNames.length; i++) {
      const name = keyNames[i]!;
      if (name === 'client_ip') h.add(ctx.clientIp);
      else if (IDENTITY.has(name)) h.add(ctx.upstreamHeaders.getAll(name).join('\n') || undefined);
      else h.add(ctx.header(name));
    }
    if (perRequest) h.add(ctx.method).add(ctx.upstreamHeaders.get('x-forwarded-proto')).add(ctx.upstreamHeaders.get('x-forwarded-host')).add(ctx.path + ctx.query).bytes(omitted ? null : body);
    return h.digest();
  };

  /** The answer as a decision, or the reason it cannot be used (then `failure` decides). */
  const decide = (answer: AuthAnswer): Decision | string => {
    const status = answer.status;
    if (status >= 200 && status < 300) {
      const upstream: string[] = [];
      for (let i = 0; i < upstreamNames.length; i++) {
        const values = valuesOf(answer.headers[upstreamLower[i]!]);
        for (const v of values) {
          if (!SAFE_VALUE.test(v)) return `answered ${status} with a control character in ${upstreamNames[i]}`;
          upstream.push(upstreamNames[i]!, v);
        }
      }
      return { allow: true, upstream };
    }
    if (REDIRECTS.has(status) || (status >= 400 && status < 500)) {
      const headers: string[] = [];
      const copy = (name: string): void => {
        for (const v of valuesOf(answer.headers[name.toLowerCase()])) if (SAFE_VALUE.test(v)) headers.push(name, v);
      };
      if (status < 400 && !clientNames.some((n) => n.toLowerCase() === 'location')) copy('Location');
      for (const name of clientNames) copy(name);
      const body = answer.body !== null && answer.body.length > 0 ? answer.body : null;
      if (body !== null) {
        const type = valuesOf(answer.headers['content-type'])[0];
        if (type !== undefined && SAFE_VALUE.test(type)) headers.push('content-type', type);
      }
      return { allow: false, status, headers, body };
    }
    return `answered ${status}`;
  };

  const apply = (ctx: PluginContext, d: Decision): RequestPhaseResult => {
    if (d.allow) {
      const up = ctx.upstreamHeaders;
      for (let i = 0; i < d.upstream.length; i += 2) up.append(d.upstream[i]!, d.upstream[i + 1]!);
      return undefined;
    }
    // A fresh list per reply: the core and response-phase plugins may edit it.
    const headers = d.headers.slice();
    if (d.body !== null || d.status < 400) return new LocalReply(d.status, d.body ?? undefined, headers);
    const detail = 'the authorization service refused the request';
    if (d.status === 401) return LocalReply.error('unauthorized', detail, headers);
    if (d.status === 403) return LocalReply.error('forbidden', detail, headers);
    return LocalReply.problem(d.status, 'access-denied', STATUS_CODES[d.status] ?? 'Denied', detail, headers);
  };

  const check = (ctx: PluginContext, body: Buffer | null, omitted: boolean): RequestPhaseResult | Promise<RequestPhaseResult> => {
    let key: string | null = null;
    if (cache !== null) {
      key = keyOf(ctx, body, omitted);
      const hit = cache.get(key, performance.now());
      if (hit !== undefined) return apply(ctx, hit);
    }
    return service.call(method, headersFor(ctx, body, omitted), method === 'POST' ? (body ?? Buffer.alloc(0)) : null, wantsBody).then(
      (answer) => {
        const d = decide(answer);
        if (typeof d === 'string') return fail(d);
        if (key !== null && (d.allow || (cacheDenials && (d.status === 401 || d.status === 403)))) {
          const life = cacheLifetime(answer.headers['cache-control'], ttlMs);
          const now = performance.now();
          if (life > 0) cache!.set(key, d, now + life, now);
        }
        return apply(ctx, d);
      },
      (err: unknown) => {
        if (err instanceof AuthCallError) return fail(err.message);
        throw err;
      },
    );
  };

  return {
    request(ctx) {
      // A client's own copy of a header the service vouches for never reaches the upstream,
      // whatever the service answers (and when it failed and `failure: allow` lets the request on).
      for (let i = 0; i < upstreamLower.length; i++) ctx.upstreamHeaders.removeLowerCase(upstreamLower[i]!);
      if (bodyLimit === 0 || (ctx.requestBodyLength === -1 && !ctx.requestChunked)) return check(ctx, null, false);
      const tooLarge = (): RequestPhaseResult | Promise<RequestPhaseResult> =>
        omitLarge ? check(ctx, null, true) : LocalReply.error('body-too-large', `the authorization check reads at most ${bodyLimit} bytes of the body`);
      if (ctx.requestBodyLength > bodyLimit) return tooLarge();
      return ctx.readRequestBody(bodyLimit).then((body) => (body === null ? tooLarge() : check(ctx, body, false)));
    },
    close: () => service.release(),
  };
}

/** Kept: a denial's or a redirect's page, for the client. */
function wantsBody(status: number): boolean {
  return (status >= 300 && status < 500);
}

function valuesOf(v: string | string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}
