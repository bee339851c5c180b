// `basic-auth` (RFC 7617): username and password, verified against the scrypt hashes of the
// snapshot's consumer index. A verified pair is remembered (bounded LRU) so a valid client
// pays scrypt once per snapshot; wrong passwords and unknown usernames always pay it.
import type { Credential } from '../../sdk/consumer.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin } from '../../sdk/plugin.js';
import { INVALID, MISSING, quote, removeAuthorization, singleMethodHandler, type AuthMethod, type AuthResult } from './method.js';
import { basicAuthSchema, type BasicAuthConfig } from './schemas.js';

const BASIC = /^basic(?: |$)/i;

export function basicAuthMethod(config: BasicAuthConfig): AuthMethod {
  const hide = config.hide_credentials ?? true;
  const challenge = `Basic realm=${quote(config.realm ?? 'northgate')}, charset="UTF-8"`;

  const done = (ctx: PluginContext, cred: Credential | null): AuthResult => {
    if (cred === null) return INVALID;
    if (hide) ctx.upstreamHeaders.remove('authorization');
    return { consumer: cred.consumer, credential: cred };
  };

  const authenticate = (ctx: PluginContext): AuthResult | Promise<AuthResult> => {
    const header = ctx.headers.authorization;
    if (header === undefined || !/^basic /i.test(header)) return MISSING;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return INVALID;
    const r = ctx.consumers.verifyBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
    if (r instanceof Promise) return r.then((cred) => done(ctx, cred));
    return done(ctx, r);
  };
  return { name: 'basic-auth', challenge, invalidChallenge: challenge, authenticate, ...(hide ? { hide: (ctx: PluginContext) => removeAuthorization(ctx, BASIC) } : {}) };
}

export const basicAuthPlugin: Plugin<BasicAuthConfig> = {
  name: 'basic-auth',
  priority: 1001,
  schema: basicAuthSchema,
  create: (config) => singleMethodHandler(basicAuthMethod(config)),
};
