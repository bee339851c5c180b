// Which operation of a service's document a request is: the method and the path (less the
// document's gateway prefix), concrete paths before templated ones, and among templated
// ones those with more literal text first (OpenAPI's rule). Built once per document per
// snapshot; templates are matched on RE2 (a path template is text from the document).
import { compileConfigRegex, type ConfigRegex } from '../../base/regex.js';
import type { OpenApiContract, OpenApiObject, OpenApiOperation } from '../../sdk/openapi.js';

export interface MatchedOperation {
  readonly operation: OpenApiOperation;
  /** Path parameters by name, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

interface Template {
  readonly regex: ConfigRegex;
  readonly names: readonly string[];
  readonly literal: number;
  readonly byMethod: Map<string, OpenApiOperation>;
}

export class OperationIndex {
  readonly #prefix: string;
  readonly #exact = new Map<string, Map<string, OpenApiOperation>>();
  readonly #templates: Template[] = [];

  constructor(contract: OpenApiContract) {
    this.#prefix = contract.prefix;
    const templates = new Map<string, Template>();
    for (const op of contract.operations) {
      if (!op.path.includes('{')) {
        let byMethod = this.#exact.get(op.path);
        if (byMethod === undefined) this.#exact.set(op.path, (byMethod = new Map()));
        byMethod.set(op.method, op);
        continue;
      }
      let t = templates.get(op.path);
      if (t === undefined) {
        const names: string[] = [];
        const source = op.path.split(/(\{[^{}]*\})/).map((part) => (/^\{[^{}]*\}$/.test(part) ? (names.push(part.slice(1, -1)), '([^/]+)') : escapeRegex(part))).join('');
        const regex = compileConfigRegex(`^${source}$`);
        if (typeof regex === 'string') continue;
        t = { regex, names, literal: op.path.replace(/\{[^{}]*\}/g, '').length, byMethod: new Map() };
        templates.set(op.path, t);
      }
      t.byMethod.set(op.method, op);
    }
    this.#templates = [...templates.values()].sort((a, b) => b.literal - a.literal);
  }

  /** The operation of `method` on `path`, or null when the document has none. */
  match(method: string, requestPath: string): MatchedOperation | null {
    let path = requestPath;
    if (this.#prefix !== '') {
      if (path === this.#prefix) path = '/';
      else if (path.startsWith(this.#prefix) && path.charCodeAt(this.#prefix.length) === 47) path = path.slice(this.#prefix.length);
      else return null;
    }
    const lookup = method === 'HEAD' ? ['HEAD', 'GET'] : [method];
    const exact = this.#exact.get(path);
    if (exact !== undefined) {
      for (const m of lookup) {
        const op = exact.get(m);
        if (op !== undefined) return { operation: op, params: {} };
      }
    }
    for (const t of this.#templates) {
      const found = lookup.map((m) => t.byMethod.get(m)).find((op) => op !== undefined);
      if (found === undefined) continue;
      const m = t.regex.exec(path);
      if (m === null) continue;
      const params: Record<string, string> = Object.create(null) as Record<string, string>;
      let ok = true;
      t.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(m[i + 1]!);
        } catch {
          ok = false;
        }
      });
      if (ok) return { operation: found, params };
    }
    return null;
  }
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
