// GRPCRoute rules → Northgate routes: a method match is a path (`/service/method`), header
// matches are header conditions, backends speak HTTP/2 (grpc:// targets), and the filters
// are header modifiers and mirrors.
import type { KubeObject } from './model.js';
import type { ConditionInput } from './conditions.js';
import type { MatchSpec, RuleSpec, RuleTranslation } from './routes.js';
import { copiesOver, escapeRegex, headerEdits, list, rec, Refusal, resolveRef, translateBackendRefs, withMirror, type TranslationState } from './route-parts.js';

/** A gRPC service or method name as a path segment. */
const GRPC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.]*[A-Za-z0-9_]$|^[A-Za-z0-9_]$/;

export function translateGrpcRules(state: TranslationState, route: KubeObject): RuleTranslation {
  let problem: ConditionInput | undefined;
  const rules: RuleSpec[] = [];
  const notes: string[] = [];
  const spec = rec(route.spec);
  const rawRules = Array.isArray(spec.rules) && spec.rules.length > 0 ? list(spec.rules) : [{}];
  for (const rule of rawRules) {
    const matches = (Array.isArray(rule.matches) && rule.matches.length > 0 ? list(rule.matches) : [{}]).map(grpcMatch);
    let backendRefs = list(rule.backendRefs);
    let filters = list(rule.filters);
    if (backendRefs.length === 1 && Array.isArray(backendRefs[0]!.filters)) {
      filters = [...filters, ...list(backendRefs[0]!.filters)];
      backendRefs = [{ ...backendRefs[0]!, filters: [] }];
    }
    const b = translateBackendRefs(state, route, 'GRPCRoute', backendRefs, 'grpc', (ref) => {
      let edits: Record<string, unknown> | undefined;
      for (const f of list(ref.filters)) {
        if (f.type !== 'RequestHeaderModifier') throw new Refusal('UnsupportedValue', `backendRef filter ${String(f.type)} is not supported (RequestHeaderModifier)`);
        edits = headerEdits(f.requestHeaderModifier);
      }
      return edits;
    });
    problem ??= b.problem;
    const plugins: Record<string, unknown> = {};
    for (const f of filters) {
      if (f.type === 'RequestHeaderModifier') plugins.headers = { ...rec(plugins.headers), request: headerEdits(f.requestHeaderModifier) };
      else if (f.type === 'ResponseHeaderModifier') plugins.headers = { ...rec(plugins.headers), response: headerEdits(f.responseHeaderModifier) };
      else if (f.type === 'RequestMirror') {
        const r = resolveRef(state, route, 'GRPCRoute', rec(rec(f.requestMirror).backendRef), 'http');
        if ('problem' in r) problem ??= r.problem;
        else if (!copiesOver(r.targets)) notes.push(`RequestMirror to ${r.upstream} is not served: its port speaks HTTP/2 only, and a copy is an HTTP/1.1 request`);
        else plugins['request-mirror'] = withMirror(plugins['request-mirror'], { upstream: r.upstream });
      } else throw new Refusal('UnsupportedValue', `filter type ${String(f.type)} is not supported on a GRPCRoute`);
    }
    rules.push({ matches, backends: b.backends, plugins: () => plugins });
  }
  return { rules, problem, notes };
}

function grpcMatch(m: Record<string, unknown>): MatchSpec {
  const method = rec(m.method);
  const type = method.type ?? 'Exact';
  const service = typeof method.service === 'string' && method.service !== '' ? method.service : undefined;
  const name = typeof method.method === 'string' && method.method !== '' ? method.method : undefined;
  let path: string;
  if (type === 'Exact') {
    for (const n of [service, name]) if (n !== undefined && !GRPC_NAME.test(n)) throw new Refusal('UnsupportedValue', `${JSON.stringify(n)} is not a gRPC service or method name`);
    if (service !== undefined && name !== undefined) path = `=/${service}/${name}`;
    else if (service !== undefined) path = `~^/${escapeRegex(service)}/[^/]+$`;
    else if (name !== undefined) path = `~^/[^/]+/${escapeRegex(name)}$`;
    else path = '/';
  } else if (type === 'RegularExpression') {
    path = `~^/(?:${service ?? '[^/]+'})/(?:${name ?? '[^/]+'})$`;
  } else throw new Refusal('UnsupportedValue', `method match type ${String(type)} is not supported`);
  const out: { paths: [string]; headers?: Record<string, string[]> } = { paths: [path] };
  const headers: Record<string, string[]> = {};
  for (const h of list(m.headers)) {
    if ((h.type ?? 'Exact') !== 'Exact') throw new Refusal('UnsupportedValue', `header match type ${String(h.type)} is not supported (Exact)`);
    const n = String(h.name).toLowerCase();
    if (!(n in headers)) headers[n] = [String(h.value)];
  }
  if (Object.keys(headers).length > 0) out.headers = headers;
  return out;
}
