import type { Plugin } from '../sdk/plugin.js';
import { headersPlugin } from '../plugins/headers/plugin.js';
import { rateLimitPlugin } from '../plugins/rate-limit/plugin.js';
import { quotaPlugin } from '../plugins/quota/plugin.js';
import { mtlsAuthPlugin } from '../plugins/mtls-auth/plugin.js';
import { aclPlugin } from '../plugins/acl/plugin.js';
import { authPlugin } from '../plugins/auth/plugin.js';
import { basicAuthPlugin } from '../plugins/basic-auth/plugin.js';
import { jwtPlugin } from '../plugins/jwt/plugin.js';
import { keyAuthPlugin } from '../plugins/key-auth/plugin.js';
import { corsPlugin } from '../plugins/cors/plugin.js';
import { ipRestrictionPlugin } from '../plugins/ip-restriction/plugin.js';
import { requestTerminationPlugin } from '../plugins/request-termination/plugin.js';
import { requestSizeLimitPlugin } from '../plugins/request-size-limit/plugin.js';
import { transformPlugin } from '../plugins/transform/plugin.js';
import { compressionPlugin } from '../plugins/compression/plugin.js';
import { cachePlugin } from '../plugins/cache/plugin.js';
import { versioningPlugin } from '../plugins/versioning/plugin.js';

/** The plugins a config may name. Built-ins are registered the same way a user's would be. */
export class PluginRegistry {
  readonly #plugins = new Map<string, Plugin>();

  constructor(plugins: Iterable<Plugin> = []) {
    for (const p of plugins) this.register(p);
  }

  register(plugin: Plugin): void {
    if (!/^[a-z][a-z0-9-]*$/.test(plugin.name)) throw new Error(`plugin name "${plugin.name}" must be kebab-case`);
    if (this.#plugins.has(plugin.name)) throw new Error(`plugin "${plugin.name}" is already registered`);
    this.#plugins.set(plugin.name, plugin);
  }

  get(name: string): Plugin | undefined {
    return this.#plugins.get(name);
  }

  all(): Plugin[] {
    return [...this.#plugins.values()];
  }
}

export const BUILTIN_PLUGINS: readonly Plugin[] = [headersPlugin as Plugin, corsPlugin as Plugin, ipRestrictionPlugin as Plugin, requestTerminationPlugin as Plugin, requestSizeLimitPlugin as Plugin, transformPlugin as Plugin, keyAuthPlugin as Plugin, basicAuthPlugin as Plugin, jwtPlugin as Plugin, authPlugin as Plugin, aclPlugin as Plugin, rateLimitPlugin as Plugin, quotaPlugin as Plugin, mtlsAuthPlugin as Plugin, compressionPlugin as Plugin, cachePlugin as Plugin, versioningPlugin as Plugin];

export function defaultRegistry(): PluginRegistry {
  return new PluginRegistry(BUILTIN_PLUGINS);
}
