// `headers`: add, set and remove request headers (as the upstream will see them) and
// response headers (as the client will see them). Edits run in the order remove, set, add.
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import type { HeaderList } from '../../sdk/header-list.js';
import { headersSchema, type HeaderEdits, type HeadersConfig } from './schema.js';

/** Names the core owns; editing them through this plugin would break framing or routing. */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive']);

interface CompiledEdits {
  remove: string[];
  set: Array<[string, string]>;
  add: Array<[string, string]>;
}

function compile(e: HeaderEdits | undefined): CompiledEdits | null {
  if (!e) return null;
  const add: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(e.add ?? {})) for (const value of Array.isArray(v) ? v : [v]) add.push([k.toLowerCase(), value]);
  const out: CompiledEdits = {
    remove: (e.remove ?? []).map((n) => n.toLowerCase()),
    set: Object.entries(e.set ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    add,
  };
  return out.remove.length + out.set.length + out.add.length === 0 ? null : out;
}

function apply(list: HeaderList, e: CompiledEdits): void {
  for (const name of e.remove) list.remove(name);
  for (const [name, value] of e.set) list.set(name, value);
  for (const [name, value] of e.add) list.append(name, value);
}

export const headersPlugin: Plugin<HeadersConfig> = {
  name: 'headers',
  priority: 800,
  schema: headersSchema,
  check(config) {
    const problems: Array<{ path: Array<string | number>; message: string }> = [];
    for (const side of ['request', 'response'] as const) {
      const e = config[side];
      if (!e) continue;
      for (const kind of ['add', 'set'] as const) {
        for (const name of Object.keys(e[kind] ?? {})) {
          if (PROTECTED.has(name.toLowerCase())) problems.push({ path: [side, kind, name], message: `"${name}" is managed by the gateway and cannot be edited here` });
        }
      }
      (e.remove ?? []).forEach((name, i) => {
        if (PROTECTED.has(name.toLowerCase())) problems.push({ path: [side, 'remove', i], message: `"${name}" is managed by the gateway and cannot be edited here` });
      });
    }
    return problems;
  },
  create(config) {
    const request = compile(config.request);
    const response = compile(config.response);
    const handler: PluginHandler = {};
    if (request) handler.upstreamRequest = (ctx) => apply(ctx.upstreamHeaders, request);
    if (response) handler.responseHeaders = (ctx) => apply(ctx.responseHeaders, response);
    return handler;
  },
};
