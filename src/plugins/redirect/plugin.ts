// `redirect`: answers with a 3xx whose Location is the request's URL with the configured
// parts replaced, by the Gateway API's RequestRedirect rules: the scheme, host and path
// default to the request's; the port is the configured one, else the default port of a
// configured scheme, else the port the client used; a scheme's default port is not
// written; the query is kept. Everything a client controls that reaches the Location (the
// host, the path, the query) was checked by the core, and is encoded again here so that no
// byte outside visible ASCII can reach the header.
import { compilePathModifier } from '../../base/path-modifier.js';
import { LocalReply } from '../../sdk/local-reply.js';
import type { Plugin } from '../../sdk/plugin.js';
import { redirectSchema, type RedirectConfig } from './schema.js';

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** Characters that may stand in a Location's path or query as they are; the rest is percent-encoded. */
const UNSAFE = /[^\x21-\x7e]|[\\"<>^`{|}]/g;

export const redirectPlugin: Plugin<RedirectConfig> = {
  name: 'redirect',
  priority: 1600,
  schema: redirectSchema,
  create(config) {
    const status = config.status ?? 302;
    const modify = config.path === undefined ? null : compilePathModifier(config.path);
    const host = config.host?.toLowerCase();
    return {
      request(ctx) {
        const requestHost = host ?? ctx.host;
        // HTTP/1.0 without Host: there is no host to send the client back to.
        if (requestHost === '') return LocalReply.error('bad-request', 'a redirect needs the request\'s Host header');
        const scheme = config.scheme ?? ctx.scheme;
        const port = config.port ?? (config.scheme !== undefined ? DEFAULT_PORT[scheme] : portOf(ctx.hostHeader, DEFAULT_PORT[ctx.scheme]));
        const authority = port === DEFAULT_PORT[scheme] ? requestHost : `${requestHost}:${port}`;
        const path = modify === null ? ctx.path : modify(ctx.path, ctx.matchLength);
        const location = `${scheme}://${authority}${safe(path)}${safe(ctx.query)}`;
        return new LocalReply(status, undefined, { location });
      },
    };
  },
};

/** The port of a Host header (`name:port`, `[v6]:port`), or `fallback` when it names none. */
function portOf(hostHeader: string, fallback: number): number {
  const colon = hostHeader.lastIndexOf(':');
  if (colon === -1 || hostHeader.indexOf(']', colon) !== -1) return fallback;
  const port = Number(hostHeader.slice(colon + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : fallback;
}

/** `s` with every byte that must not stand unencoded in a URL percent-encoded (UTF-8). */
function safe(s: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(s) ? s.replace(UNSAFE, (c) => encodeURIComponent(c)) : s;
}
