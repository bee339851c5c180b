// `rewrite`: what the upstream receives instead of the client's Host and path, by the
// Gateway API's URLRewrite rules. The path is computed from the request's own (normalized)
// path and the route's matched prefix, so that the replacement — itself checked to be
// normalized at load — can never yield a `..` segment or climb out of the service's base
// path; the service URL's path goes in front and the query follows, as for any route.
import { compilePathModifier } from '../../base/path-modifier.js';
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import { rewriteSchema, type RewriteConfig } from './schema.js';

export const rewritePlugin: Plugin<RewriteConfig> = {
  name: 'rewrite',
  // After `versioning` picked the service (its base path is the one used), before
  // `transform`, whose query edits then apply to the rewritten path.
  priority: 810,
  schema: rewriteSchema,
  create(config): PluginHandler {
    const host = config.host;
    const modify = config.path === undefined ? null : compilePathModifier(config.path);
    return {
      upstreamRequest(ctx) {
        if (host !== undefined) ctx.upstreamHeaders.setLowerCase('host', host);
        if (modify !== null) ctx.upstreamPath = ctx.route!.service.basePath + modify(ctx.path, ctx.matchLength) + ctx.query;
      },
    };
  },
};
