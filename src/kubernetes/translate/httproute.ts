// HTTPRoute rules → Northgate route fields and plugins: path (Exact `=`, PathPrefix, regex
// `~`), headers, query parameters, method; filters as the built-in plugins (`headers`,
// `redirect`, `rewrite`, `request-mirror` to the mirror Service's upstream, `cors`); backendRefs as weighted `backends` with
// their own request-header edits; timeouts and retries.
import type { KubeObject } from './model.js';
import type { ConditionInput } from './conditions.js';
import type { MatchSpec, RuleSpec, RuleTranslation } from './routes.js';
import { copiesOver, duration, escapeRegex, headerEdits, list, rec, Refusal, resolveRef, translateBackendRefs, withMirror, type TranslationState } from './route-parts.js';

/** A path Northgate can take as a literal (prefix or `=exact`): no `:param` segment, no `~`/`=` lead, no characters it would refuse. */
const LITERAL_PATH = /^\/(?:[A-Za-z0-9._~!$&'()*+,@-][A-Za-z0-9._~!$&'()*+,=:@-]*\/?)*$/;

export function translateHttpRules(state: TranslationState, route: KubeObject): RuleTranslation {
  let problem: ConditionInput | undefined;
  const rules: RuleSpec[] = [];
  const notes: string[] = [];
  const spec = rec(route.spec);
  const rawRules = Array.isArray(spec.rules) && spec.rules.length > 0 ? list(spec.rules) : [{}];
  for (const rule of rawRules) {
    const matches = (Array.isArray(rule.matches) && rule.matches.length > 0 ? list(rule.matches) : [{}]).map(httpMatch);
    const onlyPrefix = matches.every((m) => !m.paths[0].startsWith('=') && !m.paths[0].startsWith('~') || m.paths[0].startsWith('~') && m.paths[0].endsWith('(/.*)?$'));
    if (rule.sessionPersistence !== undefined) throw new Refusal('UnsupportedValue', 'sessionPersistence is not supported');
    let backendRefs = list(rule.backendRefs);
    let filters = list(rule.filters);
    // A rule with one backend: its filters act on every request of the rule, as the rule's own do.
    if (backendRefs.length === 1 && Array.isArray(backendRefs[0]!.filters)) {
      filters = [...filters, ...list(backendRefs[0]!.filters)];
      backendRefs = [{ ...backendRefs[0]!, filters: [] }];
    }
    const b = translateBackendRefs(state, route, 'HTTPRoute', backendRefs, 'http', backendFilters);
    problem ??= b.problem;
    const fixed: Record<string, unknown> = {};
    let redirect: Record<string, unknown> | undefined;
    for (const f of filters) {
      switch (f.type) {
        case 'RequestHeaderModifier':
          fixed.headers = { ...rec(fixed.headers), request: headerEdits(f.requestHeaderModifier) };
          break;
        case 'ResponseHeaderModifier':
          fixed.headers = { ...rec(fixed.headers), response: headerEdits(f.responseHeaderModifier) };
          break;
        case 'RequestRedirect':
          redirect = rec(f.requestRedirect);
          break;
        case 'URLRewrite': {
          const u = rec(f.urlRewrite);
          const rewrite: Record<string, unknown> = {};
          if (typeof u.hostname === 'string') rewrite.host = u.hostname;
          if (u.path !== undefined) rewrite.path = pathModifier(u.path, onlyPrefix);
          if (Object.keys(rewrite).length > 0) fixed.rewrite = rewrite;
          break;
        }
        case 'RequestMirror': {
          const m = rec(f.requestMirror);
          const r = resolveRef(state, route, 'HTTPRoute', rec(m.backendRef), 'http');
          if ('problem' in r) {
            problem ??= r.problem;
            break;
          }
          // The mirror is the Service port's upstream (its ready endpoints, through its balancer);
          // each RequestMirror of the rule is one of the plugin's mirrors, with its own share.
          if (!copiesOver(r.targets)) {
            notes.push(`RequestMirror to ${r.upstream} is not served: its port speaks HTTP/2 only, and a copy is an HTTP/1.1 request`);
            break;
          }
          fixed['request-mirror'] = withMirror(fixed['request-mirror'], { upstream: r.upstream, percent: mirrorPercent(m) });
          break;
        }
        case 'CORS':
          fixed.cors = corsConfig(rec(f.cors));
          break;
        default:
          throw new Refusal('UnsupportedValue', `filter type ${String(f.type)} is not supported`);
      }
    }
    const timeouts: Record<string, string> = {};
    const t = rec(rule.timeouts);
    const total = duration(t.request, 'timeouts.request');
    const read = duration(t.backendRequest, 'timeouts.backendRequest');
    if (total !== undefined) timeouts.total = total;
    if (read !== undefined) timeouts.read = read;
    const retries = retryPolicy(rec(rule.retry), rule.retry !== undefined, notes);
    const backends = retries === undefined ? b.backends : b.backends.map((x) => ({ ...x, retries }));
    const redirectCfg = redirect;
    rules.push({
      matches,
      backends,
      ...(Object.keys(timeouts).length > 0 ? { timeouts } : {}),
      plugins: (port) => (redirectCfg === undefined ? fixed : { ...fixed, redirect: redirectConfig(redirectCfg, port, onlyPrefix) }),
    });
  }
  return { rules, problem, notes };
}

function httpMatch(m: Record<string, unknown>): MatchSpec {
  const p = rec(m.path);
  const type = p.type ?? 'PathPrefix';
  const value = typeof p.value === 'string' ? p.value : '/';
  if (!value.startsWith('/')) throw new Refusal('UnsupportedValue', `path ${JSON.stringify(value)} does not start with "/"`);
  // Request paths with these are refused before routing (docs/routing.md): a route for one could never match.
  if (type !== 'RegularExpression' && (/[;%\\\s]|[^\x21-\x7e]/.test(value) || /(^|\/)\.\.?(\/|$)/.test(value))) {
    throw new Refusal('UnsupportedValue', `path ${JSON.stringify(value)} is one Northgate refuses in requests (";", "%", "\\", spaces, "." or ".." segments)`);
  }
  let path: string;
  if (type === 'Exact') path = LITERAL_PATH.test(value) ? `=${value}` : `~^${escapeRegex(value)}$`;
  else if (type === 'PathPrefix') path = LITERAL_PATH.test(value) ? value : `~^${escapeRegex(value.replace(/\/$/, ''))}(/.*)?$`;
  else if (type === 'RegularExpression') path = `~^(?:${value})$`;
  else throw new Refusal('UnsupportedValue', `path match type ${String(type)} is not supported`);
  const out: { paths: [string]; methods?: string[]; headers?: Record<string, string[]>; query?: Record<string, string> } = { paths: [path] };
  if (typeof m.method === 'string') out.methods = [m.method];
  const headers: Record<string, string[]> = {};
  for (const h of list(m.headers)) {
    if ((h.type ?? 'Exact') !== 'Exact') throw new Refusal('UnsupportedValue', `header match type ${String(h.type)} is not supported (Exact)`);
    const name = String(h.name).toLowerCase();
    if (!(name in headers)) headers[name] = [String(h.value)];
  }
  if (Object.keys(headers).length > 0) out.headers = headers;
  const query: Record<string, string> = {};
  for (const q of list(m.queryParams)) {
    const name = String(q.name);
    if (name in query) continue;
    const v = String(q.value);
    const type = q.type ?? 'Exact';
    if (type === 'Exact') query[name] = v.startsWith('~') ? `~^${escapeRegex(v)}$` : v;
    else if (type === 'RegularExpression') query[name] = `~${v}`;
    else throw new Refusal('UnsupportedValue', `query match type ${String(type)} is not supported`);
  }
  if (Object.keys(query).length > 0) out.query = query;
  return out;
}

/** Backend-level filters: request header edits only. */
function backendFilters(ref: Record<string, unknown>): Record<string, unknown> | undefined {
  let edits: Record<string, unknown> | undefined;
  for (const f of list(ref.filters)) {
    if (f.type !== 'RequestHeaderModifier') throw new Refusal('UnsupportedValue', `backendRef filter ${String(f.type)} is not supported (RequestHeaderModifier)`);
    edits = headerEdits(f.requestHeaderModifier);
  }
  return edits;
}

function pathModifier(v: unknown, onlyPrefix: boolean): Record<string, string> {
  const p = rec(v);
  if (p.type === 'ReplaceFullPath' && typeof p.replaceFullPath === 'string') return { replace_full: p.replaceFullPath };
  if (p.type === 'ReplacePrefixMatch' && typeof p.replacePrefixMatch === 'string') {
    if (!onlyPrefix) throw new Refusal('UnsupportedValue', 'ReplacePrefixMatch needs PathPrefix matches');
    return { replace_prefix: p.replacePrefixMatch };
  }
  throw new Refusal('UnsupportedValue', `path modifier ${String(p.type)} is not supported`);
}

/** RequestRedirect: without port and scheme, the port is the listener's declared one (the spec's rule). */
function redirectConfig(r: Record<string, unknown>, listenerPort: number, onlyPrefix: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.scheme === 'http' || r.scheme === 'https') out.scheme = r.scheme;
  else if (r.scheme !== undefined) throw new Refusal('UnsupportedValue', `redirect scheme ${String(r.scheme)} is not supported`);
  if (typeof r.hostname === 'string') out.host = r.hostname;
  if (typeof r.port === 'number') out.port = r.port;
  else if (out.scheme === undefined) out.port = listenerPort;
  if (r.path !== undefined) out.path = pathModifier(r.path, onlyPrefix);
  out.status = typeof r.statusCode === 'number' ? r.statusCode : 302;
  return out;
}

function mirrorPercent(m: Record<string, unknown>): number {
  if (typeof m.percent === 'number') return Math.min(Math.max(m.percent, 0), 100);
  const f = rec(m.fraction);
  if (typeof f.numerator === 'number') {
    const d = typeof f.denominator === 'number' && f.denominator > 0 ? f.denominator : 100;
    return Math.min(Math.max((f.numerator / d) * 100, 0), 100);
  }
  return 100;
}

function corsConfig(c: Record<string, unknown>): Record<string, unknown> {
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  // Preflights are answered 200, as Envoy answers them (the suite's expectation).
  const out: Record<string, unknown> = { preflight_status: 200 };
  // "*" answers with the request's Origin, which a pattern that admits any origin does: a
  // browser refuses "*" on a request with credentials, and the Gateway API answers a request
  // that carries them (an Authorization header) with its Origin even without allowCredentials.
  // The plugin's origin syntax check still keeps "null" and malformed Origins out.
  const origins = strings(c.allowOrigins).map((o) => (o === '*' ? '~^.+$' : o));
  if (origins.length > 0) out.origins = origins;
  // allowMethods "*": the plugin sends "*", or with credentials the preflight's requested method.
  const methods = strings(c.allowMethods);
  if (methods.length > 0) out.methods = methods;
  // allowHeaders "*": the preflight's Access-Control-Request-Headers is answered back (the
  // plugin does so without `headers`); with credentials a browser would read "*" as a name.
  const headers = strings(c.allowHeaders);
  if (headers.length > 0 && !headers.includes('*')) out.headers = headers;
  const exposed = strings(c.exposeHeaders);
  if (exposed.length > 0) out.exposed_headers = exposed;
  if (c.allowCredentials === true) out.credentials = true;
  // maxAge defaults to 5 in the CRD: the API server fills it in, a manifest may leave it out.
  out.max_age = typeof c.maxAge === 'number' ? Math.min(Math.max(Math.trunc(c.maxAge), 0), 86400) : 5;
  return out;
}

/**
 * HTTPRouteRetry: `attempts` retries (Northgate counts the first try too, so `attempts + 1`),
 * on the `codes` named (400–599), on connection failures and resets, and on an attempt that
 * outlives `timeouts.backendRequest` (each attempt has that long; `timeouts.request` bounds
 * them all); `backoff` is the wait before each retry. Without `attempts` the
 * implementation's default applies: one retry.
 */
function retryPolicy(r: Record<string, unknown>, present: boolean, notes: string[]): Record<string, unknown> | undefined {
  if (!present) return undefined;
  const raw = Array.isArray(r.codes) ? r.codes : [];
  const codes = [...new Set(raw.filter((c): c is number => Number.isInteger(c) && (c as number) >= 400 && (c as number) <= 599))];
  if (codes.length < raw.length) notes.push(`retry codes ${raw.filter((c) => !codes.includes(c as number)).map(String).join(', ')} are not retried (codes are statuses 400–599)`);
  const attempts = typeof r.attempts === 'number' ? Math.min(Math.max(Math.trunc(r.attempts), 0), 9) + 1 : 2;
  if (typeof r.attempts === 'number' && r.attempts > 9) notes.push(`retry attempts ${r.attempts} are served as 9 (Northgate makes 10 tries at most)`);
  const out: Record<string, unknown> = { attempts, on: ['connect-failure', 'reset', 'timeout', ...codes] };
  const base = duration(r.backoff, 'retry.backoff');
  if (base !== undefined) out.backoff = { base, max: base };
  return out;
}
