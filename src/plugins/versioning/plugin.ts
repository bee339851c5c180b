// `versioning`: several versions of an API on one route, chosen by a path segment
// (/v1/...), a request header (Accept-Version) or a query argument, with a default. A version
// may be served by another service, and a deprecated one says so in its responses:
// Deprecation (RFC 9745), Sunset (RFC 8594) and a successor-version Link.
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin } from '../../sdk/plugin.js';
import type { PluginContext } from '../../sdk/context.js';
import { localKey } from '../../sdk/local-key.js';
import { addVary } from '../../sdk/header-list.js';
import { versioningSchema, type VersioningConfig } from './schema.js';

interface Version {
  readonly name: string;
  readonly service: string | undefined;
  /** Response headers of a deprecated version, as flat [name, value, ...]; null when current. */
  readonly headers: readonly string[] | null;
}

interface Chosen {
  readonly version: Version;
  /** The upstream path without the version segment (path_prefix with strip_prefix), else null. */
  readonly path: string | null;
}

const kChosen = localKey<Chosen>('versioning.chosen');
/** A looks-like-a-version first segment (v1, v2.1) that names no configured version is a 404, not the default. */
const VERSION_LIKE = /^v[0-9]+(?:\.[0-9]+)*$/i;

export function deprecationHeaders(d: { date: string; sunset?: string; link?: string }): string[] {
  const out = ['Deprecation', '@' + Math.floor(Date.parse(d.date) / 1000)];
  if (d.sunset !== undefined) out.push('Sunset', new Date(Date.parse(d.sunset)).toUTCString());
  if (d.link !== undefined) out.push('Link', `<${d.link}>; rel="successor-version"`);
  return out;
}

export const versioningPlugin: Plugin<VersioningConfig> = {
  name: 'versioning',
  // After auth and rate limits, before transform (800): a version's service and path are set first.
  priority: 870,
  schema: versioningSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    const names = new Set<string>();
    config.versions.forEach((v, i) => {
      if (names.has(v.name)) problems.push({ path: ['versions', i, 'name'], message: `version "${v.name}" is listed twice` });
      names.add(v.name);
      const d = v.deprecated;
      if (d !== undefined) {
        if (Number.isNaN(Date.parse(d.date))) problems.push({ path: ['versions', i, 'deprecated', 'date'], message: 'is not a valid date' });
        if (d.sunset !== undefined && Number.isNaN(Date.parse(d.sunset))) problems.push({ path: ['versions', i, 'deprecated', 'sunset'], message: 'is not a valid date' });
        else if (d.sunset !== undefined && Date.parse(d.sunset) < Date.parse(d.date)) problems.push({ path: ['versions', i, 'deprecated', 'sunset'], message: 'is before the deprecation date' });
      }
    });
    if (config.default !== undefined && !names.has(config.default)) problems.push({ path: ['default'], message: `names no version (${[...names].join(', ')})` });
    const by = config.by ?? 'path_prefix';
    if (config.header !== undefined && by !== 'header') problems.push({ path: ['header'], message: 'only used with by: header' });
    if (config.query !== undefined && by !== 'query') problems.push({ path: ['query'], message: 'only used with by: query' });
    if (config.strip_prefix !== undefined && by !== 'path_prefix') problems.push({ path: ['strip_prefix'], message: 'only used with by: path_prefix' });
    return problems;
  },
  create(config) {
    const versions = new Map<string, Version>();
    for (const v of config.versions) versions.set(v.name, { name: v.name, service: v.service, headers: v.deprecated === undefined ? null : deprecationHeaders(v.deprecated) });
    const fallback = config.default === undefined ? null : versions.get(config.default)!;
    const by = config.by ?? 'path_prefix';
    const header = (config.header ?? 'Accept-Version').toLowerCase();
    const headerLabel = config.header ?? 'Accept-Version';
    const query = config.query ?? 'version';
    const strip = config.strip_prefix ?? true;
    const list = config.versions.map((v) => v.name).join(', ');
    const unknown = (given: string) => LocalReply.error('api-version-not-found', `no API version "${given.slice(0, 64)}"; versions: ${list}`);
    const where = by === 'header' ? `the ${headerLabel} header` : by === 'query' ? `the "${query}" query argument` : 'the first path segment';
    const required = LocalReply.error('bad-request', `this API needs a version in ${where} (${list})`);

    const queryValue = (ctx: PluginContext): string | undefined => {
      if (ctx.query.length < 2) return undefined;
      for (const pair of ctx.query.slice(1).split('&')) {
        const eq = pair.indexOf('=');
        const name = eq === -1 ? pair : pair.slice(0, eq);
        if (name !== query) continue;
        try {
          return decodeURIComponent((eq === -1 ? '' : pair.slice(eq + 1)).replace(/\+/g, ' '));
        } catch {
          return pair.slice(eq + 1);
        }
      }
      return undefined;
    };

    /** The version a request asks for: a Chosen, or the LocalReply refusing it. */
    const choose = (ctx: PluginContext): Chosen | LocalReply => {
      if (by === 'path_prefix') {
        // The version is the first segment after the route's matched prefix.
        const route = ctx.route!;
        const prefix = ctx.path.slice(0, ctx.matchLength);
        const rest = ctx.path.slice(ctx.matchLength);
        const from = rest.charCodeAt(0) === 47 ? 1 : 0;
        const slash = rest.indexOf('/', from);
        const segment = rest.slice(from, slash === -1 ? undefined : slash);
        const v = versions.get(segment);
        if (v !== undefined) {
          if (!strip) return { version: v, path: null };
          const after = slash === -1 ? '' : rest.slice(slash);
          const kept = route.stripPath ? '' : prefix.endsWith('/') && after !== '' ? prefix.slice(0, -1) : prefix;
          return { version: v, path: kept + after };
        }
        if (VERSION_LIKE.test(segment)) return unknown(segment);
        return fallback === null ? required : { version: fallback, path: null };
      }
      const given = by === 'header' ? ctx.header(header)?.trim() : queryValue(ctx);
      if (given === undefined || given === '') return fallback === null ? required : { version: fallback, path: null };
      const v = versions.get(given);
      return v === undefined ? unknown(given) : { version: v, path: null };
    };

    return {
      request(ctx) {
        const c = choose(ctx);
        if (c instanceof LocalReply) return c;
        ctx.setLocal(kChosen, c);
        if (c.version.service !== undefined) {
          if (!ctx.setService(c.version.service)) return LocalReply.error('internal-error', `version "${c.version.name}" names a service that is not configured`);
        }
        return undefined;
      },
      upstreamRequest(ctx) {
        const c = ctx.local(kChosen);
        if (c === undefined || c.path === null) return;
        const base = ctx.route!.service.basePath;
        const p = c.path === '' ? (base === '' ? '/' : '') : c.path.charCodeAt(0) === 47 ? c.path : '/' + c.path;
        ctx.upstreamPath = base + p + ctx.query;
      },
      responseHeaders(ctx) {
        if (by === 'header') addVary(ctx.responseHeaders, headerLabel);
        const c = ctx.local(kChosen);
        const h = c?.version.headers;
        if (h == null) return;
        for (let i = 0; i < h.length; i += 2) ctx.responseHeaders.append(h[i]!, h[i + 1]!);
      },
    };
  },
};
