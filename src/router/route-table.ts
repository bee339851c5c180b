// The routes of one host class (one exact host, one wildcard suffix, or any host).
// Lookup cost does not grow with the number of routes: exact paths are a Map lookup,
// prefix and parameter paths a walk down a segment trie (static child before parameter
// child, deeper before shallower). Only regex routes are tried one by one, in priority
// order, so keep them few.
import { caseInsensitiveVariant, compareSegments, foldCase, regexMatchLength, type PathPattern, type RegexPattern, type Segment } from './path-pattern.js';
import { queryConditionHolds, type QueryCondition } from './query-match.js';

/** What the router reads of a route: its constraints and its place in the order. */
export interface RouteRules {
  /** Declaration index across the whole file, the last tie-breaker. */
  readonly index: number;
  readonly priority: number;
  readonly methods: ReadonlySet<string> | null;
  readonly headers: ReadonlyArray<readonly [name: string, values: readonly string[]]> | null;
  /** Query parameters the request must carry (null: none). */
  readonly query: readonly QueryCondition[] | null;
  /** Literal path segments (and regexes) match in any letter case (docs/routing.md). */
  readonly caseInsensitive: boolean;
  /** The proxy listeners (by name) the route is served on; null or absent: every listener. */
  readonly listeners?: ReadonlySet<string> | null;
  /** Its "*." hosts cover exactly one label (an Ingress's wildcard); absent: one or more (the Gateway API's). */
  readonly oneLabelWildcard?: boolean;
}

/** One (host pattern × path pattern) of a route `R`: what the router indexes, orders and returns. */
export interface RouterEntry<R extends RouteRules = RouteRules> {
  readonly route: R;
  /** "api.example.com", "*.example.com", or null for any host. */
  readonly host: string | null;
  readonly pattern: PathPattern;
}

export interface MatchInput {
  readonly method: string;
  readonly path: string;
  header(name: string): string | undefined;
  /** The first value of a query parameter, decoded; read only when a route has query conditions. */
  queryParam(name: string): string | undefined;
  matchLength: number;
  params: Record<string, string> | null;
  /** The listener the request came in on (its name), read only for routes bound to listeners. */
  readonly listener?: { readonly name?: string | null };
}

class TrieNode<E> {
  statics: Map<string, TrieNode<E>> | null = null;
  /** Literal segments of case-insensitive routes, keyed in lower case; tried after `statics`. */
  folded: Map<string, TrieNode<E>> | null = null;
  param: TrieNode<E> | null = null;
  prefix: E[] | null = null;
  exact: E[] | null = null;
}

/**
 * Most specific first among entries with the same path: more method and header constraints,
 * then more query conditions (the Gateway API's order), then priority, then file order.
 */
export function compareConstraints(a: RouterEntry, b: RouterEntry): number {
  return (
    constraintCount(b) - constraintCount(a) ||
    (b.route.query?.length ?? 0) - (a.route.query?.length ?? 0) ||
    b.route.priority - a.route.priority ||
    a.route.index - b.route.index
  );
}

function constraintCount(e: RouterEntry): number {
  return (e.route.methods ? 1 : 0) + (e.route.headers ? e.route.headers.length : 0);
}

export function constraintsMatch(e: RouterEntry, q: MatchInput): boolean {
  const r = e.route;
  if (r.methods !== null && !r.methods.has(q.method)) return false;
  const bound = r.listeners;
  if (bound != null && !bound.has(q.listener?.name ?? '')) return false;
  if (r.headers !== null) {
    for (const [name, values] of r.headers) {
      const v = q.header(name);
      if (v === undefined || !values.includes(v)) return false;
    }
  }
  if (r.query !== null) {
    for (const c of r.query) if (!queryConditionHolds(c, q.queryParam(c.name))) return false;
  }
  return true;
}

export class RouteTable<E extends RouterEntry = RouterEntry> {
  readonly #exact = new Map<string, E[]>();
  /** Exact paths of case-insensitive routes, in lower case; null until there is one. */
  #exactFolded: Map<string, E[]> | null = null;
  readonly #regex: E[] = [];
  /** The pattern each regex entry is tried with (its `i` variant for case-insensitive routes). */
  readonly #regexPatterns: RegexPattern[] = [];
  readonly #root = new TrieNode<E>();
  readonly #foldAll: boolean;
  #hasExactParams = false;

  /** `foldAll`: every route as if it were `case_insensitive` (what a case-insensitive upstream would pick). */
  constructor(foldAll = false) {
    this.#foldAll = foldAll;
  }

  add(e: E): void {
    const p = e.pattern;
    const fold = this.#foldAll || e.route.caseInsensitive;
    if (p.kind === 'regex') {
      this.#regex.push(e);
    } else if (p.kind === 'exact' && !p.hasParams) {
      const map = fold ? (this.#exactFolded ??= new Map()) : this.#exact;
      const key = fold ? foldCase(p.path) : p.path;
      let list = map.get(key);
      if (!list) map.set(key, (list = []));
      list.push(e);
    } else {
      const node = this.#insert(p.segments, fold);
      if (p.kind === 'exact') {
        (node.exact ??= []).push(e);
        this.#hasExactParams = true;
      } else {
        (node.prefix ??= []).push(e);
      }
    }
  }

  /** Sorts every candidate list once, after all entries are added. */
  seal(): void {
    for (const list of this.#exact.values()) list.sort(compareConstraints);
    if (this.#exactFolded !== null) for (const list of this.#exactFolded.values()) list.sort(compareConstraints);
    this.#regex.sort((a, b) => b.route.priority - a.route.priority || compareConstraints(a, b));
    for (const e of this.#regex) {
      const p = e.pattern as RegexPattern;
      this.#regexPatterns.push(this.#foldAll || e.route.caseInsensitive ? caseInsensitiveVariant(p) : p);
    }
    const stack = [this.#root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      n.prefix?.sort(compareConstraints);
      n.exact?.sort(compareConstraints);
      if (n.statics) for (const c of n.statics.values()) stack.push(c);
      if (n.folded) for (const c of n.folded.values()) stack.push(c);
      if (n.param) stack.push(n.param);
    }
  }

  match(q: MatchInput): E | null {
    const path = q.path;
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      for (let i = 0; i < exact.length; i++) {
        if (constraintsMatch(exact[i]!, q)) {
          q.matchLength = path.length;
          return exact[i]!;
        }
      }
    }
    if (this.#exactFolded !== null) {
      const folded = this.#exactFolded.get(foldCase(path));
      if (folded !== undefined) {
        for (let i = 0; i < folded.length; i++) {
          if (constraintsMatch(folded[i]!, q)) {
            q.matchLength = path.length;
            return folded[i]!;
          }
        }
      }
    }
    if (this.#hasExactParams) {
      const e = this.#walk(this.#root, path, 0, q, true);
      if (e !== null) return e;
    }
    for (let i = 0; i < this.#regex.length; i++) {
      const e = this.#regex[i]!;
      const p = this.#regexPatterns[i]!;
      const length = regexMatchLength(p, path);
      if (length >= 0 && constraintsMatch(e, q)) {
        q.matchLength = length;
        if (p.named) {
          const groups = p.regex.exec(path)?.groups;
          if (groups !== undefined) q.params = { ...groups } as Record<string, string>;
        }
        return e;
      }
    }
    return this.#walk(this.#root, path, 0, q, false);
  }

  #insert(segments: readonly Segment[], fold: boolean): TrieNode<E> {
    let node = this.#root;
    for (const s of segments) {
      if (s.kind === 'static') {
        const statics = fold ? (node.folded ??= new Map()) : (node.statics ??= new Map());
        const key = fold ? foldCase(s.value) : s.value;
        let child = statics.get(key);
        if (!child) statics.set(key, (child = new TrieNode<E>()));
        node = child;
      } else {
        node = node.param ??= new TrieNode<E>();
      }
    }
    return node;
  }

  /**
   * Depth-first walk. `pos` is the index of the '/' that starts the next segment (or
   * path.length when the path is consumed). Static child first, then parameter child,
   * then this node's own entries.
   */
  #walk(node: TrieNode<E>, path: string, pos: number, q: MatchInput, exact: boolean): E | null {
    if (pos < path.length) {
      let end = path.indexOf('/', pos + 1);
      if (end === -1) end = path.length;
      if (node.statics !== null) {
        const child = node.statics.get(path.slice(pos + 1, end));
        if (child !== undefined) {
          const e = this.#walk(child, path, end, q, exact);
          if (e !== null) return e;
        }
      }
      if (node.folded !== null) {
        const child = node.folded.get(foldCase(path.slice(pos + 1, end)));
        if (child !== undefined) {
          const e = this.#walk(child, path, end, q, exact);
          if (e !== null) return e;
        }
      }
      if (node.param !== null && end > pos + 1) {
        const e = this.#walk(node.param, path, end, q, exact);
        if (e !== null) return e;
      }
    }
    const list = exact ? (pos === path.length ? node.exact : null) : node.prefix;
    if (list !== null) {
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        if (constraintsMatch(e, q)) {
          q.matchLength = pos;
          if (e.pattern.kind !== 'regex' && e.pattern.hasParams) q.params = extractParams(e.pattern.segments, path);
          return e;
        }
      }
    }
    return null;
  }
}

/** Only for routes with parameters, after the match: reads each ":name" segment's value. */
function extractParams(segments: readonly Segment[], path: string): Record<string, string> {
  const params: Record<string, string> = {};
  let pos = 0;
  for (const s of segments) {
    let end = path.indexOf('/', pos + 1);
    if (end === -1) end = path.length;
    if (s.kind === 'param') params[s.name] = path.slice(pos + 1, end);
    pos = end;
  }
  return params;
}

/** The order the table tries entries of one host class in (used by explain and `routes`). */
export function compareInTable(a: RouterEntry, b: RouterEntry): number {
  const ka = kindRank(a);
  const kb = kindRank(b);
  if (ka !== kb) return ka - kb;
  const pa = a.pattern;
  const pb = b.pattern;
  if (pa.kind === 'regex' && pb.kind === 'regex') return b.route.priority - a.route.priority || compareConstraints(a, b);
  if (pa.kind !== 'regex' && pb.kind !== 'regex') return compareSegments(pa.segments, pb.segments, a.route.caseInsensitive, b.route.caseInsensitive) || compareConstraints(a, b);
  return 0;
}

function kindRank(e: RouterEntry): number {
  const p = e.pattern;
  if (p.kind === 'exact') return p.hasParams ? 1 : 0;
  return p.kind === 'regex' ? 2 : 3;
}
