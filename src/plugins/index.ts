// The built-in plugins, registered the same way a user's plugins are.
import { PluginRegistry } from '../pipeline/registry.js';
import type { Plugin } from '../sdk/plugin.js';
import { aclPlugin } from './acl/plugin.js';
import { authPlugin } from './auth/any.js';
import { basicAuthPlugin } from './auth/basic-auth.js';
import { introspectionPlugin } from './auth/introspection.js';
import { jwtPlugin } from './auth/jwt.js';
import { keyAuthPlugin } from './auth/key-auth.js';
import { mtlsAuthPlugin } from './auth/mtls-auth.js';
import { openidConnectPlugin } from './openid-connect/plugin.js';
import { cachePlugin } from './cache/plugin.js';
import { compressionPlugin } from './compression/plugin.js';
import { corsPlugin } from './cors/plugin.js';
import { forwardAuthPlugin } from './forward-auth/plugin.js';
import { headersPlugin } from './headers/plugin.js';
import { ipRestrictionPlugin } from './ip-restriction/plugin.js';
import { quotaPlugin } from './quota/plugin.js';
import { rateLimitPlugin } from './rate-limit/plugin.js';
import { requestSizeLimitPlugin } from './request-size-limit/plugin.js';
import { requestTerminationPlugin } from './request-termination/plugin.js';
import { transformPlugin } from './transform/plugin.js';
import { versioningPlugin } from './versioning/plugin.js';
import { faultInjectionPlugin } from './fault-injection/plugin.js';
import { redirectPlugin } from './redirect/plugin.js';
import { requestMirrorPlugin } from './request-mirror/plugin.js';
import { rewritePlugin } from './rewrite/plugin.js';
import { mockPlugin } from './openapi/mock.js';
import { requestValidatorPlugin } from './openapi/request-validator.js';

export const BUILTIN_PLUGINS: readonly Plugin[] = [headersPlugin as Plugin, corsPlugin as Plugin, ipRestrictionPlugin as Plugin, requestTerminationPlugin as Plugin, requestSizeLimitPlugin as Plugin, transformPlugin as Plugin, keyAuthPlugin as Plugin, basicAuthPlugin as Plugin, jwtPlugin as Plugin, introspectionPlugin as Plugin, authPlugin as Plugin, aclPlugin as Plugin, rateLimitPlugin as Plugin, quotaPlugin as Plugin, mtlsAuthPlugin as Plugin, compressionPlugin as Plugin, cachePlugin as Plugin, versioningPlugin as Plugin, forwardAuthPlugin as Plugin, redirectPlugin as Plugin, rewritePlugin as Plugin, faultInjectionPlugin as Plugin, requestMirrorPlugin as Plugin, openidConnectPlugin as Plugin, requestValidatorPlugin as Plugin, mockPlugin as Plugin];

/** A registry holding the built-in plugins. */
export function defaultRegistry(): PluginRegistry {
  return new PluginRegistry(BUILTIN_PLUGINS);
}
