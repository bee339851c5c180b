// `transform`: rewrites what the upstream is asked for: the path (a template filled from
// the route's params) and the query arguments (remove, set, add). Templates and argument
// edits are compiled at create time; untouched query arguments keep their exact bytes.
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import { transformSchema, type JsonEditsConfig, type TransformConfig } from './schema.js';
import { editJson, isJsonType, JsonResponseEdit } from './json-body.js';
import { parseJsonPath, type JsonEdits, type Step } from './json-path.js';

const DEFAULT_MAX_BODY = 1024 * 1024;

/** Compiles json edits; problems are pushed with their config paths. */
function compileEdits(c: JsonEditsConfig | undefined, at: 'request' | 'response', problems: Problem[]): JsonEdits | null {
  const j = c?.json;
  if (j === undefined) return null;
  const path = (text: string, where: Array<string | number>): Step[] => {
    const r = parseJsonPath(text);
    if (typeof r === 'string') {
      problems.push({ path: [at, 'json', ...where], message: `"${text}": ${r}` });
      return [];
    }
    return r;
  };
  const edits: JsonEdits = {
    remove: (j.remove ?? []).map((p, i) => path(p, ['remove', i])),
    rename: Object.entries(j.rename ?? {}).map(([from, to]) => [path(from, ['rename', from]), path(to, ['rename', from])] as const),
    set: Object.entries(j.set ?? {}).map(([p, v]) => [path(p, ['set', p]), v] as const),
  };
  return edits.remove.length + edits.rename.length + edits.set.length === 0 ? null : edits;
}

const PARAM = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Literal template text: RFC 3986 path characters and %XX escapes. */
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
/** A `.` or `..` segment made by joining params, which the upstream would resolve. */
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

type Problem = { path: Array<string | number>; message: string };

/** Literal parts and param names, alternating: parts[0] name[0] parts[1] ... parts[n]. */
interface Template {
  readonly parts: readonly string[];
  readonly names: readonly string[];
}

function parseTemplate(text: string): Template | string {
  if (!text.startsWith('/')) return 'must start with "/"';
  const parts: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of text.matchAll(PARAM)) {
    parts.push(text.slice(last, m.index));
    names.push(m[1]!);
    last = m.index! + m[0].length;
  }
  parts.push(text.slice(last));
  for (const p of parts) {
    if (p.includes('{') || p.includes('}')) return 'a parameter is written {name} (letters, digits, _)';
    if (!LITERAL.test(p)) return `"${p}" has characters that are not allowed in a path (no query, fragment or spaces)`;
  }
  return { parts, names };
}

function render(t: Template, params: Record<string, string> | null): string | null {
  let out = t.parts[0]!;
  for (let i = 0; i < t.names.length; i++) {
    const v = params?.[t.names[i]!];
    if (v === undefined) return null;
    out += v + t.parts[i + 1]!;
  }
  return out;
}

/** The argument name as sent (percent-decoded, "+" as space) for comparison with config names. */
function argNameOf(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = eq === -1 ? pair : pair.slice(0, eq);
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

const encode = (s: string): string => encodeURIComponent(s);

interface QueryEdits {
  /** Names whose client values are dropped (remove and set). */
  readonly drop: ReadonlySet<string>;
  /** Encoded "name=value" pairs appended (set, then add). */
  readonly append: readonly string[];
}

function editQuery(query: string, e: QueryEdits): string {
  const pairs: string[] = [];
  if (query.length > 1) {
    for (const pair of query.slice(1).split('&')) {
      if (pair === '' || e.drop.has(argNameOf(pair))) continue;
      pairs.push(pair);
    }
  }
  for (let i = 0; i < e.append.length; i++) pairs.push(e.append[i]!);
  return pairs.length === 0 ? '' : '?' + pairs.join('&');
}

export const transformPlugin: Plugin<TransformConfig> = {
  name: 'transform',
  priority: 800,
  schema: transformSchema,
  check(config) {
    const problems: Problem[] = [];
    if (config.path !== undefined) {
      const t = parseTemplate(config.path);
      if (typeof t === 'string') problems.push({ path: ['path'], message: t });
    }
    compileEdits(config.request, 'request', problems);
    compileEdits(config.response, 'response', problems);
    if (config.path === undefined && config.query === undefined && config.request === undefined && config.response === undefined) problems.push({ path: [], message: 'give "path", "query", "request" or "response"' });
    return problems;
  },
  create(config) {
    const template = config.path === undefined ? null : (parseTemplate(config.path) as Template);
    let edits: QueryEdits | null = null;
    if (config.query) {
      const q = config.query;
      const drop = new Set([...(q.remove ?? []), ...Object.keys(q.set ?? {})]);
      const append: string[] = [];
      for (const [k, v] of Object.entries(q.set ?? {})) append.push(`${encode(k)}=${encode(v)}`);
      for (const [k, v] of Object.entries(q.add ?? {})) for (const value of Array.isArray(v) ? v : [v]) append.push(`${encode(k)}=${encode(value)}`);
      if (drop.size + append.length > 0) edits = { drop, append };
    }
    const missing = LocalReply.error('internal-error', 'the path template names a parameter this route does not capture');
    const handler: PluginHandler = {};
    if (template !== null) {
      // Rendered in the request phase so that a template the route cannot fill is answered, not forwarded.
      const kPath = localKey<string>('transform.path');
      handler.request = (ctx) => {
        const path = render(template, ctx.params);
        if (path === null) return missing;
        if (template.names.length > 0 && DOT_SEGMENT.test(path)) return LocalReply.error('bad-request', 'the rewritten path has a "." or ".." segment');
        ctx.setLocal(kPath, path);
        return undefined;
      };
      handler.upstreamRequest = (ctx: PluginContext) => {
        const current = ctx.upstreamPath;
        const q = current.indexOf('?');
        const query = q === -1 ? '' : current.slice(q);
        ctx.upstreamPath = ctx.route!.service.basePath + ctx.local(kPath)! + (edits === null ? query : editQuery(query, edits));
      };
    } else if (edits !== null) {
      const e = edits;
      handler.upstreamRequest = (ctx: PluginContext) => {
        const current = ctx.upstreamPath;
        const q = current.indexOf('?');
        ctx.upstreamPath = q === -1 ? current + editQuery('', e) : current.slice(0, q) + editQuery(current.slice(q), e);
      };
    }
    addJsonEdits(handler, config);
    return handler;
  },
};

/** JSON body edits: request bodies read in the request phase, responses through a stream. */
function addJsonEdits(handler: PluginHandler, config: TransformConfig): void {
  const maxBody = config.max_body ?? DEFAULT_MAX_BODY;
  const ignored: Problem[] = [];
  const reqEdits = compileEdits(config.request, 'request', ignored);
  const resEdits = compileEdits(config.response, 'response', ignored);
  if (reqEdits !== null) {
    const pathRequest = handler.request;
    const edit = (ctx: PluginContext): Promise<undefined> | undefined => {
      const declared = ctx.requestBodyLength;
      if (declared <= 0 && !ctx.requestChunked) return undefined;
      if (declared > maxBody || !isJsonType(ctx.header('content-type')) || ctx.header('content-encoding') !== undefined) return undefined;
      return ctx.readRequestBody(Math.min(maxBody, ctx.maxBodyBytes)).then((body) => {
        if (body !== null) ctx.requestBody = editJson(body, reqEdits) ?? body;
        return undefined;
      });
    };
    handler.request =
      pathRequest === undefined
        ? edit
        : (ctx) => {
            const r = pathRequest(ctx);
            return r === undefined ? edit(ctx) : r;
          };
  }
  if (resEdits !== null) {
    handler.responseHeaders = (ctx) => {
      const status = ctx.responseStatus;
      if (ctx.method === 'HEAD' || status === 204 || status === 304 || status < 200) return;
      const h = ctx.responseHeaders;
      if (!isJsonType(h.get('content-type')) || h.has('content-encoding')) return;
      const length = h.get('content-length');
      if (length !== undefined && Number(length) > maxBody) return;
      // The edited body is another representation: a strong validator would lie.
      const etag = h.get('etag');
      if (etag !== undefined && etag.startsWith('"')) h.set('ETag', 'W/' + etag);
      ctx.pipeResponseThrough(new JsonResponseEdit(resEdits, maxBody));
    };
  }
}
