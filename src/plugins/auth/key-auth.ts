// `key-auth`: an API key in a header or a query parameter, looked up by its SHA-256 digest
// in the snapshot's consumer index (the key itself is never stored).
import { paramName } from '../../base/query-params.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin } from '../../sdk/plugin.js';
import { INVALID, MISSING, quote, singleMethodHandler, type AuthMethod, type AuthResult } from './method.js';
import { keyAuthSchema, type KeyAuthConfig } from './schemas.js';

export const DEFAULT_KEY_NAMES: readonly string[] = ['apikey', 'x-api-key'];

export function keyAuthMethod(config: KeyAuthConfig): AuthMethod {
  const names = config.key_names ?? DEFAULT_KEY_NAMES;
  const headerNames = names.map((n) => n.toLowerCase());
  const places = config.in ?? ['header', 'query'];
  const inHeader = places.includes('header');
  const inQuery = places.includes('query');
  const hide = config.hide_credentials ?? true;
  const challenge = `Key realm=${quote(config.realm ?? 'northgate')}`;
  // Every place a key could be, whatever `in` says and in any letter case: a second copy
  // of the key (another key name, the query beside the header) never reaches the upstream.
  const hiddenNames = new Set(headerNames);
  const hideKeys = (ctx: PluginContext): void => {
    for (const n of headerNames) ctx.upstreamHeaders.removeLowerCase(n);
    if (ctx.query.length > 1) ctx.query = withoutParams(ctx.query, hiddenNames);
  };

  const authenticate = (ctx: PluginContext): AuthResult => {
    let key: string | undefined;
    if (inHeader) {
      // From the raw list: asking `ctx.headers` would make node:http build the whole header
      // object for this one lookup. Repeated headers are joined with ", " as node:http does.
      const raw = ctx.rawHeaders;
      for (const n of headerNames) {
        for (let i = 0; i < raw.length; i += 2) {
          const rawName = raw[i]!;
          if (rawName.length === n.length && rawName.toLowerCase() === n) key = key === undefined ? raw[i + 1]! : `${key}, ${raw[i + 1]!}`;
        }
        if (key !== undefined) break;
      }
    }
    if (key === undefined && inQuery && ctx.query.length > 1) {
      const params = new URLSearchParams(ctx.query);
      for (const n of names) {
        const v = params.get(n);
        if (v !== null) {
          key = v;
          break;
        }
      }
    }
    if (key === undefined) return MISSING;
    const credential = ctx.consumers.findKey(key);
    if (credential === null) return INVALID;
    if (hide) hideKeys(ctx);
    return { consumer: credential.consumer, credential };
  };
  return { name: 'key-auth', challenge, invalidChallenge: challenge, authenticate, ...(hide ? { hide: hideKeys } : {}) };
}

/**
 * The query without every parameter whose name, percent-decoded and in lower case, is in
 * `names` (so `APIKEY=` and `api%6Bey=` go too); the others keep their bytes.
 */
export function withoutParams(query: string, names: ReadonlySet<string>): string {
  const kept = query
    .slice(1)
    .split('&')
    .filter((pair) => !names.has(paramName(pair)));
  return kept.length === 0 ? '' : `?${kept.join('&')}`;
}

/** Lower-case key names of the key-auth configs in a plugin map (key-auth itself, or inside `auth`): what the access log redacts. */
export function keyNamesIn(plugins: Record<string, unknown> | undefined): string[] {
  if (plugins === undefined) return [];
  const configs: KeyAuthConfig[] = [];
  if (plugins['key-auth'] !== undefined) configs.push(plugins['key-auth'] as KeyAuthConfig);
  for (const m of (plugins['auth'] as { any?: Array<Record<string, unknown>> } | undefined)?.any ?? []) if (m['key-auth'] !== undefined) configs.push(m['key-auth'] as KeyAuthConfig);
  return configs.flatMap((c) => (c.key_names ?? DEFAULT_KEY_NAMES).map((n) => n.toLowerCase()));
}

export const keyAuthPlugin: Plugin<KeyAuthConfig> = {
  name: 'key-auth',
  priority: 1003,
  schema: keyAuthSchema,
  create: (config) => singleMethodHandler(keyAuthMethod(config)),
};
