// Checks of a route's traffic fields (docs/traffic.md): query conditions, weighted backends
// and session persistence. Every problem is located at its field.
import { didYouMean } from '../base/problems.js';
import type { RawConfig, RawHeaderEdits, RawRoute } from '../config/types.js';
import { compileQueryConditions } from '../router/query-match.js';
import { checkRouteTimeouts } from '../upstream/resilience-config.js';

type Add = (path: Array<string | number>, message: string) => void;

/** Names the core owns: an edit would break framing or routing (the headers plugin refuses the same). */
const PROTECTED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive']);

export function checkRouteTraffic(c: RawConfig, r: RawRoute, at: Array<string | number>, add: Add, upstreamNames: ReadonlyMap<string, number>): void {
  for (const [name, value] of Object.entries(r.query ?? {})) {
    const compiled = compileQueryConditions({ [name]: value });
    if (!Array.isArray(compiled)) add([...at, 'query', name], compiled.message);
  }
  (r.backends ?? []).forEach((b, k) => {
    const bat = [...at, 'backends', k];
    if (b.invalid === true) {
      if (b.upstream !== undefined || b.url !== undefined || b.headers !== undefined || b.timeouts !== undefined || b.retries !== undefined) add(bat, 'an invalid backend has only a weight (its requests are answered 500)');
    } else if ((b.upstream === undefined) === (b.url === undefined)) add(bat, 'needs exactly one of "upstream" (a name from upstreams) or "url"');
    else if (b.upstream !== undefined && !upstreamNames.has(b.upstream)) {
      const hint = didYouMean(b.upstream, upstreamNames.keys());
      add([...bat, 'upstream'], `no upstream named "${b.upstream}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    } else if (b.url !== undefined) {
      const msg = checkServiceUrl(b.url);
      if (msg) add([...bat, 'url'], msg);
    }
    checkEdits(b.headers?.request, [...bat, 'headers', 'request'], add);
    checkRouteTimeouts(b, bat, add);
  });
  if (r.session_persistence !== undefined && c.session_persistence === undefined) {
    add([...at, 'session_persistence'], 'needs the signing key: session_persistence: { secret: ${SESSION_SECRET} } at the top level of the config');
  }
}

/** The query part of a route's match key (two routes with the same key match the same requests). */
export function queryKey(r: RawRoute): string {
  return JSON.stringify(Object.entries(r.query ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

/** A service's (or a backend's) URL: a valid URL without query, fragment or credentials. */
export function checkServiceUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `"${text}" is not a valid URL`;
  }
  if (u.search || u.hash) return 'must not have a query or fragment';
  if (u.username || u.password) return 'must not contain credentials';
  return undefined;
}

function checkEdits(e: RawHeaderEdits | undefined, at: Array<string | number>, add: Add): void {
  if (e === undefined) return;
  for (const kind of ['add', 'set'] as const) {
    for (const name of Object.keys(e[kind] ?? {})) {
      if (PROTECTED.has(name.toLowerCase())) add([...at, kind, name], `"${name}" is managed by the gateway and cannot be edited here`);
    }
  }
  (e.remove ?? []).forEach((name, i) => {
    if (PROTECTED.has(name.toLowerCase())) add([...at, 'remove', i], `"${name}" is managed by the gateway and cannot be edited here`);
  });
}
