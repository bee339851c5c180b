// Which operation of a service's document a request is: the method and the path (less the
// document's gateway prefix), concrete paths before templated ones, and among templated
// ones those with more literal text first (OpenAPI's rule). Built once per document per
// snapshot; a template with a parameter inside a segment is matched on RE2 (a path
// template is text from the document).
import { compileConfigRegex, type ConfigRegex } from '../../base/regex.js';
import type { OpenApiContract, OpenApiObject, OpenApiOperation } from '../../sdk/openapi.js';

export interface MatchedOperation {
  readonly operation: OpenApiOperation;
  /** The operation's position in the contract's `operations` (for what a plugin precomputes per operation). */
  readonly index: number;
  /** Path parameters by name, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

interface Template {
  /**
   * Per path segment: its literal text, or null for a parameter that is the whole segment.
   * Null when a parameter shares a segment with text ("/files/{name}.json"): then `regex`.
   */
  readonly segments: readonly (string | null)[] | null;
  readonly regex: ConfigRegex | null;
  readonly names: readonly string[];
  readonly literal: number;
  readonly byMethod: Map<string, number>;
}

const NOT_FOUND = -1;

/**
 * Matching costs no regex for the usual template, whose parameters are whole segments
 * ("/orders/{id}"): the path is walked segment by segment in place (no split, no slice of
 * the prefix). Only a template with a parameter inside a segment runs its (RE2) regex.
 * `find` allocates nothing: the mock needs the operation only, and the request validator
 * asks for the path parameters (`paramsOf`) only for an operation that declares some.
 */
export class OperationIndex {
  readonly #prefix: string;
  readonly #operations: readonly OpenApiOperation[];
  /** Gateway path (prefix included) → method → operation index, built once. */
  readonly #exact = new Map<string, Map<string, number>>();
  readonly #templates: Template[] = [];
  /** Per operation: its template (null for a concrete path). */
  readonly #templateOf: (Template | null)[];

  constructor(contract: OpenApiContract) {
    const prefix = contract.prefix;
    this.#prefix = prefix;
    this.#operations = contract.operations;
    this.#templateOf = contract.operations.map(() => null);
    const templates = new Map<string, Template>();
    contract.operations.forEach((op, index) => {
      if (!op.path.includes('{')) {
        // The prefix alone is the document's "/" (as "/api" is "/api/").
        const keys = prefix !== '' && op.path === '/' ? [prefix + '/', prefix] : [prefix + op.path];
        for (const key of keys) {
          let byMethod = this.#exact.get(key);
          if (byMethod === undefined) this.#exact.set(key, (byMethod = new Map()));
          byMethod.set(op.method, index);
        }
        return;
      }
      let t = templates.get(op.path);
      if (t === undefined) {
        const built = compileTemplate(op.path);
        if (built === null) return;
        templates.set(op.path, (t = built));
      }
      t.byMethod.set(op.method, index);
      this.#templateOf[index] = t;
    });
    this.#templates = [...templates.values()].sort((a, b) => b.literal - a.literal);
  }

  /** The operation of `method` on `path`, or null when the document has none (HEAD falls back to GET). */
  match(method: string, requestPath: string): MatchedOperation | null {
    const index = this.find(method, requestPath);
    if (index === NOT_FOUND) return null;
    return { operation: this.#operations[index]!, index, params: this.paramsOf(index, requestPath) };
  }

  /** The position of the operation of `method` on `path` among the contract's operations, or -1 (HEAD falls back to GET). */
  find(method: string, path: string): number {
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      const found = exact.get(method) ?? (method === 'HEAD' ? exact.get('GET') : undefined);
      if (found !== undefined) return found;
    }
    const templates = this.#templates;
    if (templates.length === 0) return NOT_FOUND;
    const start = this.#start(path);
    // The prefix alone is "/", which no template matches (a parameter is never empty).
    if (start < 0 || start === path.length) return NOT_FOUND;
    for (let i = 0; i < templates.length; i++) {
      const t = templates[i]!;
      const found = t.byMethod.get(method) ?? (method === 'HEAD' ? t.byMethod.get('GET') : undefined);
      if (found === undefined) continue;
      if (t.segments !== null ? segmentsMatch(t.segments, path, start) : regexValues(t, path, start) !== null) return found;
    }
    return NOT_FOUND;
  }

  /** The path parameters of operation `index` (as `find` returned it for `path`) by name, percent-decoded. */
  paramsOf(index: number, path: string): Readonly<Record<string, string>> {
    const t = this.#templateOf[index];
    if (t === null || t === undefined) return NO_PARAMS;
    const start = this.#start(path);
    const values = t.segments !== null ? segmentValues(t.segments, path, start) : regexValues(t, path, start);
    return (values !== null ? decodeParams(t.names, values) : null) ?? NO_PARAMS;
  }

  /** Where the document's path starts in `path`: after the prefix, on a segment boundary; -1 when the prefix is not there. */
  #start(path: string): number {
    const prefix = this.#prefix;
    if (prefix === '') return 0;
    if (!path.startsWith(prefix)) return -1;
    if (path.length === prefix.length) return path.length;
    return path.charCodeAt(prefix.length) === 47 ? prefix.length : -1;
  }
}

function compileTemplate(path: string): Template | null {
  const names: string[] = [];
  const literal = path.replace(/\{[^{}]*\}/g, '').length;
  const parts = path.split('/');
  if (parts.every((part) => !part.includes('{') || /^\{[^{}]*\}$/.test(part))) {
    const segments = parts.map((part) => (part.startsWith('{') ? (names.push(part.slice(1, -1)), null) : part));
    return { segments, regex: null, names, literal, byMethod: new Map() };
  }
  const source = path.split(/(\{[^{}]*\})/).map((part) => (/^\{[^{}]*\}$/.test(part) ? (names.push(part.slice(1, -1)), '([^/]+)') : escapeRegex(part))).join('');
  const regex = compileConfigRegex(`^${source}$`);
  if (typeof regex === 'string') return null;
  return { segments: null, regex, names, literal, byMethod: new Map() };
}

/**
 * Whether `path` from `start` is the template's segments: literal text equal, a parameter
 * not empty (as "([^/]+)" would not be) and valid percent-encoding where it has a "%".
 */
function segmentsMatch(segments: readonly (string | null)[], path: string, start: number): boolean {
  // The first segment is the text before the leading "/": empty for every path template.
  if (segments[0] !== '' || path.charCodeAt(start) !== 47) return false;
  const last = segments.length - 1;
  let pos = start + 1;
  for (let i = 1; i <= last; i++) {
    let end = path.indexOf('/', pos);
    if (end < 0) end = path.length;
    // The last segment runs to the end of the path, the others end at a "/".
    if ((end === path.length) !== (i === last)) return false;
    const want = segments[i];
    if (want === null || want === undefined) {
      if (end === pos) return false;
      const pct = path.indexOf('%', pos);
      if (pct >= 0 && pct < end && decoded(path.slice(pos, end)) === null) return false;
    } else if (want.length !== end - pos || !path.startsWith(want, pos)) return false;
    pos = end + 1;
  }
  return true;
}

/** The raw values of a template's whole-segment parameters in `path` from `start`, or null when it does not match. */
function segmentValues(segments: readonly (string | null)[], path: string, start: number): string[] | null {
  if (!segmentsMatch(segments, path, start)) return null;
  const parts = path.slice(start).split('/');
  const values: string[] = [];
  for (let i = 0; i < segments.length; i++) if (segments[i] === null) values.push(parts[i]!);
  return values;
}

/** The raw values of a template's parameters on its RE2 regex, or null when it does not match or one is not valid percent-encoding. */
function regexValues(t: Template, path: string, start: number): string[] | null {
  const m = t.regex!.exec(start === 0 ? path : path.slice(start));
  if (m === null) return null;
  const values = m.slice(1) as string[];
  for (const v of values) if (v.includes('%') && decoded(v) === null) return null;
  return values;
}

function decoded(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** Path parameters by name, percent-decoded; null when one is not valid percent-encoding. */
function decodeParams(names: readonly string[], values: readonly string[]): Record<string, string> | null {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < names.length; i++) {
    const raw = values[i]!;
    if (raw.indexOf('%') < 0) params[names[i]!] = raw;
    else {
      const value = decoded(raw);
      if (value === null) return null;
      params[names[i]!] = value;
    }
  }
  return params;
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

const indexes = new WeakMap<OpenApiContract, OperationIndex>();

/** The index of a contract, built on the first call (at create(), once per snapshot). */
export function operationIndex(contract: OpenApiContract): OperationIndex {
  let index = indexes.get(contract);
  if (index === undefined) indexes.set(contract, (index = new OperationIndex(contract)));
  return index;
}

/** Follows local `$ref`s (bounded) to the object they name in `doc`. */
export function derefIn(doc: OpenApiObject, value: unknown): OpenApiObject | null {
  let cur = value;
  for (let hops = 0; hops < 32; hops++) {
    if (typeof cur !== 'object' || cur === null) return null;
    const ref = (cur as Record<string, unknown>)['$ref'];
    if (typeof ref !== 'string') return cur as OpenApiObject;
    if (!ref.startsWith('#/')) return null;
    cur = doc;
    for (const raw of ref.slice(2).split('/')) {
      const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      cur = typeof cur === 'object' && cur !== null && Object.hasOwn(cur, token) ? (cur as Record<string, unknown>)[token] : undefined;
    }
  }
  return null;
}
