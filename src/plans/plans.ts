// Plans: named tiers of limits (`plans: [{ name, rate_limit, quota }]`) that consumers
// join with `consumers[].plan`. Compiled once per snapshot: one rate-limit and one quota
// handler per plan, shared by every route, so a plan's budget is per consumer across the
// whole API. Precedence per kind (rate limit, quota): a route's or service's own plugin
// config > the consumer's plan > a global plugin config. A request without a consumer on a
// plan gets the global config, if any.
import type { Plugin, PluginHandler, PluginScope } from '../sdk/plugin.js';
import { localKey } from '../sdk/local-key.js';
import { didYouMean } from '../base/problems.js';
import { createRateLimit, rateLimitPlugin } from '../plugins/rate-limit/plugin.js';
import { rateLimitSchema, type RateLimitConfig } from '../plugins/rate-limit/schema.js';
import { createQuota, quotaPlugin } from '../plugins/quota/plugin.js';
import { quotaSchema, type QuotaConfig } from '../plugins/quota/schema.js';
import type { ChainEntry } from '../pipeline/chain.js';
import type { RawPlan } from '../config/types.js';

/** A plan once the config is validated: its limits are the plugins' own configs. */
interface Plan extends RawPlan {
  rate_limit?: RateLimitConfig;
  quota?: QuotaConfig;
}

export const planSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', 'x-message': 'must be a name of letters, digits, ".", "_" or "-" (max 128)' },
    rate_limit: rateLimitSchema,
    quota: quotaSchema,
  },
};

type Add = (path: Array<string | number>, message: string) => void;

/** Unique plan names, plugin checks on each plan's limits, and consumers naming a known plan. */
export function checkPlans(plans: RawPlan[] | undefined, consumers: Array<{ plan?: string }> | undefined, add: Add): void {
  const names = new Map<string, number>();
  // Past the schema: the limits have the plugins' shapes.
  ((plans ?? []) as Plan[]).forEach((p, i) => {
    if (names.has(p.name)) add(['plans', i, 'name'], `duplicate plan name "${p.name}" (first at plans[${names.get(p.name)}])`);
    else names.set(p.name, i);
    if (p.rate_limit) for (const q of rateLimitPlugin.check!(p.rate_limit)) add(['plans', i, 'rate_limit', ...q.path], q.message);
    if (p.quota) for (const q of quotaPlugin.check!(p.quota)) add(['plans', i, 'quota', ...q.path], q.message);
  });
  (consumers ?? []).forEach((c, i) => {
    if (c.plan === undefined || names.has(c.plan)) return;
    const hint = didYouMean(c.plan, names.keys());
    add(['consumers', i, 'plan'], `no plan named "${c.plan}"${hint ? ` (did you mean "${hint}"?)` : names.size === 0 ? ' (no plans are declared)' : ''}`);
  });
}

type Kind = 'rateLimit' | 'quota';
const PLUGIN_OF: Record<Kind, string> = { rateLimit: 'rate-limit', quota: 'quota' };

/** Stand-ins in a route's chain; `northgate routes` lists them as plan:rate-limit / plan:quota. */
const PLAN_PLUGINS: Record<Kind, Plugin> = {
  rateLimit: { name: 'plan:rate-limit', priority: rateLimitPlugin.priority, schema: {}, create: () => ({}) },
  quota: { name: 'plan:quota', priority: quotaPlugin.priority, schema: {}, create: () => ({}) },
};

export class CompiledPlans {
  readonly #byName = new Map<string, { rateLimit: PluginHandler | null; quota: PluginHandler | null }>();
  readonly #has: Record<Kind, boolean> = { rateLimit: false, quota: false };
  readonly handlers: PluginHandler[] = [];

  constructor(plans: readonly RawPlan[]) {
    for (const p of plans as readonly Plan[]) {
      // Scope "plan": a consumer keeps its counts when it moves to another plan.
      const rateLimit = p.rate_limit ? createRateLimit(p.rate_limit, 'plan') : null;
      const quota = p.quota ? createQuota(p.quota, 'plan') : null;
      for (const h of [rateLimit, quota]) if (h) this.handlers.push(h);
      if (rateLimit) this.#has.rateLimit = true;
      if (quota) this.#has.quota = true;
      this.#byName.set(p.name, { rateLimit, quota });
    }
  }

  /**
   * Adds the plan stand-ins to a route's chain entries. `chosen` says which scope each
   * plugin's config came from; a global rate-limit/quota entry moves inside the stand-in
   * (it still applies to consumers without a plan).
   */
  apply(entries: ChainEntry[], chosen: ReadonlyMap<string, [PluginScope, unknown]>): void {
    for (const kind of ['rateLimit', 'quota'] as const) {
      if (!this.#has[kind]) continue;
      const plugin = PLUGIN_OF[kind];
      const own = chosen.get(plugin);
      if (own !== undefined && own[0].kind !== 'global') continue;
      let fallback: PluginHandler | null = null;
      const at = entries.findIndex((e) => e.plugin.name === plugin);
      if (at >= 0) fallback = entries.splice(at, 1)[0]!.handler;
      entries.push({ plugin: PLAN_PLUGINS[kind], handler: this.#handler(kind, fallback), scope: 'global' });
    }
  }

  #handler(kind: Kind, fallback: PluginHandler | null): PluginHandler {
    const byName = this.#byName;
    const used = localKey<PluginHandler>(`northgate.plan.${kind}`);
    const pick = (plan: string | null | undefined): PluginHandler | null => (plan == null ? fallback : (byName.get(plan)?.[kind] ?? fallback));
    return {
      request(ctx) {
        const h = pick(ctx.consumer?.plan);
        if (h === null) return undefined;
        if (h.responseHeaders !== undefined) ctx.setLocal(used, h);
        return h.request!(ctx);
      },
      responseHeaders(ctx) {
        const h = ctx.local(used);
        return h?.responseHeaders!(ctx);
      },
    };
  }
}
