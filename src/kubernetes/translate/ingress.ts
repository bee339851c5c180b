// Ingress (networking.k8s.io/v1) → the parts of a Northgate config: routes grouped into one
// service per Ingress and backend, upstreams from the Services' ready endpoints, the HTTP
// listener and an HTTPS one with the certificates of `spec.tls`, and `status.loadBalancer`.
// Pure: resources in, config parts out (docs/kubernetes-ingress.md has the semantics).
//
// Ingresses are taken oldest first (creationTimestamp, then namespace/name): when two of them
// claim the same host and path, the older one keeps it, as ingress-nginx does. Each Ingress is
// checked alone with the compiler's own validation, so a path or a plugin config it refuses
// costs that path (or that Ingress), never another Ingress.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { ERRORS, PROBLEM_TYPE_PREFIX } from '../../base/errors.js';
import { validateConfig } from '../../compiler/validate.js';
import type { PluginRegistry } from '../../pipeline/registry.js';
import { defaultRegistry } from '../../plugins/index.js';
import { parsePathPattern } from '../../router/path-pattern.js';
import { resolveServiceBackend } from './backends.js';
import { readAnnotations, type IngressOptions } from './ingress-annotations.js';
import { ingressCertificates, type ListenerCertificate } from './ingress-tls.js';
import { DEFAULT_INGRESS_CLASS, type ConfigParts, type KubeObject, type ResourceSnapshot, type TranslateOptions, type TranslationNote } from './model.js';

/** The IngressClass `spec.controller` this controller owns. */
export const INGRESS_CONTROLLER = 'northgate.io/ingress-controller';
const CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const HTTP_PORT = 80;
const HTTPS_PORT = 443;

/** A DNS-1123 subdomain, lower case, optionally behind one leading "*." (Ingress rule hosts). */
const RULE_HOST = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Service names are DNS-1035 labels: no "/", no ".", so no other namespace can be named. */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A named Service port (IANA_SVC_NAME). */
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
/** What the API server refuses in Exact and Prefix paths; refused here for every path type. */
const BAD_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const BAD_SUFFIXES = ['/..', '/.'];
const MAX_PATH = 2048;

const rec = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

let registry: PluginRegistry | undefined;

/** One path of an Ingress, as a route candidate. */
interface Candidate {
  /** host + path shape: equal keys match the same requests. */
  readonly key: string;
  readonly host: string | null;
  /** The Northgate path ("=/x" for Exact). */
  readonly path: string;
  readonly service: string;
  readonly port: number | string;
  /** Where it came from, for notes: "rules[0].http.paths[1]" or "defaultBackend". */
  readonly at: string;
}

/** Whether an Ingress is served by this controller (docs/kubernetes-ingress.md, "Which Ingresses"). */
export function isOwnedIngress(ing: KubeObject, classes: readonly KubeObject[], className: string = DEFAULT_INGRESS_CLASS): boolean {
  const spec = rec(ing.spec);
  const named = str(spec.ingressClassName);
  if (named !== undefined) {
    const cls = classes.find((c) => c.metadata.name === named);
    if (cls !== undefined) return rec(cls.spec).controller === INGRESS_CONTROLLER;
    return named === className;
  }
  const legacy = str(rec(ing.metadata.annotations)[CLASS_ANNOTATION]);
  if (legacy !== undefined) return legacy === className;
  return classes.some((c) => rec(c.spec).controller === INGRESS_CONTROLLER && rec(c.metadata.annotations)[DEFAULT_CLASS_ANNOTATION] === 'true');
}

/** Oldest first: creationTimestamp (RFC 3339, comparable as text; none = newest), then namespace/name. */
function byAge(a: KubeObject, b: KubeObject): number {
  const ta = str(a.metadata.creationTimestamp) ?? '\uffff';
  const tb = str(b.metadata.creationTimestamp) ?? '\uffff';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function translateIngresses(resources: ResourceSnapshot, opts: TranslateOptions = {}): ConfigParts {
  const parts: ConfigParts = { listeners: [], upstreams: [], services: [], statuses: [], notes: [] };
  const classes = resources.get('IngressClass');
  const owned = resources.get('Ingress').filter((i) => isOwnedIngress(i, classes, opts.ingressClass ?? DEFAULT_INGRESS_CLASS)).sort(byAge);
  /** Route key → the Ingress that has it. */
  const claimed = new Map<string, string>();
  const upstreams = new Map<string, Record<string, unknown>>();
  const certificates: ListenerCertificate[] = [];
  const seenSecrets = new Set<string>();
  const addresses = (opts.addresses ?? []).map((a) => (isIP(a) !== 0 ? { ip: a } : { hostname: a }));
  let anyServed = false;

  const prepared = owned.map((ing) => prepare(ing, parts.notes));
  // One resolution per Service port: many Ingresses name the same few Services.
  const resolutions = new Map<string, ReturnType<typeof resolveServiceBackend>>();
  const resolve: Resolver = (namespace, service, port) => {
    const key = `${namespace}/${service}/${port}`;
    let r = resolutions.get(key);
    if (r === undefined) resolutions.set(key, (r = externalName(resources, namespace, service) ?? resolveServiceBackend(resources, namespace, service, port)));
    return r;
  };
  // Rules first, default backends after: a rule of any Ingress beats a default backend.
  for (const defaults of [false, true]) {
    for (const p of prepared) {
      if (p.options === null) continue;
      for (const c of p.candidates) {
        if ((c.at === 'defaultBackend') !== defaults) continue;
        const holder = claimed.get(c.key);
        if (holder === undefined) {
          claimed.set(c.key, p.key);
          p.claimed.add(c);
        } else p.note(`${c.at}: ${describe(c)} is served by ${defaults ? 'the Ingress' : 'the older Ingress'} ${holder}`);
      }
    }
  }
  for (const p of prepared) {
    const served = p.options !== null && emitServices(p, resolve, upstreams, parts.services);
    if (served) {
      anyServed = true;
      for (const cert of ingressCertificates(p.ing, p.namespace, resources, p.note)) {
        if (seenSecrets.has(cert.secret)) continue;
        seenSecrets.add(cert.secret);
        certificates.push(cert.certificate);
      }
    }
    const status: Record<string, unknown> = { loadBalancer: { ingress: served ? addresses.map((a) => ({ ...a })) : [] } };
    parts.statuses.push({ kind: 'Ingress', namespace: p.namespace, name: p.ing.metadata.name, ...(p.ing.metadata.generation !== undefined ? { generation: p.ing.metadata.generation } : {}), status });
  }

  parts.upstreams.push(...upstreams.values());
  if (anyServed) {
    parts.listeners.push({ address: listenAddress(opts, HTTP_PORT) });
    if (certificates.length > 0) parts.listeners.push({ address: listenAddress(opts, HTTPS_PORT), tls: { certificates } });
  }
  return parts;
}

function listenAddress(opts: TranslateOptions, declared: number): string {
  const bind = opts.bindAddress ?? '0.0.0.0';
  const port = opts.portMap?.get(declared) ?? declared;
  return `${bind.includes(':') ? `[${bind}]` : bind}:${port}`;
}

/**
 * ExternalName Services are refused: their name is any DNS name or address of the Service
 * author's choosing (127.0.0.1 included), which would route an Ingress to the gateway's own
 * loopback listeners or anywhere its network reaches (Contour disables them for that reason).
 */
function externalName(resources: ResourceSnapshot, namespace: string, service: string): { problem: 'BackendNotFound'; message: string } | undefined {
  const svc = resources.get('Service').find((o) => o.metadata.name === service && (o.metadata.namespace ?? 'default') === namespace);
  if (svc === undefined || rec(svc.spec).type !== 'ExternalName') return undefined;
  return { problem: 'BackendNotFound', message: `Service ${namespace}/${service} is of type ExternalName, which Ingresses cannot use` };
}

type Resolver = (namespace: string, service: string, port: number | string) => ReturnType<typeof resolveServiceBackend>;

interface Prepared {
  readonly ing: KubeObject;
  readonly key: string;
  readonly namespace: string;
  /** null: the Ingress is not served (its annotations or plugin configs are refused). */
  readonly options: IngressOptions | null;
  readonly candidates: readonly Candidate[];
  /** The candidates no older Ingress (nor, for the default backend, any rule) has. */
  readonly claimed: Set<Candidate>;
  readonly note: (m: string) => void;
}

/** An Ingress's annotations and paths, read and checked alone. */
function prepare(ing: KubeObject, notes: TranslationNote[]): Prepared {
  const namespace = ing.metadata.namespace ?? 'default';
  const name = ing.metadata.name;
  const note = (message: string): void => void notes.push({ kind: 'Ingress', namespace, name, message });
  const base = { ing, key: keyOf(ing), namespace, claimed: new Set<Candidate>(), note };
  // The API server guarantees these; a manifest read from a directory does not.
  if (!NAMESPACE.test(namespace) || name.length > 253 || !OBJECT_NAME.test(name)) {
    note('not served: the namespace must be a DNS label and the name a DNS subdomain');
    return { ...base, options: null, candidates: [] };
  }
  const options = readAnnotations(ing.metadata.annotations);
  if ('error' in options) {
    note(`not served: ${options.error}`);
    return { ...base, options: null, candidates: [] };
  }
  for (const key of options.unknown) note(`annotation ${key} is not known to Northgate and is ignored`);
  const candidates = distinct(candidatesOf(ing, note), note);
  const checked = checkWithCompiler(candidates, options);
  if ('error' in checked) {
    note(`not served: ${checked.error}`);
    return { ...base, options: null, candidates: [] };
  }
  for (const [i, message] of checked.refused) note(`${candidates[i]!.at}: ${describe(candidates[i]!)} not served: ${message}`);
  return { ...base, options, candidates: candidates.filter((_c, i) => !checked.refused.has(i)) };
}

/** The services of one Ingress, one per backend (Service port); whether it has any. */
function emitServices(p: Prepared, resolve: Resolver, upstreams: Map<string, Record<string, unknown>>, services: Record<string, unknown>[]): boolean {
  const options = p.options!;
  const groups = new Map<string, { upstream: string | null; unavailable: string | null; routes: Record<string, unknown>[] }>();
  for (const c of p.candidates) {
    if (!p.claimed.has(c)) continue;
    const groupKey = `${c.service}|${c.port}`;
    let group = groups.get(groupKey);
    if (group === undefined) {
      const resolved = resolve(p.namespace, c.service, c.port);
      if ('problem' in resolved) {
        p.note(`backend ${c.service}:${c.port}: ${resolved.message}; its paths answer 503`);
        group = { upstream: null, unavailable: resolved.message, routes: [] };
      } else {
        // Without ready endpoints the upstream has no targets, and its routes answer 503.
        if (resolved.endpoints === 0) p.note(`backend ${c.service}:${c.port}: no ready endpoints; its paths answer 503`);
        const name = resolved.upstream['name'] as string;
        upstreams.set(name, resolved.upstream);
        group = { upstream: name, unavailable: null, routes: [] };
      }
      groups.set(groupKey, group);
    }
    group.routes.push(routeOf(c, options));
  }

  let n = 0;
  for (const group of groups.values()) {
    const base = entityName(p.ing, n++);
    group.routes.forEach((r, i) => (r['name'] = `${base}.r${i}`));
    const service: Record<string, unknown> = { name: base };
    const plugins: Record<string, unknown> = { ...options.plugins };
    if (group.upstream !== null) service['upstream'] = group.upstream;
    else {
      // Never forwarded: the request phase answers first. The URL only satisfies the schema.
      service['url'] = 'http://127.0.0.1:9';
      plugins['request-termination'] = unavailableReply(group.unavailable!);
    }
    if (Object.keys(plugins).length > 0) service['plugins'] = plugins;
    service['routes'] = group.routes;
    services.push(service);
  }
  return n > 0;
}

/** The first of the Ingress's paths that match the same requests. */
function distinct(candidates: Candidate[], note: (m: string) => void): Candidate[] {
  const seen = new Map<string, Candidate>();
  return candidates.filter((c) => {
    const first = seen.get(c.key);
    if (first === undefined) return seen.set(c.key, c), true;
    note(`${c.at}: ${describe(c)} is also ${first.at}; the first is served`);
    return false;
  });
}

function describe(c: Candidate): string {
  return `${c.path.startsWith('=') ? `exact path ${c.path.slice(1)}` : `path ${c.path}`}${c.host === null ? '' : ` on host ${c.host}`}`;
}

function routeOf(c: Candidate, options: IngressOptions): Record<string, unknown> {
  const route: Record<string, unknown> = { paths: [c.path] };
  if (c.host !== null) route['hosts'] = [c.host];
  // An Ingress wildcard host covers one label: "*.foo.com" is "bar.foo.com", not "baz.bar.foo.com".
  if (c.host?.startsWith('*.') === true) route['wildcard_labels'] = 'one';
  // Backends see the Host the client asked for, as behind other Ingress controllers.
  route['preserve_host'] = true;
  if (options.stripPath && !c.path.startsWith('=')) route['strip_path'] = true;
  return route;
}

/** The problem+json the gateway answers for an upstream without targets, with what is missing as its detail. */
function unavailableReply(detail: string): Record<string, unknown> {
  const spec = ERRORS['upstream-unhealthy'];
  return { status: spec.status, content_type: 'application/problem+json', body: { type: `${PROBLEM_TYPE_PREFIX}upstream-unhealthy`, title: spec.title, status: spec.status, detail } };
}

/**
 * `ingress.NAMESPACE.NAME.N`: unique, since namespaces have no dots and N is the last part.
 * One longer than the name rule allows is cut and carries a SHA-256 prefix of the whole, so
 * that no Ingress name can be chosen to collide with another's.
 */
function entityName(ing: KubeObject, n: number): string {
  const full = `ingress.${ing.metadata.namespace ?? 'default'}.${ing.metadata.name}`;
  if (full.length <= 110) return `${full}.${n}`;
  return `${full.slice(0, 90)}-${createHash('sha256').update(full).digest('hex').slice(0, 16)}.${n}`;
}

/** Every path of the Ingress (rules, then the default backend), or a note for each one that cannot be read. */
function candidatesOf(ing: KubeObject, note: (m: string) => void): Candidate[] {
  const spec = rec(ing.spec);
  const out: Candidate[] = [];
  arr(spec.rules).forEach((ruleValue, ri) => {
    const rule = rec(ruleValue);
    const hostValue = rule.host;
    let host: string | null = null;
    if (hostValue !== undefined && hostValue !== '') {
      const h = str(hostValue);
      if (h === undefined || h.length > 253 || !RULE_HOST.test(h)) {
        note(`rules[${ri}]: host ${JSON.stringify(String(hostValue).slice(0, 260))} is not a lower-case DNS name (a leading "*." is allowed); the rule is not served`);
        return;
      }
      host = h;
    }
    arr(rec(rule.http).paths).forEach((pathValue, pi) => {
      const at = `rules[${ri}].http.paths[${pi}]`;
      const p = rec(pathValue);
      const path = pathOf(p.path, p.pathType);
      if (typeof path === 'object') return note(`${at}: not served: ${path.error}`);
      const backend = backendOf(p.backend);
      if ('error' in backend) return note(`${at}: not served: ${backend.error}`);
      out.push({ key: routeKey(host, path), host, path, service: backend.service, port: backend.port, at });
    });
  });
  if (spec.defaultBackend !== undefined) {
    const backend = backendOf(spec.defaultBackend);
    if ('error' in backend) note(`defaultBackend: not served: ${backend.error}`);
    // The catch-all: no host, every path, tried after every rule of every Ingress.
    else out.push({ key: routeKey(null, '/'), host: null, path: '/', service: backend.service, port: backend.port, at: 'defaultBackend' });
  }
  return out;
}

/** The Northgate path of an Ingress path: "=/x" for Exact, "/x" for Prefix and ImplementationSpecific. */
function pathOf(pathValue: unknown, typeValue: unknown): string | { error: string } {
  const type = str(typeValue);
  if (type !== 'Exact' && type !== 'Prefix' && type !== 'ImplementationSpecific') return { error: `pathType ${JSON.stringify(typeValue ?? null)} is not Exact, Prefix or ImplementationSpecific` };
  const path = pathValue === undefined ? '/' : str(pathValue);
  if (path === undefined || !path.startsWith('/')) return { error: 'the path must start with "/"' };
  if (path.length > MAX_PATH) return { error: `the path is longer than ${MAX_PATH} characters` };
  for (const s of BAD_SEQUENCES) if (path.includes(s)) return { error: `the path contains "${s}"` };
  for (const s of BAD_SUFFIXES) if (path.endsWith(s)) return { error: `the path ends with "${s}"` };
  if (/\/:/.test(path)) return { error: 'a path segment starting with ":" is not supported' };
  return type === 'Exact' ? `=${path}` : path;
}

function backendOf(value: unknown): { service: string; port: number | string } | { error: string } {
  const b = rec(value);
  if (b.resource !== undefined) return { error: 'resource backends are not supported (only Services)' };
  const svc = rec(b.service);
  const name = str(svc.name);
  if (name === undefined || !SERVICE_NAME.test(name)) return { error: `backend service name ${JSON.stringify(svc.name ?? null)} is not a Service name` };
  const port = rec(svc.port);
  if (port.number !== undefined) {
    const n = port.number;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return { error: `backend service port ${JSON.stringify(n)} is not a port number` };
    return { service: name, port: n };
  }
  const portName = str(port.name);
  if (portName === undefined || !PORT_NAME.test(portName)) return { error: 'backend service port needs a number or a port name' };
  return { service: name, port: portName };
}

/** Equal for two paths that match the same requests ("/a" and "/a/" as prefixes). */
function routeKey(host: string | null, path: string): string {
  const parsed = parsePathPattern(path);
  const shape = typeof parsed === 'string' || parsed.kind === 'regex' ? path : `${parsed.kind}:${parsed.segments.map((s) => (s.kind === 'param' ? ':' : s.value)).join('/')}`;
  return `${host ?? ''}|${shape}`;
}

/**
 * The Ingress's routes and plugins through the compiler's validation, alone: a plugin config
 * it refuses leaves the Ingress unserved; a path it refuses, that path.
 */
function checkWithCompiler(candidates: Candidate[], options: IngressOptions): { refused: Map<number, string> } | { error: string } {
  registry ??= defaultRegistry();
  const doc = {
    _format_version: '1',
    services: [{ name: 'ingress', url: 'http://127.0.0.1:9', plugins: structuredClone(options.plugins), routes: candidates.map((c, i) => ({ name: `r${i}`, ...routeOf(c, options) })) }],
  };
  const { problems } = validateConfig(doc, registry);
  const refused = new Map<number, string>();
  for (const p of problems) {
    const [, , section, index, ...rest] = p.path;
    if (section === 'routes' && typeof index === 'number' && !refused.has(index)) refused.set(index, p.message);
    else if (section === 'routes' && typeof index === 'number') continue;
    else return { error: `${section === 'plugins' ? `plugin ${rest.length > 0 ? `${String(index)}.${rest.join('.')}` : String(index)}` : p.path.join('.')}: ${p.message}` };
  }
  return { refused };
}
