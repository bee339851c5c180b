// `auth`: several authentication methods on one route, tried in order, plus an optional
// anonymous consumer. The first method that finds its kind of credential decides: a valid
// one authenticates, an invalid one is refused (never downgraded to anonymous). Only a
// request with no credential of any listed kind gets the anonymous consumer, or a 401 that
// lists every method's challenge.
import type { Consumer } from '../../sdk/consumer.js';
import type { PluginContext } from '../../sdk/context.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin } from '../../sdk/plugin.js';
import { basicAuthMethod } from './basic-auth.js';
import { introspectionMethod, introspectionPlugin } from './introspection.js';
import { jwtMethod, jwtPlugin } from './jwt.js';
import { keyAuthMethod } from './key-auth.js';
import { mtlsAuthMethod } from './mtls-auth.js';
import { INSUFFICIENT_SCOPE, INVALID, MISSING, UNAVAILABLE, failureReply, setIdentity, unauthorized, unavailable, type AuthMethod, type AuthResult } from './method.js';
import { authSchema, type AuthConfig, type AuthMethodConfig } from './schemas.js';

function methodOf(m: AuthMethodConfig): AuthMethod {
  if ('key-auth' in m) return keyAuthMethod(m['key-auth']);
  if ('basic-auth' in m) return basicAuthMethod(m['basic-auth']);
  if ('mtls-auth' in m) return mtlsAuthMethod(m['mtls-auth']);
  if ('introspection' in m) return introspectionMethod(m.introspection);
  return jwtMethod(m.jwt);
}

export const authPlugin: Plugin<AuthConfig> = {
  name: 'auth',
  priority: 1000,
  schema: authSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    const seen = new Set<string>();
    config.any.forEach((m, i) => {
      const name = Object.keys(m)[0]!;
      if (seen.has(name)) problems.push({ path: ['any', i], message: `"${name}" is listed twice` });
      seen.add(name);
      if ('jwt' in m) for (const p of jwtPlugin.check!(m.jwt)) problems.push({ path: ['any', i, 'jwt', ...p.path], message: p.message });
      if ('introspection' in m) for (const p of introspectionPlugin.check!(m.introspection)) problems.push({ path: ['any', i, 'introspection', ...p.path], message: p.message });
    });
    // Both read `Authorization: Bearer`, and the first to find one decides: the other would never see a token.
    if (seen.has('jwt') && seen.has('introspection')) problems.push({ path: ['any'], message: '"jwt" and "introspection" both take Bearer tokens; list only one of them' });
    return problems;
  },
  create(config) {
    const methods = config.any.map(methodOf);
    // A credential of another listed kind (a second key beside the Bearer token that
    // authenticated) is a credential too: each method with hide_credentials removes its own.
    const hiders = methods.flatMap((m) => (m.hide ? [m.hide] : []));
    const challenges = methods.map((m) => m.challenge).join(', ');
    const anonymousName = config.anonymous;

    const anonymous = (ctx: PluginContext): LocalReply | undefined => {
      const consumer: Consumer | undefined = anonymousName === undefined ? undefined : ctx.consumers.byUsername.get(anonymousName);
      if (consumer === undefined) return unauthorized(challenges);
      setIdentity(ctx, { consumer, credential: null }, true);
      return undefined;
    };

    /** Goes on from method `from`; returns a Promise only once a method did. */
    const run = (ctx: PluginContext, from: number, unavailableSeen: boolean): LocalReply | undefined | Promise<LocalReply | undefined> => {
      let sawUnavailable = unavailableSeen;
      for (let i = from; i < methods.length; i++) {
        const r = methods[i]!.authenticate(ctx);
        if (r instanceof Promise) return r.then((v) => decide(ctx, i, v, sawUnavailable));
        if (r === MISSING) continue;
        if (r === UNAVAILABLE) {
          sawUnavailable = true;
          continue;
        }
        return decide(ctx, i, r, sawUnavailable);
      }
      return sawUnavailable ? unavailable() : anonymous(ctx);
    };

    const decide = (ctx: PluginContext, i: number, r: AuthResult, sawUnavailable: boolean): LocalReply | undefined | Promise<LocalReply | undefined> => {
      if (r === MISSING) return run(ctx, i + 1, sawUnavailable);
      if (r === UNAVAILABLE) return run(ctx, i + 1, true);
      if (r === INVALID || r === INSUFFICIENT_SCOPE) return failureReply(methods[i]!, r);
      for (const hide of hiders) hide(ctx);
      setIdentity(ctx, r);
      return undefined;
    };

    return {
      request: (ctx) => run(ctx, 0, false),
      close: () => methods.forEach((m) => m.close?.()),
    };
  },
};
