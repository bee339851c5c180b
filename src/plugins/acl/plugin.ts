// `acl`: lets a consumer through by its groups. Runs after authentication (priority 950),
// on the consumer an auth plugin set; a request without one is refused.
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin } from '../../sdk/plugin.js';
import { aclSchema, type AclConfig } from './schema.js';

export const aclPlugin: Plugin<AclConfig> = {
  name: 'acl',
  priority: 950,
  schema: aclSchema,
  check(config) {
    if ((config.allow === undefined) === (config.deny === undefined)) return [{ path: [], message: 'needs exactly one of "allow" or "deny" (a list of groups)' }];
    return [];
  },
  create(config) {
    const allow = config.allow !== undefined;
    const groups = [...(config.allow ?? config.deny!)];
    return {
      request(ctx) {
        const consumer = ctx.consumer;
        if (consumer === null) return LocalReply.error('forbidden', 'no authenticated consumer (is an auth plugin configured on this route?)');
        let member = false;
        for (let i = 0; i < groups.length; i++) {
          if (consumer.groups.has(groups[i]!)) {
            member = true;
            break;
          }
        }
        if (member !== allow) return LocalReply.error('forbidden', 'consumer is not allowed to use this route');
        return undefined;
      },
    };
  },
};
