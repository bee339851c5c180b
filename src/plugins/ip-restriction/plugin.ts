// `ip-restriction`: allow or deny clients by IPv4/IPv6 address or CIDR range. The address
// is ctx.clientIp (the peer, or the right-most untrusted X-Forwarded-For hop when the peer
// is one of trusted_proxies). Lists are compiled into node:net BlockLists at create time;
// a BlockList matches IPv4 rules against IPv4-mapped IPv6 addresses and the reverse.
import { isIP } from 'node:net';
import { buildBlockList, isCidr } from '../../base/cidr.js';
import type { Plugin } from '../../sdk/plugin.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { ipRestrictionSchema, type IpRestrictionConfig } from './schema.js';

type Problem = { path: Array<string | number>; message: string };

export const ipRestrictionPlugin: Plugin<IpRestrictionConfig> = {
  name: 'ip-restriction',
  priority: 3000,
  schema: ipRestrictionSchema,
  check(config) {
    const problems: Problem[] = [];
    for (const list of ['allow', 'deny'] as const) {
      (config[list] ?? []).forEach((cidr, i) => {
        if (!isCidr(cidr)) problems.push({ path: [list, i], message: `"${cidr}" is not an IP address or CIDR range` });
      });
    }
    if (config.allow === undefined && config.deny === undefined) problems.push({ path: [], message: 'give "allow", "deny" or both' });
    return problems;
  },
  create(config) {
    const allow = config.allow ? buildBlockList(config.allow) : null;
    const deny = config.deny ? buildBlockList(config.deny) : null;
    const detail = config.message ?? 'your IP address is not allowed here';
    return {
      request(ctx) {
        const ip = ctx.clientIp;
        const family = isIP(ip);
        // Fail closed: an address that is not one (a socket that lost its peer) passes no list.
        if (family === 0) return LocalReply.error('forbidden', detail);
        const type = family === 6 ? 'ipv6' : 'ipv4';
        if (deny !== null && deny.check(ip, type)) return LocalReply.error('forbidden', detail);
        if (allow !== null && !allow.check(ip, type)) return LocalReply.error('forbidden', detail);
        return undefined;
      },
    };
  },
};
