// `northgate explain`: which route a request would match, why each earlier candidate
// did not, and where the request would go (compiler/explain.ts), as text.
import { explainRequest, requestTarget } from '../compiler/explain.js';
import { parse, UsageError } from './args.js';
import { withLoadedSnapshot, withSnapshot } from './inspect.js';
import type { Snapshot } from '../compiler/snapshot.js';

const HELP = `Usage: northgate explain --config FILE METHOD URL [-H 'Name: value']... [--all]
       northgate explain --kubernetes-manifests DIR [--port-map 80=18080,...] METHOD URL [-H ...] [--all]

  URL is a full URL (http://api.example.com/orders/7?x=1) or a path (/orders/7);
  -H adds a request header (Host too). --all also lists candidates of other hosts.
  With --kubernetes-manifests, the config is the one the manifests in DIR compile to, and
  the routes the controller did not attach are listed with the reason.
`;

export async function explainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    'explain',
    args,
    {
      config: { type: 'string', short: 'c' },
      header: { type: 'string', short: 'H', multiple: true },
      all: { type: 'boolean' },
      'kubernetes-manifests': { type: 'string' },
      'port-map': { type: 'string' },
      'bind-address': { type: 'string' },
      'controller-name': { type: 'string' },
    },
    true,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const manifests = values['kubernetes-manifests'];
  if (values.config === undefined && manifests === undefined) throw new UsageError('explain needs --config FILE or --kubernetes-manifests DIR');
  if (values.config !== undefined && manifests !== undefined) throw new UsageError('explain takes --config FILE or --kubernetes-manifests DIR, not both');
  if (manifests === undefined && (values['port-map'] ?? values['bind-address'] ?? values['controller-name']) !== undefined) throw new UsageError('--port-map, --bind-address and --controller-name go with --kubernetes-manifests');
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
  const at = requestTarget(positionals[1]!, headers);
  if (typeof at === 'string') throw new UsageError(at);

  const explain = (s: Snapshot, listener?: string | null): number => {
    const x = explainRequest(s, { method, url: positionals[1]!, headers, ...(listener !== undefined ? { listener } : {}) });
    if (typeof x === 'string') throw new UsageError(x);
    const out: string[] = [];
    out.push(`${x.method} ${x.path}${x.query}  (host: ${x.host === '' ? '(none)' : x.host})`);
    if (x.matched === null && x.refused !== null) {
      out.push(`  refused with 400: ${x.refused}`);
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    if (x.normalized_from !== null) out.push(`  path normalized from ${x.normalized_from}`);
    out.push('', 'Candidates in match order:');
    let hidden = 0;
    for (const c of x.candidates) {
      if (!values.all && c.other_host) {
        hidden++;
        continue;
      }
      out.push(`  ✗ ${c.route} [${c.declared_at}] ${c.match}`, `      ${c.reason}`);
    }
    if (hidden > 0) out.push(`  (${hidden} candidate${hidden === 1 ? '' : 's'} for other hosts skipped; --all lists them)`);
    if (x.matched === null) {
      out.push('', 'No route matches: the gateway answers 404 (problem+json, route-not-found).');
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    out.push(`  ✓ ${x.matched.route} [${x.matched.declared_at}] ${x.matched.match}`);
    if (x.refused !== null) {
      out.push('', `Refused with 400: ${x.refused}.`);
      process.stdout.write(out.join('\n') + '\n');
      return 1;
    }
    if (x.disagreement !== null) out.push(`  ! internal disagreement: ${x.disagreement}; please report this`);
    const f = x.forward!;
    out.push('', `Route:    ${f.route} (${x.matched.declared_at})${f.strip_path ? ', strip_path' : ''}${f.preserve_host ? ', preserve_host' : ''}`);
    out.push(`Service:  ${f.service} (connect timeout ${f.connect_timeout_ms} ms, read timeout ${f.read_timeout_ms} ms)`);
    if (f.backends === null) out.push(`Upstream: ${f.upstream}: ${f.targets.map((t) => `${t.url} (weight ${t.weight})`).join(', ')}`);
    // One of the weighted backends, each with its own upstream and base path (docs/traffic.md).
    else out.push(`Backends: ${f.backends.map((b) => `${b.name} (weight ${b.weight})`).join(', ')}${f.backends.every((b) => b.weight === 0) ? ': every weight is 0, the gateway answers 500 (no-backend)' : ''}`);
    if (f.backends === null || f.urls.length > 0) out.push(`Forwards: ${f.urls.join('  or  ')}`);
    if (f.session !== null) out.push(`Session:  ${f.session.type} ${f.session.name}${f.session.ttl_ms === 0 ? '' : `, ttl ${f.session.ttl_ms} ms`}`);
    out.push(`Plugins:  ${f.plugins.length === 0 ? '-' : f.plugins.join(' > ')}`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  };
  if (manifests === undefined) return withSnapshot(values.config!, explain);
  const { explainKubernetes } = await import('./kubernetes.js');
  // The request arrives on the Gateway listener of the URL's port (80 or 443 without one).
  const declared = /^https?:\/\//i.test(positionals[1]!) ? Number(new URL(positionals[1]!).port || (positionals[1]!.toLowerCase().startsWith('https:') ? 443 : 80)) : 80;
  return explainKubernetes(manifests, values, (load, local) => withLoadedSnapshot(load, manifests, (s) => explain(s, s.listeners.proxy.find((l) => l.port === local(declared))?.name ?? null)));
}
