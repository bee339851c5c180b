// "Quota used and left" on the usage page: the account's plan quota, read from the quota
// plugin's own counters (src/plugins/quota: SQLite, Redis or PostgreSQL) without counting a
// request. Only plan quotas keyed by consumer (the default) belong to an account as a whole;
// a route's own quota, or one keyed by credential, IP or header, is not shown here.
import type { PortalSnapshot } from './server.js';
import { quotaUsage, type QuotaUsage } from '../plugins/quota/plugin.js';
import type { PortalSettings } from './settings.js';

export async function accountQuota(settings: PortalSettings, snapshot: PortalSnapshot, accountId: string): Promise<QuotaUsage | null> {
  const plan = snapshot.consumers.byId.get(accountId)?.plan;
  if (plan == null) return null;
  const config = settings.planQuotas.get(plan);
  if (config === undefined || (config.key ?? 'consumer') !== 'consumer') return null;
  try {
    // Scope "plan", subject the consumer id: the key the plan's quota handler counts under.
    return await quotaUsage(config, 'plan', accountId);
  } catch {
    // The quota store did not answer: the page shows no quota rather than failing.
    return null;
  }
}
