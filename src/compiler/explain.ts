// What a compiled config does with one request: which route it matches, why each earlier
// candidate did not, and where it would go. The same head checks and router as the proxy,
// with the indexed lookup cross-checked against the linear walk. `northgate explain` prints
// it; the console shows it; the route table in match order comes with it.
import type { RouteEntry } from '../proxy/route.js';
import { joinUpstreamPath } from '../proxy/forward.js';
import { needsNormalizing, normalizePath } from '../proxy/request-path.js';
import { describePattern, hostMatches } from '../router/router.js';
import { firstQueryValues } from '../base/query-params.js';
import type { Snapshot } from './snapshot.js';

export interface ExplainInput {
  method: string;
  /** A full http(s) URL or a path with its query. */
  url: string;
  /** Lower-case names; a repeated header joined with ", ". */
  headers: ReadonlyMap<string, string>;
  /** The name of the proxy listener the request arrives on (routes bound to listeners); absent: an unnamed one. */
  listener?: string | null;
}

export interface Candidate {
  route: string;
  declared_at: string;
  match: string;
  reason: string;
  /** The candidate is for another host than the request's. */
  other_host: boolean;
}

export interface Explanation {
  method: string;
  path: string;
  query: string;
  host: string;
  normalized_from: string | null;
  candidates: Candidate[];
  matched: { route: string; declared_at: string; match: string } | null;
  /** Why the gateway refuses the request with 400 although (or before) a route matched. */
  refused: string | null;
  forward: {
    route: string; strip_path: boolean; preserve_host: boolean; service: string; connect_timeout_ms: number; read_timeout_ms: number; upstream: string; targets: Array<{ url: string; weight: number }>;
    /** The route's weighted backends (docs/traffic.md), null for a route to its service's upstream. */
    backends: Array<{ name: string; weight: number }> | null;
    session: { type: string; name: string; ttl_ms: number } | null;
    urls: string[]; plugins: string[];
  } | null;
  /** The indexed router chose another entry than the linear walk (a bug to report). */
  disagreement: string | null;
}

/** Splits a URL into host (from the URL unless a Host header is given), path and query; a string on a malformed one. */
export function requestTarget(url: string, headers: Map<string, string>): { rawPath: string; query: string } | string {
  let target = url;
  const abs = /^https?:\/\/([^/?#]+)(.*)$/i.exec(target);
  if (abs) {
    if (!headers.has('host')) headers.set('host', abs[1]!);
    target = abs[2] || '/';
  }
  if (!target.startsWith('/')) return 'URL must be a full http(s) URL or start with "/"';
  const q = target.indexOf('?');
  return { rawPath: q === -1 ? target : target.slice(0, q), query: q === -1 ? '' : target.slice(q) };
}

export function explainRequest(s: Snapshot, input: ExplainInput): Explanation | string {
  const headers = new Map(input.headers);
  const method = input.method.toUpperCase();
  const parsed = requestTarget(input.url, headers);
  if (typeof parsed === 'string') return parsed;
  const { rawPath, query } = parsed;
  const host = (headers.get('host') ?? '').replace(/:[0-9]+$/, '').replace(/\.$/, '').toLowerCase();
  const normalized = needsNormalizing(rawPath) ? normalizePath(rawPath, s.paths) : rawPath;
  const out: Explanation = { method, path: rawPath, query, host, normalized_from: null, candidates: [], matched: null, refused: null, forward: null, disagreement: null };
  if (!normalized.startsWith('/')) return { ...out, refused: normalized };
  const path = normalized;
  out.path = path;
  if (path !== rawPath) out.normalized_from = rawPath;
  const queryValues = firstQueryValues(query);
  const q = { method, host, path, header: (n: string) => headers.get(n), queryParam: (n: string) => queryValues.get(n), matchLength: 0, params: null as Record<string, string> | null, listener: { name: input.listener ?? null } };
  const { tried, matched } = s.router.explain(q);
  const probe = { ...q };
  const fast = s.router.match(probe);
  out.candidates = tried.map((t) => ({ route: t.entry.route.name, declared_at: t.entry.route.configPath, match: describeEntry(t.entry), reason: t.reason, other_host: !hostMatches(t.entry.host, host, t.entry.route.oneLabelWildcard) }));
  if (matched === null) return out;
  out.matched = { route: matched.route.name, declared_at: matched.route.configPath, match: describeEntry(matched) };
  if (s.router.caseVariant({ ...q }, matched)) return { ...out, refused: "the path differs from another route's path only in letter case (docs/routing.md)" };
  if (s.router.slashVariant({ ...q }, matched)) return { ...out, refused: 'without its trailing slash the path selects another route (docs/routing.md)' };
  if (fast !== matched) out.disagreement = `the indexed router chose ${fast?.route.name ?? 'nothing'}`;
  const r = matched.route;
  const svc = r.service;
  const upstreamPath = joinUpstreamPath(r, path, probe.matchLength, query);
  out.forward = {
    route: r.name,
    strip_path: r.stripPath,
    preserve_host: r.preserveHost,
    service: svc.name,
    connect_timeout_ms: svc.connectTimeoutMs,
    read_timeout_ms: svc.readTimeoutMs,
    upstream: svc.upstream.name,
    targets: svc.upstream.targets.map((t) => ({ url: t.url, weight: t.weight })),
    backends: r.backends === null ? null : r.backends.list.map((b) => ({ name: b.name, weight: b.weight })),
    session: r.session === null ? null : { type: r.session.type, name: r.session.name, ttl_ms: r.session.ttlMs },
    // With weighted backends, each backend's upstream and base path.
    urls: r.backends === null
      ? svc.upstream.targets.map((t) => t.origin + upstreamPath)
      : r.backends.list.filter((b) => b.weight > 0).flatMap((b) => b.service.upstream.targets.map((t) => t.origin + joinUpstreamPath(b.route, path, probe.matchLength, query))),
    plugins: pluginNames(matched),
  };
  return out;
}

/** The compiled route table in match order: for each request the first entry that matches wins. */
export function routeTable(s: Snapshot): Array<{ order: number; route: string; service: string; host: string | null; path: string; kind: string; methods: string[] | null; headers: Record<string, readonly string[]> | null; query: Record<string, string> | null; priority: number; plugins: string[]; declared_at: string }> {
  return s.routes.map((e, i) => ({
    order: i + 1,
    route: e.route.name,
    service: e.route.service.name,
    host: e.host,
    path: e.pattern.text,
    kind: e.pattern.kind,
    methods: e.route.methods ? [...e.route.methods] : null,
    headers: e.route.headers ? Object.fromEntries(e.route.headers) : null,
    query: e.route.query ? Object.fromEntries(e.route.query.map((c) => [c.name, c.value])) : null,
    priority: e.route.priority,
    plugins: e.route.chain.entries.map((c) => c.plugin.name),
    declared_at: e.route.configPath,
  }));
}

export function describeEntry(e: RouteEntry): string {
  const r = e.route;
  const parts = [`host=${e.host ?? '*'}`, describePattern(e)];
  if (r.methods) parts.push(`methods=${[...r.methods].join(',')}`);
  if (r.headers) parts.push(`headers=${r.headers.map(([n, v]) => `${n}:${v.join('|')}`).join(';')}`);
  if (r.query) parts.push(`query=${r.query.map((c) => `${c.name}=${c.value}`).join('&')}`);
  if (r.priority !== 0) parts.push(`priority=${r.priority}`);
  return parts.join(' ');
}

/** The plugin chain as `name(priority, scope)`, in run order. */
export function pluginNames(e: RouteEntry): string[] {
  return e.route.chain.entries.map((c) => `${c.plugin.name}(${c.plugin.priority}, ${c.scope})`);
}
