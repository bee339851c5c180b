// Gateway API hostnames: a listener's hostname and a route's hostnames intersect to the
// hosts the route is served for on that listener (GEP-1 "hostnames"). A wildcard `*.a.b`
// matches any name with at least one more label in front of `.a.b`, as Northgate's `*.`
// host patterns do.

/** A DNS name (RFC 1123 labels), optionally `*.`-prefixed, lower-cased; undefined when invalid. */
export function normalizeHostname(h: unknown): string | undefined {
  if (typeof h !== 'string' || h.length === 0 || h.length > 253) return undefined;
  const lower = h.toLowerCase();
  return /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(lower) ? lower : undefined;
}

/** `name` (exact or wildcard) lies within `pattern`'s wildcard: `a.b.c` and `*.b.c` within `*.c`. */
function within(name: string, wildcard: string): boolean {
  const suffix = wildcard.slice(1); // ".c"
  const bare = name.startsWith('*.') ? name.slice(1) : name;
  return bare.endsWith(suffix) && bare.length > suffix.length;
}

/**
 * The hosts a route is served for on a listener: null when any host (neither names one),
 * [] when they do not intersect (the route does not attach to that listener).
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | null {
  if (route.length === 0) return listener === undefined ? null : [listener];
  if (listener === undefined) return [...new Set(route)];
  const out = new Set<string>();
  for (const r of route) {
    if (r === listener) out.add(r);
    else if (listener.startsWith('*.') && within(r, listener)) out.add(r);
    else if (r.startsWith('*.') && within(listener, r)) out.add(listener);
  }
  return [...out];
}
