// Chooses the route for a request. Host classes are tried from most to least specific:
// the exact host, then wildcard hosts from the longest suffix down (at each suffix, the
// wildcards that cover one label before those that cover more), then routes without
// hosts; inside a class the RouteTable's order holds (docs/routing.md). Generic over the
// route an entry carries: the router reads only its RouteRules and hands the entry back.
import { compareInTable, RouteTable, type MatchInput, type RouteRules, type RouterEntry } from './route-table.js';
import { foldCase } from './path-pattern.js';
import { describeQueryMismatch, queryConditionHolds } from './query-match.js';

export interface RouterInput extends MatchInput {
  /** Lower-case host without port and trailing dot. */
  readonly host: string;
}

export interface RouterOptions {
  /**
   * 'reject': `caseVariant` reports a path whose letter case chose another route than a
   * case-insensitive upstream would pick (docs/routing.md). Default 'allow'.
   */
  readonly caseVariants?: 'reject' | 'allow';
  /** Match every route as if it were `case_insensitive`. */
  readonly foldAll?: boolean;
}

export type { RouteRules, RouterEntry };

export class Router<R extends RouteRules = RouteRules> {
  readonly #byHost = new Map<string, RouteTable<RouterEntry<R>>>();
  /** Keyed by the suffix with its leading dot: "*.example.com" -> ".example.com". */
  readonly #byWildcard = new Map<string, RouteTable<RouterEntry<R>>>();
  /** Wildcards of routes with `oneLabelWildcard`, keyed as #byWildcard: tried for the host's first label only. */
  readonly #byOneLabel = new Map<string, RouteTable<RouterEntry<R>>>();
  readonly #hasWildcards: boolean;
  readonly #anyHost: RouteTable<RouterEntry<R>>;
  readonly #hasHostTables: boolean;
  readonly #foldAll: boolean;
  /** The same entries, all case-insensitive; null when letter case cannot change the route. */
  readonly #folded: Router<R> | null;
  /** Every entry in the order a request tries them. */
  readonly ordered: readonly RouterEntry<R>[];

  constructor(entries: readonly RouterEntry<R>[], options: RouterOptions = {}) {
    this.#foldAll = options.foldAll === true;
    this.#anyHost = new RouteTable<RouterEntry<R>>(this.#foldAll);
    for (const e of entries) this.#tableFor(e.host, e.route.oneLabelWildcard === true).add(e);
    for (const t of this.#byHost.values()) t.seal();
    for (const t of this.#byWildcard.values()) t.seal();
    for (const t of this.#byOneLabel.values()) t.seal();
    this.#anyHost.seal();
    this.#hasWildcards = this.#byWildcard.size > 0 || this.#byOneLabel.size > 0;
    this.#hasHostTables = this.#byHost.size > 0 || this.#hasWildcards;
    this.ordered = [...entries].sort(compareEntries);
    const caseMatters = options.caseVariants === 'reject' && !this.#foldAll && entries.some((e) => !e.route.caseInsensitive && hasLetters(e));
    this.#folded = caseMatters ? new Router(entries, { foldAll: true }) : null;
  }

  /**
   * Whether the request's letter case chose `chosen` where a case-insensitive upstream
   * would take the path for another route's (/PRIVATE past a route for /private): such a
   * request is refused. Costs a scan of the path; a second match only for paths with
   * upper-case letters. `q`'s matchLength and params are left as `chosen` set them.
   */
  caseVariant(q: RouterInput, chosen: RouterEntry<R>): boolean {
    if (this.#folded === null || !hasUpperCase(q.path)) return false;
    const matchLength = q.matchLength;
    const params = q.params;
    const other = this.#folded.match(q);
    q.matchLength = matchLength;
    q.params = params;
    return other !== null && other !== chosen && foldKey(other) !== foldKey(chosen);
  }

  /**
   * Whether the path ends in "/" and, read without it, would select another route than
   * `chosen` (an exact or regex route for /x, the request /x/ on an open prefix; with
   * `caseVariants: 'reject'`, also in another letter case): Express (non-strict routing, its
   * default) and Spring MVC before 6 serve /x/ as /x. Such a request is refused. A second
   * match only for paths ending in "/" that a prefix route took.
   */
  slashVariant(q: RouterInput, chosen: RouterEntry<R>): boolean {
    const path = q.path;
    // An exact or regex route that matched the slash itself was written for it ("=/y/").
    if (chosen.pattern.kind !== 'prefix' || path.length < 2 || path.charCodeAt(path.length - 1) !== 47 /* / */) return false;
    const v: RouterInput = { method: q.method, host: q.host, path: path.slice(0, -1), header: (n) => q.header(n), queryParam: (n) => q.queryParam(n), matchLength: 0, params: null, listener: q.listener };
    const other = this.match(v);
    if (other !== null && other !== chosen && foldKey(other) !== foldKey(chosen)) return true;
    return this.caseVariant(v, chosen);
  }

  match(q: RouterInput): RouterEntry<R> | null {
    if (this.#hasHostTables) {
      const t = this.#byHost.get(q.host);
      if (t !== undefined) {
        const e = t.match(q);
        if (e !== null) return e;
      }
      if (this.#hasWildcards) {
        const host = q.host;
        let dot = host.indexOf('.');
        if (dot > 0 && this.#byOneLabel.size > 0) {
          const w = this.#byOneLabel.get(host.slice(dot));
          if (w !== undefined) {
            const e = w.match(q);
            if (e !== null) return e;
          }
        }
        for (; dot !== -1; dot = host.indexOf('.', dot + 1)) {
          const w = this.#byWildcard.get(host.slice(dot));
          if (w !== undefined) {
            const e = w.match(q);
            if (e !== null) return e;
          }
        }
      }
    }
    return this.#anyHost.match(q);
  }

  /** Walks `ordered` one entry at a time, saying why each earlier candidate did not match. */
  explain(q: RouterInput): { tried: Array<{ entry: RouterEntry<R>; reason: string }>; matched: RouterEntry<R> | null } {
    const tried: Array<{ entry: RouterEntry<R>; reason: string }> = [];
    for (const entry of this.ordered) {
      const reason = mismatch(entry, q);
      if (reason === null) return { tried, matched: entry };
      tried.push({ entry, reason });
    }
    return { tried, matched: null };
  }

  #tableFor(host: string | null, oneLabel: boolean): RouteTable<RouterEntry<R>> {
    if (host === null) return this.#anyHost;
    const map = host.startsWith('*.') ? (oneLabel ? this.#byOneLabel : this.#byWildcard) : this.#byHost;
    const key = host.startsWith('*.') ? host.slice(1) : host;
    let t = map.get(key);
    if (!t) map.set(key, (t = new RouteTable<RouterEntry<R>>(this.#foldAll)));
    return t;
  }
}

/**
 * An upper-case ASCII letter outside percent-escapes (whose hex digits are upper case after
 * normalization), or an escaped non-ASCII byte (it may spell a letter with a case: "É").
 */
function hasUpperCase(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */) {
      if (path.charCodeAt(i + 1) >= 56 /* 8 and above: a byte >= 0x80 */) return true;
      i += 2;
    } else if (c >= 65 && c <= 90) return true;
  }
  return false;
}

function hasLetters(e: RouterEntry): boolean {
  return /[A-Za-z]/.test(e.pattern.kind === 'regex' ? e.pattern.text : e.pattern.path);
}

/** Two entries a case-insensitive reading cannot tell apart ("/Private" and "/private"). */
function foldKey(e: RouterEntry): string {
  const p = e.pattern;
  return `${e.host ?? ''}${e.route.oneLabelWildcard === true ? '^1' : ''} ${p.kind} ${p.kind === 'regex' ? p.text.toLowerCase() : foldCase(p.path)}`;
}

function hostRank(e: RouterEntry): number {
  if (e.host === null) return 0;
  // A one-label wildcard covers less than the wildcard of the same suffix, and is tried first.
  return e.host.startsWith('*.') ? e.host.length + (e.route.oneLabelWildcard === true ? 0.5 : 0) : 1_000_000;
}

export function compareEntries(a: RouterEntry, b: RouterEntry): number {
  const ha = a.host ?? '';
  const hb = b.host ?? '';
  return hostRank(b) - hostRank(a) || (ha === hb ? 0 : ha < hb ? -1 : 1) || compareInTable(a, b);
}

/** `oneLabel`: a "*." pattern covers exactly one label ("*.a.com": "x.a.com", not "x.y.a.com"). */
export function hostMatches(pattern: string | null, host: string, oneLabel = false): boolean {
  if (pattern === null) return true;
  if (pattern.startsWith('*.')) {
    const label = host.length - pattern.length + 1;
    return host.endsWith(pattern.slice(1)) && label > 0 && (!oneLabel || host.indexOf('.') === label);
  }
  return host === pattern;
}

function mismatch(e: RouterEntry, q: RouterInput): string | null {
  if (!hostMatches(e.host, q.host, e.route.oneLabelWildcard)) return `host "${q.host}" does not match "${e.host}"${e.route.oneLabelWildcard === true && e.host !== null ? ' (one label)' : ''}`;
  // The path alone: the entry in a table of its own, with its constraints taken off.
  const pathOnly = new RouteTable();
  pathOnly.add({ ...e, route: { ...e.route, methods: null, headers: null, query: null, listeners: null } });
  pathOnly.seal();
  const probe = { method: q.method, path: q.path, header: (n: string) => q.header(n), queryParam: () => undefined, matchLength: 0, params: null };
  if (pathOnly.match(probe) === null) return `path "${q.path}" does not match ${describePattern(e)}`;
  const r = e.route;
  if (r.methods !== null && !r.methods.has(q.method)) return `method ${q.method} is not one of ${[...r.methods].join(', ')}`;
  const listener = q.listener?.name ?? '';
  if (r.listeners != null && !r.listeners.has(listener)) return `listener ${listener === '' ? '(unnamed)' : JSON.stringify(listener)} is not one of ${[...r.listeners].join(', ')}`;
  for (const [name, values] of r.headers ?? []) {
    const v = q.header(name);
    if (v === undefined || !values.includes(v)) {
      return `header ${name} is ${v === undefined ? 'absent' : JSON.stringify(v)}, wants ${values.map((x) => JSON.stringify(x)).join(' or ')}`;
    }
  }
  for (const c of r.query ?? []) {
    const v = q.queryParam(c.name);
    if (!queryConditionHolds(c, v)) return describeQueryMismatch(c, v);
  }
  return null;
}

export function describePattern(e: RouterEntry): string {
  const p = e.pattern;
  if (p.kind === 'regex') return `regex ${p.text.slice(1)}`;
  return p.kind === 'exact' ? `exact path ${p.path}` : `prefix ${p.path}`;
}
