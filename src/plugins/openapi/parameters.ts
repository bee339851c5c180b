// A request's parameters as an operation declares them: each read from where its `in`
// says, split the way its style says (form for the query, simple for path and headers),
// then checked by the operation's compiled schema. Every problem is reported, with a
// pointer into the request: /path/NAME, /query/NAME, /header/NAME, /cookie/NAME.
import type { PluginContext } from '../../sdk/context.js';
import type { OpenApiObject, OpenApiOperation, SchemaIssue } from '../../sdk/openapi.js';
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

/** Every problem of the request's parameters against `op`, with path parameters from the match. */
export function checkParameters(ctx: PluginContext, doc: OpenApiObject, op: OpenApiOperation, pathParams: Readonly<Record<string, string>>, out: SchemaIssue[]): void {
  let query: Map<string, string[]> | null = null;
  let cookies: Map<string, string> | null = null;
  op.parameters.forEach((p, i) => {
    const name = String(p['name']);
    const where = String(p['in']);
    let raw: string | string[] | undefined;
    const array = isArraySchema(doc, p);
    switch (where) {
      case 'path':
        raw = pathParams[name];
        if (raw !== undefined && array) raw = raw.split(',');
        break;
      case 'query': {
        query ??= parseQuery(ctx.query);
        const values = query.get(name);
        if (values !== undefined) raw = array && p['explode'] === false ? values.join(',').split(',') : values.length === 1 ? values[0]! : values;
        break;
      }
      case 'header':
        if (IGNORED_HEADERS.has(name.toLowerCase())) return;
        raw = ctx.header(name.toLowerCase());
        if (raw !== undefined && array) raw = raw.split(',').map((v) => v.trim());
        break;
      case 'cookie':
        cookies ??= parseCookies(ctx.header('cookie'));
        raw = cookies.get(name);
        if (raw !== undefined && array) raw = raw.split(',');
        break;
      default:
        return;
    }
    const pointer = `/${where}/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (raw === undefined) {
      if (p['required'] === true || where === 'path') out.push({ pointer, message: 'is required' });
      return;
    }
    const check = op.validators.parameters[i];
    if (check === null || check === undefined) return;
    const issues = check(raw);
    if (issues !== null) for (const issue of issues) out.push({ pointer: pointer + issue.pointer, message: issue.message });
  });
}
