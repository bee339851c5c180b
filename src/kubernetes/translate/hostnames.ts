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
export function within(name: string, wildcard: string): boolean {
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

/**
 * How specific a listener hostname is: no hostname least, then wildcards by the length of
 * their suffix, exact names most. A request goes to the most specific listener of its port
 * whose hostname matches (GEP-1 "listener isolation").
 */
export function specificity(hostname: string | undefined): number {
  if (hostname === undefined) return 0;
  return hostname.startsWith('*.') ? hostname.length : 1_000_000;
}

/** Every request for `name` (exact or wildcard) matches `hostname` (exact or wildcard). */
export function covers(hostname: string, name: string): boolean {
  return name === hostname || (hostname.startsWith('*.') && within(name, hostname));
}

/**
 * The route hosts a listener keeps once the more specific listeners of its port have taken
 * theirs: a host every request of which a more specific listener matches is dropped (its
 * requests go to that listener). A wildcard only partly covered stays: the other listener's
 * catch-all, in a more specific host class, answers the covered part.
 */
export function unclaimedHosts(listener: string | undefined, hosts: readonly string[], others: ReadonlyArray<string | undefined>): string[] {
  const mine = specificity(listener);
  const claimers = others.filter((o): o is string => o !== undefined && o !== listener && specificity(o) > mine);
  if (claimers.length === 0) return [...hosts];
  return hosts.filter((h) => !claimers.some((c) => covers(c, h)));
}
