// Where a request goes on a route with weighted backends or session persistence: the target a
// valid session value names while it is available, else the next backend by weight and a
// target of it from its balancer. A route with neither never comes here (forward.ts asks its
// balancer directly). The chosen backend's route (its service: upstream, timeouts, retries)
// becomes the request's route, so retries stay on that backend.
import type { HeaderList } from '../sdk/header-list.js';
import type { HeaderEdits } from '../upstream/backends.js';
import type { Target } from '../upstream/target.js';
import type { RequestContext } from './context.js';
import type { CompiledRoute, RouteBackend } from './route.js';
import { cookieLine, issueValue, readPin, targetId, type SessionPin } from './session.js';

/** The detail of the 500 for a route whose backends all have weight 0. */
export const NO_BACKEND_DETAIL = 'every backend of the route has weight 0';
/** The detail of the 500 for a request whose share went to an invalid backend. */
export const INVALID_BACKEND_DETAIL = 'the backend chosen for this request is not valid';

/** The detail of the `no-backend` 500 when chooseTarget gave null on a route with backends. */
export function noBackendDetail(ctx: RequestContext): string {
  return ctx.backend?.invalid === true ? INVALID_BACKEND_DETAIL : NO_BACKEND_DETAIL;
}

/**
 * The target for this request, or null: no target available, or (ctx.route still has
 * backends) every weight is 0 or the chosen backend is invalid (ctx.backend names it).
 */
export function chooseTarget(ctx: RequestContext): Target | null {
  const now = Date.now();
  const route = ctx.route!;
  const session = route.session;
  if (session !== null) {
    const pin = readPin(session, ctx.header(session.type === 'cookie' ? 'cookie' : session.name), now);
    const pinned = pin === null ? null : pinnedTarget(ctx, route, pin, now);
    if (pinned !== null) return (ctx.sessionTarget = pinned);
  }
  const backends = route.backends;
  if (backends !== null) {
    const b = backends.pick(now);
    if (b === null) return null;
    if (b.invalid === true) {
      // ctx.route keeps its backends: the caller answers no-backend.
      ctx.backend = b;
      return null;
    }
    useBackend(ctx, b);
  }
  return ctx.route!.service.upstream.balancer.pick(now, null, ctx);
}

/** The target a session names, when its backend is still on the route with a weight and the target is available. */
function pinnedTarget(ctx: RequestContext, route: CompiledRoute, pin: SessionPin, now: number): Target | null {
  let backend: RouteBackend | null = null;
  if (route.backends !== null) {
    backend = route.backends.byId(pin.backend);
    if (backend === null) return null;
  } else if (pin.backend !== '-') {
    return null;
  }
  const targets = (backend === null ? route.service : backend.service).upstream.targets;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (targetId(t) !== pin.target) continue;
    if (!t.health.available(now)) return null;
    if (backend !== null) useBackend(ctx, backend);
    return t;
  }
  return null;
}

function useBackend(ctx: RequestContext, b: RouteBackend): void {
  ctx.backend = b;
  ctx.route = b.route;
}

/** The chosen backend's request-header edits, after the plugins' (the Gateway API's order: route filters, then backend filters). */
export function editBackendHeaders(ctx: RequestContext): void {
  const edits = ctx.backend?.requestHeaders;
  if (edits !== null && edits !== undefined) applyEdits(ctx.upstreamHeaders, edits);
}

function applyEdits(list: HeaderList, e: HeaderEdits): void {
  for (const name of e.remove) list.remove(name);
  for (const [name, value] of e.set) list.set(name, value);
  for (const [name, value] of e.add) list.append(name, value);
}

/**
 * On a route with session persistence, a response from another target than the one the
 * client's value named (a fresh choice, or a retry that moved on) carries a new value.
 */
export function addSessionHeader(ctx: RequestContext, out: string[]): void {
  const s = ctx.route!.session;
  if (s === null || ctx.target === ctx.sessionTarget || ctx.target === null) return;
  const value = issueValue(s, ctx.backend?.id ?? '-', ctx.target, Date.now());
  if (s.type === 'cookie') out.push('set-cookie', cookieLine(s, value, ctx.listener.protocol === 'https'));
  else out.push(s.name, value);
}
