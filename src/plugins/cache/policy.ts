// HTTP caching rules (RFC 9111) as the cache plugin applies them, as pure functions.

export interface Directives {
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  maxAge: number | undefined;
  sMaxAge: number | undefined;
}

/** Parses Cache-Control; qualified forms (private="x", no-cache="x") count as the whole directive. */
export function parseCacheControl(value: string | undefined): Directives {
  const d: Directives = { noStore: false, noCache: false, private: false, maxAge: undefined, sMaxAge: undefined };
  if (value === undefined) return d;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const arg = eq === -1 ? '' : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name === 'no-store') d.noStore = true;
    else if (name === 'no-cache') d.noCache = true;
    else if (name === 'private') d.private = true;
    else if (name === 'max-age' || name === 's-maxage') {
      // A malformed value makes the response stale (RFC 9111 4.2.1): 0.
      const n = /^[0-9]+$/.test(arg) ? Math.min(Number(arg), 2 ** 31) : 0;
      if (name === 'max-age') d.maxAge ??= n;
      else d.sMaxAge ??= n;
    }
  }
  return d;
}

/**
 * Seconds the response stays fresh in a shared cache: s-maxage, max-age, Expires - Date,
 * else `fallback` (undefined: the upstream gave none).
 */
export function freshnessSeconds(d: Directives, expires: string | undefined, date: string | undefined, fallback: number | undefined): number | undefined {
  if (d.sMaxAge !== undefined) return d.sMaxAge;
  if (d.maxAge !== undefined) return d.maxAge;
  if (expires !== undefined) {
    const e = Date.parse(expires);
    if (Number.isNaN(e)) return 0;
    const base = date === undefined ? Date.now() : Date.parse(date);
    return Math.max(0, Math.floor((e - (Number.isNaN(base) ? Date.now() : base)) / 1000));
  }
  return fallback;
}

/** Lower-case header names of a Vary value; null for "*" (never cached). */
export function varyNames(values: readonly string[]): string[] | null {
  const names = new Set<string>();
  for (const v of values) {
    for (const part of v.split(',')) {
      const n = part.trim().toLowerCase();
      if (n === '') continue;
      if (n === '*') return null;
      names.add(n);
    }
  }
  return [...names].sort();
}

/** If-None-Match against an ETag with the weak comparison (RFC 9110 13.1.2). */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const part of ifNoneMatch.split(',')) {
    const t = part.trim();
    if ((t.startsWith('W/') ? t.slice(2) : t) === bare) return true;
  }
  return false;
}

/** Surrogate-Key tags: space-separated tokens. */
export function surrogateKeys(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value.split(/[ \t]+/).filter((t) => t !== '');
}
