// A request's parameters as an operation declares them: each read from where its `in`
// says, split the way its style says (form for the query, simple for path and headers),
// then checked by the operation's compiled schema. Every problem is reported, with a
// pointer into the request: /path/NAME, /query/NAME, /header/NAME, /cookie/NAME.
import type { PluginContext } from '../../sdk/context.js';
import type { OpenApiObject, OpenApiOperation, SchemaCheck, SchemaIssue } from '../../sdk/openapi.js';
import { derefIn } from './operation-index.js';

/** Headers OpenAPI says a parameter does not describe: the gateway and the body own them. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);

/** The query string (without "?") as name → values, decoded as a form ("+" is a space). */
export function parseQuery(query: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (query.length <= 1) return out;
  for (const pair of query.slice(1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeForm(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeForm(pair.slice(eq + 1));
    if (name === null || value === null) continue;
    const list = out.get(name);
    if (list === undefined) out.set(name, [value]);
    else list.push(value);
  }
  return out;
}

function decodeForm(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

function isArraySchema(doc: OpenApiObject, p: OpenApiObject): boolean {
  const type = derefIn(doc, p['schema'])?.['type'];
  return type === 'array' || (Array.isArray(type) && type.includes('array'));
}

/** A parameter as the checks need it, worked out once per operation (at create). */
export interface ParameterPlan {
  readonly name: string;
  /** Lower case, for headers. */
  readonly lowerName: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly array: boolean;
  readonly explode: boolean;
  readonly required: boolean;
  /** Where a problem is reported: /path/NAME, /query/NAME… */
  readonly pointer: string;
  readonly check: SchemaCheck | null;
}

/** The parameters of `op` that the checks read (ignored headers and unknown locations left out). */
export function planParameters(doc: OpenApiObject, op: OpenApiOperation): ParameterPlan[] {
  const out: ParameterPlan[] = [];
  op.parameters.forEach((p, i) => {
    const name = String(p['name']);
    const where = String(p['in']);
    if (where !== 'path' && where !== 'query' && where !== 'header' && where !== 'cookie') return;
    if (where === 'header' && IGNORED_HEADERS.has(name.toLowerCase())) return;
    out.push({
      name,
      lowerName: name.toLowerCase(),
      in: where,
      array: isArraySchema(doc, p),
      explode: p['explode'] !== false,
      required: p['required'] === true || where === 'path',
      pointer: `/${where}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      check: op.validators.parameters[i] ?? null,
    });
  });
  return out;
}

/**
 * Every problem of the request's parameters, with path parameters from the match, added to
 * `out` (created on the first problem): null when there is none.
 */
export function checkParameters(ctx: PluginContext, plans: readonly ParameterPlan[], pathParams: Readonly<Record<string, string>>, out: SchemaIssue[] | null): SchemaIssue[] | null {
  let query: Map<string, string[]> | null = null;
  let cookies: Map<string, string> | null = null;
  for (const p of plans) {
    let raw: string | string[] | undefined;
    switch (p.in) {
      case 'path':
        raw = pathParams[p.name];
        if (raw !== undefined && p.array) raw = raw.split(',');
        break;
      case 'query': {
        query ??= parseQuery(ctx.query);
        const values = query.get(p.name);
        if (values !== undefined) raw = p.array && !p.explode ? values.join(',').split(',') : values.length === 1 ? values[0]! : values;
        break;
      }
      case 'header':
        raw = ctx.header(p.lowerName);
        if (raw !== undefined && p.array) raw = raw.split(',').map((v) => v.trim());
        break;
      case 'cookie':
        cookies ??= parseCookies(ctx.header('cookie'));
        raw = cookies.get(p.name);
        if (raw !== undefined && p.array) raw = raw.split(',');
        break;
    }
    if (raw === undefined) {
      if (p.required) (out ??= []).push({ pointer: p.pointer, message: 'is required' });
      continue;
    }
    if (p.check === null) continue;
    const issues = p.check(raw);
    if (issues !== null) for (const issue of issues) (out ??= []).push({ pointer: p.pointer + issue.pointer, message: issue.message });
  }
  return out;
}
