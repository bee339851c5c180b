// `northgate explain`: which route a request would match, why each earlier candidate
// did not, and where the request would go. Uses the same head checks and the same
// router as the proxy, and cross-checks the indexed lookup against the linear walk.
import type { RouteEntry } from '../proxy/route.js';
import { joinUpstreamPath } from '../proxy/forward.js';
import { needsNormalizing, normalizePath } from '../proxy/request-path.js';
import { hostMatches } from '../router/router.js';
import { firstQueryValues } from '../base/query-params.js';
import { parse, UsageError } from './args.js';
import { describeEntry, pluginList, withSnapshot } from './inspect.js';

const HELP = `Usage: northgate explain --config FILE METHOD URL [-H 'Name: value']... [--all]

  URL is a full URL (http://api.example.com/orders/7?x=1) or a path (/orders/7);
  -H adds a request header (Host too). --all also lists candidates of other hosts.
`;

export async function explainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'explain',
    args,
    { config: { type: 'string', short: 'c' }, header: { type: 'string', short: 'H', multiple: true }, all: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.config === undefined) throw new UsageError('explain needs --config FILE');
  if (positionals.length !== 2) throw new UsageError('explain needs METHOD and URL, e.g. northgate explain -c gw.yaml GET /orders/7');
  const method = positionals[0]!.toUpperCase();
  const headers = new Map<string, string>();
  for (const h of values.header ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H takes 'Name: value', not "${h}"`);
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  let target = positionals[1]!;
  const abs = /^https?:\/\/([^/?#]+)(.*)$/i.exec(target);
  if (abs) {
    if (!headers.has('host')) headers.set('host', abs[1]!);
    target = abs[2] || '/';
  }
  if (!target.startsWith('/')) throw new UsageError('URL must be a full http(s) URL or start with "/"');
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  const hostHeader = headers.get('host') ?? '';
  const host = hostHeader.replace(/:[0-9]+$/, '').replace(/\.$/, '').toLowerCase();

  return withSnapshot(values.config, (s) => {
    const out: string[] = [];
    const normalized = needsNormalizing(rawPath) ? normalizePath(rawPath, s.paths) : rawPath;
    const path = normalized.startsWith('/') ? normalized : null;
    out.push(`${method} ${path ?? rawPath}${query}  (host: ${host === '' ? '(none)' : host})`);
    if (path === null) {
      out.push(`  refused with 400: ${normalized}`);
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    if (path !== rawPath) out.push(`  path normalized from ${rawPath}`);
    const queryValues = firstQueryValues(query);
    const input = { method, host, path, header: (n: string) => headers.get(n), queryParam: (n: string) => queryValues.get(n), matchLength: 0, params: null as Record<string, string> | null };
    const { tried, matched } = s.router.explain(input);
    const probe = { ...input };
    const fast = s.router.match(probe);
    out.push('', 'Candidates in match order:');
    let hidden = 0;
    for (const t of tried) {
      if (!values.all && !hostMatches(t.entry.host, host)) {
        hidden++;
        continue;
      }
      out.push(`  ✗ ${t.entry.route.name} [${t.entry.route.configPath}] ${describeEntry(t.entry)}`, `      ${t.reason}`);
    }
    if (hidden > 0) out.push(`  (${hidden} candidate${hidden === 1 ? '' : 's'} for other hosts skipped; --all lists them)`);
    if (matched === null) {
      out.push('', 'No route matches: the gateway answers 404 (problem+json, route-not-found).');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    out.push(`  ✓ ${matched.route.name} [${matched.route.configPath}] ${describeEntry(matched)}`);
    if (s.router.caseVariant({ ...input }, matched)) {
      out.push('', 'Refused with 400: the path differs from another route\'s path only in letter case (docs/routing.md).');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    if (s.router.slashVariant({ ...input }, matched)) {
      out.push('', 'Refused with 400: without its trailing slash the path selects another route (docs/routing.md).');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    if (fast !== matched) out.push(`  ! internal disagreement: the indexed router chose ${fast?.route.name ?? 'nothing'}; please report this`);
    describeForward(out, matched, probe.matchLength, path, query);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  });
}

function describeForward(out: string[], e: RouteEntry, matchLength: number, path: string, query: string): void {
  const r = e.route;
  const svc = r.service;
  const upstreamPath = joinUpstreamPath(r, path, matchLength, query);
  out.push('', `Route:    ${r.name} (${r.configPath})${r.stripPath ? ', strip_path' : ''}${r.preserveHost ? ', preserve_host' : ''}`);
  out.push(`Service:  ${svc.name} (connect timeout ${svc.connectTimeoutMs} ms, read timeout ${svc.readTimeoutMs} ms)`);
  if (r.backends === null) {
    out.push(`Upstream: ${svc.upstream.name}: ${svc.upstream.targets.map((t) => `${t.url} (weight ${t.weight})`).join(', ')}`);
    out.push(`Forwards: ${svc.upstream.targets.map((t) => t.origin + upstreamPath).join('  or  ')}`);
  } else {
    // One of the weighted backends, each with its own upstream and base path (docs/traffic.md).
    out.push(`Backends: ${r.backends.list.map((b) => `${b.name} (weight ${b.weight})`).join(', ')}${r.backends.total === 0 ? ': every weight is 0, the gateway answers 500 (no-backend)' : ''}`);
    const forwards = r.backends.list.filter((b) => b.weight > 0).flatMap((b) => b.service.upstream.targets.map((t) => t.origin + joinUpstreamPath(b.route, path, matchLength, query)));
    if (forwards.length > 0) out.push(`Forwards: ${forwards.join('  or  ')}`);
  }
  if (r.session !== null) out.push(`Session:  ${r.session.type} ${r.session.name}${r.session.ttlMs === 0 ? '' : `, ttl ${r.session.ttlMs} ms`}`);
  out.push(`Plugins:  ${pluginList(e)}`);
}
