// Route path syntax:
//   "/api/orders"        prefix, on segment boundaries (/api/orders, /api/orders/7; not /api/ordersX)
//   "=/health"           exact
//   "/orders/:id/items"  ":name" matches one segment; works in prefix and exact paths
//   "~^/v[0-9]+/orders$" regular expression on the path (named groups become params), on RE2

import { compileConfigRegex, type ConfigRegex } from '../base/regex.js';

export type Segment = { readonly kind: 'static'; readonly value: string } | { readonly kind: 'param'; readonly name: string };

export type PathPattern =
  | { readonly kind: 'exact'; readonly text: string; readonly path: string; readonly segments: readonly Segment[]; readonly hasParams: boolean }
  | { readonly kind: 'prefix'; readonly text: string; readonly path: string; readonly segments: readonly Segment[]; readonly hasParams: boolean }
  | RegexPattern;

export interface RegexPattern {
  readonly kind: 'regex';
  readonly text: string;
  /** On RE2 (src/base/regex.ts): linear time in the path's length. */
  readonly regex: ConfigRegex;
  /** The same pattern anchored where it is tried (RE2's sticky flag): its lastIndex after a match is the match's end. */
  readonly sticky: ConfigRegex;
  /** Whether the pattern has named groups (only then is a result object built). */
  readonly named: boolean;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Characters allowed in a literal segment: RFC 3986 pchar without '%' escapes other than %XX.
const SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*$/;

// Validation and compilation both parse every path, and a reload parses the same paths
// again: results (immutable) are memoized, with a cap so the memo cannot grow unbounded.
const memo = new Map<string, PathPattern | string>();
const MEMO_CAP = 200_000;

/** Parses a path spec; returns an error message instead when it is malformed. */
export function parsePathPattern(text: string): PathPattern | string {
  let parsed = memo.get(text);
  if (parsed === undefined) {
    if (memo.size >= MEMO_CAP) memo.clear();
    parsed = parseUncached(text);
    memo.set(text, parsed);
  }
  return parsed;
}

function parseUncached(text: string): PathPattern | string {
  if (text.startsWith('~')) {
    const regex = compileConfigRegex(text.slice(1));
    if (typeof regex === 'string') return regex;
    const sticky = compileConfigRegex(text.slice(1), 'y') as ConfigRegex;
    return { kind: 'regex', text, regex, sticky, named: /\(\?<[A-Za-z_]/.test(text) };
  }
  const exact = text.startsWith('=');
  let path = exact ? text.slice(1) : text;
  if (!path.startsWith('/')) return 'must start with "/" (or "=/" for an exact path, "~" for a regex)';
  if (path.includes('?') || path.includes('#')) return 'must not contain "?" or "#"';
  if (path.includes('//')) return 'must not contain "//"';
  // A prefix "/api/" means the same as "/api": prefixes match on segment boundaries.
  if (!exact && path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const segments: Segment[] = [];
  if (path !== '/') {
    const parts = path.slice(1).split('/');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part.startsWith(':')) {
        const name = part.slice(1);
        if (!PARAM_NAME.test(name)) return `invalid parameter name "${part}"`;
        segments.push({ kind: 'param', name });
      } else {
        if (part === '.' || part === '..') return 'must not contain "." or ".." segments';
        if (!SEGMENT.test(part)) return `invalid character in segment "${part}"`;
        if (part === '' && !(exact && i === parts.length - 1)) return 'must not contain empty segments';
        segments.push({ kind: 'static', value: part });
      }
    }
  }
  const hasParams = segments.some((s) => s.kind === 'param');
  return { kind: exact ? 'exact' : 'prefix', text, path, segments, hasParams };
}

const NON_ASCII_ESCAPES = /(?:%[89A-Fa-f][0-9A-Fa-f])+/g;
const utf8 = new TextDecoder('utf-8');

/**
 * A normalized path (or route literal) in lower case, as a case-insensitive upstream reads
 * it: ASCII letters, and the letters of percent-escaped UTF-8 (`%C3%89` "É" → `%C3%A9` "é";
 * ASP.NET and Java fold those too). Escapes of ASCII bytes keep their hex as written.
 */
export function foldCase(path: string): string {
  if (!path.includes('%')) return path.toLowerCase();
  let out = '';
  let last = 0;
  for (const m of path.matchAll(NON_ASCII_ESCAPES)) {
    out += path.slice(last, m.index).toLowerCase() + foldEscapes(m[0]);
    last = m.index + m[0].length;
  }
  return out + path.slice(last).toLowerCase();
}

function foldEscapes(run: string): string {
  const bytes = new Uint8Array(run.length / 3);
  for (let k = 0; k < bytes.length; k++) bytes[k] = Number.parseInt(run.slice(k * 3 + 1, k * 3 + 3), 16);
  let out = '';
  for (const b of Buffer.from(utf8.decode(bytes).toLowerCase(), 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

const caseInsensitive = new WeakMap<RegexPattern, RegexPattern>();

/** The pattern with RE2's `i` flag, for case-insensitive routes (built once per pattern). */
export function caseInsensitiveVariant(p: RegexPattern): RegexPattern {
  let v = caseInsensitive.get(p);
  if (v === undefined) {
    const source = p.text.slice(1);
    v = { ...p, regex: compileConfigRegex(source, 'i') as ConfigRegex, sticky: compileConfigRegex(source, 'iy') as ConfigRegex };
    caseInsensitive.set(p, v);
  }
  return v;
}

/**
 * The length of the pattern's leftmost match when it starts the path, 0 when it starts
 * later, -1 without a match. RE2's exec builds its result object in C++ at several µs a
 * call; search plus a sticky test cost a fraction of that, and exec runs only for named groups.
 */
export function regexMatchLength(p: RegexPattern, path: string): number {
  const at = p.regex.search(path);
  if (at !== 0) return at < 0 ? -1 : 0;
  // The leftmost match starts at 0, so it is the sticky match at 0.
  const s = p.sticky;
  s.lastIndex = 0;
  s.test(path);
  return s.lastIndex;
}

/**
 * Order of two segment lists as the trie walks them: at the first difference a static
 * segment comes before a parameter (a literal-case static before a case-insensitive one,
 * `aFold`/`bFold`), and a longer pattern before its own prefix.
 */
export function compareSegments(a: readonly Segment[], b: readonly Segment[], aFold = false, bFold = false): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const rx = x.kind === 'param' ? 2 : aFold ? 1 : 0;
    const ry = y.kind === 'param' ? 2 : bFold ? 1 : 0;
    if (rx !== ry) return rx - ry;
    if (x.kind === 'static' && y.kind === 'static') {
      const vx = aFold ? foldCase(x.value) : x.value;
      const vy = bFold ? foldCase(y.value) : y.value;
      if (vx !== vy) return vx < vy ? -1 : 1;
    }
  }
  return b.length - a.length;
}
