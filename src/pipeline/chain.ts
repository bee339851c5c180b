// A compiled plugin chain: per-phase arrays built once per route per snapshot, null when
// no plugin implements the phase, so an unused phase costs one null check per request.
import { isLocalReply } from '../sdk/local-reply.js';
import type { Plugin, PluginHandler, RequestPhaseResult } from '../sdk/plugin.js';
import type { PluginContext } from '../sdk/context.js';

export interface ChainEntry {
  readonly plugin: Plugin;
  readonly handler: PluginHandler;
  readonly scope: 'global' | 'service' | 'route';
}

export class Chain {
  readonly entries: readonly ChainEntry[];
  readonly request: readonly PluginHandler[] | null;
  readonly upstreamRequest: readonly PluginHandler[] | null;
  /** Response phases hold handlers in reverse priority order. */
  readonly responseHeaders: readonly PluginHandler[] | null;
  readonly responseChunk: readonly PluginHandler[] | null;
  readonly responseEnd: readonly PluginHandler[] | null;
  readonly log: readonly PluginHandler[] | null;
  /** Some body-phase hook may change the body's length: the core drops Content-Length. */
  readonly rewritesBody: boolean;

  constructor(entries: ChainEntry[]) {
    // Higher priority first; ties broken by name so the order never depends on map order.
    const sorted = [...entries].sort((a, b) => b.plugin.priority - a.plugin.priority || (a.plugin.name < b.plugin.name ? -1 : 1));
    this.entries = sorted;
    const forward = sorted.map((e) => e.handler);
    const reverse = [...forward].reverse();
    this.request = pick(forward, 'request');
    this.upstreamRequest = pick(forward, 'upstreamRequest');
    this.responseHeaders = pick(reverse, 'responseHeaders');
    this.responseChunk = pick(reverse, 'responseChunk');
    this.responseEnd = pick(reverse, 'responseEnd');
    this.log = pick(reverse, 'log');
    this.rewritesBody = forward.some((h) => (h.responseChunk !== undefined || h.responseEnd !== undefined) && h.observesBodyOnly !== true);
  }

  static readonly EMPTY = new Chain([]);
}

function pick(handlers: PluginHandler[], phase: keyof PluginHandler): PluginHandler[] | null {
  const list = handlers.filter((h) => typeof h[phase] === 'function');
  return list.length === 0 ? null : list;
}

/**
 * Runs the request phase; stays synchronous until a hook returns a Promise. A hook's result
 * is undefined (go on), a LocalReply (answer) or a Promise of one of them; anything else is
 * a plugin bug and throws, so that the request fails closed (500) rather than go upstream.
 */
export function runRequestPhase(handlers: readonly PluginHandler[], ctx: PluginContext): RequestPhaseResult | Promise<RequestPhaseResult> {
  for (let i = 0; i < handlers.length; i++) {
    const r = handlers[i]!.request!(ctx);
    if (r === undefined) continue;
    if (isLocalReply(r)) return r;
    if (typeof (r as Partial<Promise<RequestPhaseResult>> | null)?.then === 'function') {
      // The last hook's promise needs only its result checked: one reaction, no async frame.
      if (i === handlers.length - 1) return (r as Promise<RequestPhaseResult>).then(checkedOrNone);
      return finishRequestPhase(handlers, i, r as Promise<RequestPhaseResult>, ctx);
    }
    throw notAResult(r);
  }
  return undefined;
}

async function finishRequestPhase(handlers: readonly PluginHandler[], at: number, pending: Promise<RequestPhaseResult>, ctx: PluginContext): Promise<RequestPhaseResult> {
  const first = await pending;
  if (first !== undefined) return checked(first);
  for (let i = at + 1; i < handlers.length; i++) {
    const r = await handlers[i]!.request!(ctx);
    if (r !== undefined) return checked(r);
  }
  return undefined;
}

/** An awaited result: undefined, a LocalReply, or a plugin bug. */
function checkedOrNone(r: unknown): RequestPhaseResult {
  return r === undefined ? undefined : checked(r);
}

/** An awaited result that is not undefined: a LocalReply, or a plugin bug. */
function checked(r: unknown): RequestPhaseResult {
  if (isLocalReply(r)) return r;
  throw notAResult(r);
}

function notAResult(r: unknown): TypeError {
  const what = r === null ? 'null' : typeof r === 'object' ? `an object (${(r as object).constructor?.name ?? 'no prototype'})` : `${typeof r} ${String(r)}`;
  return new TypeError(`a request hook returned ${what}: it must return undefined, a LocalReply or a Promise of one`);
}

/** Runs a phase whose hooks return nothing; synchronous unless a hook returns a Promise. */
export function runVoidPhase(handlers: readonly PluginHandler[], phase: 'upstreamRequest' | 'responseHeaders', ctx: PluginContext): void | Promise<void> {
  for (let i = 0; i < handlers.length; i++) {
    const r = handlers[i]![phase]!(ctx);
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') return finishVoidPhase(handlers, phase, i, r as Promise<void>, ctx);
  }
}

async function finishVoidPhase(handlers: readonly PluginHandler[], phase: 'upstreamRequest' | 'responseHeaders', at: number, pending: Promise<void>, ctx: PluginContext): Promise<void> {
  await pending;
  for (let i = at + 1; i < handlers.length; i++) await handlers[i]![phase]!(ctx);
}
