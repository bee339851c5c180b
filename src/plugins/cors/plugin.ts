// `cors`: answers CORS preflights itself (the upstream never sees them) and adds the CORS
// response headers for allowed origins. Origins are compiled once: an exact set plus one
// regex per wildcard or `~regex` entry. Runs before authentication so that a browser's
// preflight (which never carries credentials) is not challenged.
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import type { HeaderList } from '../../sdk/header-list.js';
import { compileConfigRegex, type ConfigRegex } from '../../base/regex.js';
import { CORS_DEFAULTS, corsSchema, type CorsConfig } from './schema.js';
import { HTTP_TOKEN_CHAR } from '../../base/schema-defs.js';

/** `https://*.example.com[:port]`: at least two labels after the star. */
const WILDCARD = /^(https?):\/\/\*\.((?:[a-z0-9-]+\.)+[a-z0-9-]+)(:[0-9]{1,5})?$/i;
/** One label of a host name, for what a wildcard may stand for. */
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
/** What a browser sends as Origin: one serialized origin (or `null`). Two Origin headers joined by ", " fail this. */
const ORIGIN_SYNTAX = /^[a-z][a-z0-9+.-]*:\/\/[^\s,/?#@]+$/i;
const TOKEN = new RegExp(`^${HTTP_TOKEN_CHAR}+$`);
const TOKEN_LIST = new RegExp(`^${HTTP_TOKEN_CHAR}+(?:[ \\t]*,[ \\t]*${HTTP_TOKEN_CHAR}+)*$`);
const kPreflight = localKey<true>('cors.preflight');
const UPSTREAM_CORS = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers'];
/**
 * Response headers a browser shows a page without being told (Fetch's CORS-safelisted
 * response-header names), and those it never shows: not worth listing for an exposed "*".
 */
const NOT_LISTED = new Set(['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma', 'set-cookie', 'set-cookie2', 'vary']);

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

type Problem = { path: Array<string | number>; message: string };

function originProblem(o: string): string | undefined {
  if (o === '*') return undefined;
  if (o.startsWith('~')) {
    const src = o.slice(1);
    const compiled = compileConfigRegex(src);
    if (typeof compiled === 'string') return compiled;
    if (!src.startsWith('^') || !src.endsWith('$')) return 'a regex origin must be anchored with ^ and $ (unanchored, "https://a.example.org.evil.com" would match)';
    return undefined;
  }
  if (o.includes('*')) return WILDCARD.test(o) ? undefined : 'a wildcard origin must look like "https://*.example.com" (the star as the whole left-most label)';
  if (o.toLowerCase() === 'null') return 'the "null" origin is sent by sandboxed documents and local files of any site: it cannot be allowed';
  let url: URL;
  try {
    url = new URL(o);
  } catch {
    return 'not an origin (scheme://host[:port])';
  }
  if (url.origin !== o.toLowerCase()) return `not an origin (scheme://host[:port], no path, default port omitted): did you mean "${url.origin}"?`;
  return undefined;
}

interface Origins {
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  readonly patterns: readonly ConfigRegex[];
}

function compileOrigins(list: readonly string[]): Origins {
  const exact = new Set<string>();
  const patterns: ConfigRegex[] = [];
  let any = false;
  for (const o of list) {
    if (o === '*') any = true;
    // Matched as a whole whatever the pattern's own anchors say: `^https://a\.example\.com|https://b\.example\.com$`
    // is anchored at both ends, yet its first branch alone would admit "https://a.example.com.evil.org".
    else if (o.startsWith('~')) patterns.push(compileConfigRegex(`^(?:${o.slice(1)})$`) as ConfigRegex);
    else if (o.includes('*')) {
      const m = WILDCARD.exec(o)!;
      patterns.push(compileConfigRegex(`^${m[1]}://(?:${LABEL}\\.)+${escapeRe(m[2]!)}${escapeRe(m[3] ?? '')}$`, 'i') as ConfigRegex);
    } else exact.add(o.toLowerCase());
  }
  return { any, exact, patterns };
}

function isAllowed(origins: Origins, origin: string): boolean {
  if (!ORIGIN_SYNTAX.test(origin)) return false;
  if (origins.exact.has(origin.toLowerCase())) return true;
  for (let i = 0; i < origins.patterns.length; i++) if (origins.patterns[i]!.test(origin)) return true;
  return false;
}

/** Adds `token` to Vary unless it (or `*`) is already listed. */
function addVary(h: HeaderList, token: string): void {
  if (h.get('vary') !== undefined) {
    const lower = token.toLowerCase();
    for (const v of h.getAll('vary')) {
      for (const t of v.split(',')) {
        const s = t.trim().toLowerCase();
        if (s === lower || s === '*') return;
      }
    }
  }
  h.append('vary', token);
}

/** `list` is `["*"]`: the wildcard of methods, headers or exposed headers. */
const isStar = (list: readonly string[] | undefined): boolean => list !== undefined && list.length === 1 && list[0] === '*';

/** The names of a response's headers worth exposing for an exposed `*` with credentials, where `*` would be read as a name. */
function exposableNames(h: HeaderList): string {
  const seen = new Set<string>();
  const raw = h.raw;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!NOT_LISTED.has(name) && !name.startsWith('access-control-')) seen.add(name);
  }
  return [...seen].join(', ');
}

export const corsPlugin: Plugin<CorsConfig> = {
  name: 'cors',
  priority: 2000,
  schema: corsSchema,
  check(config) {
    const problems: Problem[] = [];
    const origins = config.origins ?? CORS_DEFAULTS.origins;
    origins.forEach((o, i) => {
      const message = originProblem(o);
      if (message !== undefined) problems.push({ path: ['origins', i], message });
    });
    if (origins.includes('*')) {
      if (origins.length > 1) problems.push({ path: ['origins'], message: '"*" allows every origin: list no other origin with it' });
      if (config.credentials === true) {
        problems.push({ path: ['credentials'], message: 'credentials cannot be combined with the origin "*" (browsers refuse it): list the allowed origins' });
      }
    }
    for (const key of ['methods', 'headers', 'exposed_headers'] as const) {
      const list = config[key];
      if (list !== undefined && list.length > 1 && list.includes('*')) problems.push({ path: [key], message: '"*" stands for every name: list no other with it' });
    }
    return problems;
  },
  create(config) {
    const origins = compileOrigins(config.origins ?? CORS_DEFAULTS.origins);
    const anyOrigin = origins.any;
    const credentials = config.credentials === true;
    const methods = config.methods ?? CORS_DEFAULTS.methods;
    // With credentials a browser reads "*" as a method or header literally named "*" (Fetch,
    // "CORS-preflight fetch"): the preflight's own request is answered back instead.
    const echoMethod = credentials && isStar(methods);
    const allowMethods = methods.join(', ');
    const reflectHeaders = config.headers === undefined || (credentials && isStar(config.headers));
    const allowHeaders = reflectHeaders ? null : config.headers!.join(', ');
    const exposeAll = credentials && isStar(config.exposed_headers);
    const expose = config.exposed_headers && config.exposed_headers.length > 0 && !exposeAll ? config.exposed_headers.join(', ') : null;
    const maxAge = config.max_age === undefined ? null : String(config.max_age);
    const preflight = new LocalReply(config.preflight_status ?? CORS_DEFAULTS.preflight_status);

    const preflightHeaders = (ctx: PluginContext, h: HeaderList): void => {
      if (echoMethod) {
        addVary(h, 'Access-Control-Request-Method');
        const asked = ctx.header('access-control-request-method');
        if (asked !== undefined && TOKEN.test(asked)) h.set('access-control-allow-methods', asked);
        else h.remove('access-control-allow-methods');
      } else h.set('access-control-allow-methods', allowMethods);
      if (allowHeaders !== null) {
        if (allowHeaders !== '') h.set('access-control-allow-headers', allowHeaders);
      } else {
        addVary(h, 'Access-Control-Request-Headers');
        const asked = ctx.header('access-control-request-headers');
        if (asked !== undefined && TOKEN_LIST.test(asked)) h.set('access-control-allow-headers', asked);
      }
      if (maxAge !== null) h.set('access-control-max-age', maxAge);
    };

    const handler: PluginHandler = {
      request(ctx) {
        if (ctx.method !== 'OPTIONS') return;
        const origin = ctx.header('origin');
        if (origin === undefined || ctx.header('access-control-request-method') === undefined) return;
        if (!anyOrigin && !isAllowed(origins, origin)) return LocalReply.error('forbidden', 'origin not allowed by the CORS policy');
        ctx.setLocal(kPreflight, true);
        return preflight;
      },
      responseHeaders(ctx) {
        const h = ctx.responseHeaders;
        // With a list of origins, what the client gets depends on its Origin: caches must know.
        if (!anyOrigin) addVary(h, 'Origin');
        const origin = ctx.header('origin');
        if (origin === undefined) return;
        if (!anyOrigin && !isAllowed(origins, origin)) {
          for (const name of UPSTREAM_CORS) h.remove(name);
          return;
        }
        h.set('access-control-allow-origin', anyOrigin ? '*' : origin);
        if (credentials) h.set('access-control-allow-credentials', 'true');
        const isPreflight = ctx.method === 'OPTIONS' && ctx.local(kPreflight) === true;
        if (isPreflight) preflightHeaders(ctx, h);
        // Browsers read Expose-Headers on actual responses only; the preflight carries it too,
        // as Envoy's answers do, for clients and checks that read the preflight alone.
        if (expose !== null) h.set('access-control-expose-headers', expose);
        else if (exposeAll && !isPreflight) {
          const names = exposableNames(h);
          if (names !== '') h.set('access-control-expose-headers', names);
          else h.remove('access-control-expose-headers');
        }
      },
    };
    return handler;
  },
};
