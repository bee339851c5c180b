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
  readonly byMethod: Map<string, { operation: OpenApiOperation; index: number }>;
}

/**
 * Matching costs no regex for the usual template, whose parameters are whole segments
 * ("/orders/{id}"): the path is split once and compared segment by segment. Only a template
 * with a parameter inside a segment runs its (RE2) regex.
 */
export class OperationIndex {
  readonly #prefix: string;
  /** path → method → the match, built once (no allocation per request for concrete paths). */
  readonly #exact = new Map<string, Map<string, MatchedOperation>>();
  readonly #templates: Template[] = [];

  constructor(contract: OpenApiContract) {
    this.#prefix = contract.prefix;
    const templates = new Map<string, Template>();
    contract.operations.forEach((op, index) => {
      if (!op.path.includes('{')) {
        let byMethod = this.#exact.get(op.path);
        if (byMethod === undefined) this.#exact.set(op.path, (byMethod = new Map()));
        byMethod.set(op.method, { operation: op, index, params: NO_PARAMS });
        return;
      }
      let t = templates.get(op.path);
      if (t === undefined) {
        const built = compileTemplate(op.path);
        if (built === null) return;
        templates.set(op.path, (t = built));
      }
      t.byMethod.set(op.method, { operation: op, index });
    });
    this.#templates = [...templates.values()].sort((a, b) => b.literal - a.literal);
  }

  /** The operation of `method` on `path`, or null when the document has none (HEAD falls back to GET). */
  match(method: string, requestPath: string): MatchedOperation | null {
    let path = requestPath;
    if (this.#prefix !== '') {
      if (path === this.#prefix) path = '/';
      else if (path.startsWith(this.#prefix) && path.charCodeAt(this.#prefix.length) === 47) path = path.slice(this.#prefix.length);
      else return null;
    }
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      const found = exact.get(method) ?? (method === 'HEAD' ? exact.get('GET') : undefined);
      if (found !== undefined) return found;
    }
    if (this.#templates.length === 0) return null;
    let parts: string[] | null = null;
    for (const t of this.#templates) {
      const found = t.byMethod.get(method) ?? (method === 'HEAD' ? t.byMethod.get('GET') : undefined);
      if (found === undefined) continue;
      let values: (string | undefined)[];
      if (t.segments !== null) {
        parts ??= path.split('/');
        const got = segmentValues(t.segments, parts);
        if (got === null) continue;
        values = got;
      } else {
        const m = t.regex!.exec(path);
        if (m === null) continue;
        values = m.slice(1);
      }
      const params = decodeParams(t.names, values);
      if (params !== null) return { operation: found.operation, index: found.index, params };
    }
    return null;
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

/** The raw values of a template's parameters in `parts` (the path split on "/"), or null when it does not match. */
function segmentValues(segments: readonly (string | null)[], parts: readonly string[]): string[] | null {
  if (segments.length !== parts.length) return null;
  const values: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const want = segments[i];
    const part = parts[i]!;
    if (want === null) {
      // A parameter is never empty (as "([^/]+)" would not be).
      if (part === '') return null;
      values.push(part);
    } else if (want !== part) return null;
  }
  return values;
}

/** Path parameters by name, percent-decoded; null when one is not valid percent-encoding. */
function decodeParams(names: readonly string[], values: readonly (string | undefined)[]): Record<string, string> | null {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < names.length; i++) {
    const raw = values[i]!;
    if (raw.indexOf('%') < 0) params[names[i]!] = raw;
    else {
      try {
        params[names[i]!] = decodeURIComponent(raw);
      } catch {
        return null;
      }
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
