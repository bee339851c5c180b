// The routes of one host class (one exact host, one wildcard suffix, or any host).
// Lookup cost does not grow with the number of routes: exact paths are a Map lookup,
// prefix and parameter paths a walk down a segment trie (static child before parameter
// child, deeper before shallower). Only regex routes are tried one by one, in priority
// order, so keep them few.
import type { RouteEntry } from '../config/snapshot.js';
import { compareSegments, regexMatchLength, type RegexPattern, type Segment } from './path-pattern.js';

export interface MatchInput {
  readonly method: string;
  readonly path: string;
  header(name: string): string | undefined;
  matchLength: number;
  params: Record<string, string> | null;
}

class TrieNode {
  statics: Map<string, TrieNode> | null = null;
  param: TrieNode | null = null;
  prefix: RouteEntry[] | null = null;
  exact: RouteEntry[] | null = null;
}

/** Most specific first among entries with the same path: more constraints, then priority, then file order. */
export function compareConstraints(a: RouteEntry, b: RouteEntry): number {
  return constraintCount(b) - constraintCount(a) || b.route.priority - a.route.priority || a.route.index - b.route.index;
}

function constraintCount(e: RouteEntry): number {
  return (e.route.methods ? 1 : 0) + (e.route.headers ? e.route.headers.length : 0);
}

export function constraintsMatch(e: RouteEntry, q: MatchInput): boolean {
  const r = e.route;
  if (r.methods !== null && !r.methods.has(q.method)) return false;
  if (r.headers !== null) {
    for (const [name, values] of r.headers) {
      const v = q.header(name);
      if (v === undefined || !values.includes(v)) return false;
    }
  }
  return true;
}

export class RouteTable {
  readonly #exact = new Map<string, RouteEntry[]>();
  readonly #regex: RouteEntry[] = [];
  readonly #root = new TrieNode();
  #hasExactParams = false;

  add(e: RouteEntry): void {
    const p = e.pattern;
    if (p.kind === 'regex') {
      this.#regex.push(e);
    } else if (p.kind === 'exact' && !p.hasParams) {
      let list = this.#exact.get(p.path);
      if (!list) this.#exact.set(p.path, (list = []));
      list.push(e);
    } else {
      const node = this.#insert(p.segments);
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
    this.#regex.sort((a, b) => b.route.priority - a.route.priority || compareConstraints(a, b));
    const stack = [this.#root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      n.prefix?.sort(compareConstraints);
      n.exact?.sort(compareConstraints);
      if (n.statics) for (const c of n.statics.values()) stack.push(c);
      if (n.param) stack.push(n.param);
    }
  }

  match(q: MatchInput): RouteEntry | null {
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
    if (this.#hasExactParams) {
      const e = this.#walk(this.#root, path, 0, q, true);
      if (e !== null) return e;
    }
    for (let i = 0; i < this.#regex.length; i++) {
      const e = this.#regex[i]!;
      const p = e.pattern as RegexPattern;
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

  #insert(segments: readonly Segment[]): TrieNode {
    let node = this.#root;
    for (const s of segments) {
      if (s.kind === 'static') {
        const statics = (node.statics ??= new Map());
        let child = statics.get(s.value);
        if (!child) statics.set(s.value, (child = new TrieNode()));
        node = child;
      } else {
        node = node.param ??= new TrieNode();
      }
    }
    return node;
  }

  /**
   * Depth-first walk. `pos` is the index of the '/' that starts the next segment (or
   * path.length when the path is consumed). Static child first, then parameter child,
   * then this node's own entries.
   */
  #walk(node: TrieNode, path: string, pos: number, q: MatchInput, exact: boolean): RouteEntry | null {
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
export function compareInTable(a: RouteEntry, b: RouteEntry): number {
  const ka = kindRank(a);
  const kb = kindRank(b);
  if (ka !== kb) return ka - kb;
  const pa = a.pattern;
  const pb = b.pattern;
  if (pa.kind === 'regex' && pb.kind === 'regex') return b.route.priority - a.route.priority || compareConstraints(a, b);
  if (pa.kind !== 'regex' && pb.kind !== 'regex') return compareSegments(pa.segments, pb.segments) || compareConstraints(a, b);
  return 0;
}

function kindRank(e: RouteEntry): number {
  const p = e.pattern;
  if (p.kind === 'exact') return p.hasParams ? 1 : 0;
  return p.kind === 'regex' ? 2 : 3;
}
