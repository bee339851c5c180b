// Schema validation (ajv) plus the checks a schema cannot express: references between
// entities, unique names, path and host syntax, addresses. Every problem has a path.
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { CheckEnvironment } from '../sdk/plugin.js';
import { formatAddress, parseAddress } from '../base/address.js';
import { isCidr } from '../base/cidr.js';
import { didYouMean, type ConfigProblem } from '../base/problems.js';
import { buildConfigSchema } from './schema.js';
import type { RawConfig, RawRoute, RawService, RawTarget, RawUpstream } from '../config/types.js';
import { foldCase, parsePathPattern } from '../router/path-pattern.js';
import { normalizePath, type PathPolicy } from '../proxy/request-path.js';
import { checkConsumers } from '../consumers/validate.js';
import { accessLogProblems } from '../observability/access-log-format.js';
import { logSinkProblems } from '../observability/log-sink-config.js';
import { checkPlans } from '../plans/plans.js';
import { checkResilience, checkRouteTimeouts } from '../upstream/resilience-config.js';
import { checkRouteTraffic, checkServiceUrl, queryKey } from './validate-traffic.js';
import { checkPortalPlans } from '../portal/settings.js';
import { checkDnsConfig, checkUpstreamConfig } from '../upstream/config.js';
import { allowedHostsProblems } from '../config/allowed-hosts.js';

const require = createRequire(import.meta.url);
const validators = new WeakMap<PluginRegistry, ValidateFunction>();
/**
 * Compiled validators by schema hash: a new registry with the same plugins (each reload of a
 * config with extensions, each test gateway with its own plugins) reuses the compiled one
 * instead of paying ajv's compile again.
 */
const compiled = new Map<string, ValidateFunction>();
const COMPILED_CAP = 32;

/** ajv's options for the config schema; inlineRefs: false keeps the shared plugin map one function (see buildConfigSchema). */
const AJV_OPTIONS: Options = { allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, inlineRefs: false };

/**
 * The validator of the built-in plugins' schema is compiled at build time
 * (scripts/build-validator.mjs writes dist/src/compiler/config-validator.cjs): compiling it
 * at start-up took most of the start time of a config file and ~20 MB of RSS that V8 keeps
 * afterwards. It is used only when the schema is exactly the one it was built from (same
 * hash); any other registry, or a build without the script (plain `tsc`), compiles here.
 */
function validatorFor(registry: PluginRegistry): ValidateFunction {
  let v = validators.get(registry);
  if (!v) {
    const schema = buildConfigSchema(registry.all(), { shared: true });
    const hash = configSchemaHash(schema);
    v = compiled.get(hash) ?? prebuiltValidator(hash) ?? configAjv().compile(schema);
    if (compiled.size >= COMPILED_CAP) compiled.delete(compiled.keys().next().value!);
    compiled.set(hash, v);
    validators.set(registry, v);
  }
  return v;
}

export function configSchemaHash(schema: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

/** An ajv set up for the config schema (ajv is loaded only then); the build script adds `code: { source: true }`. */
export function configAjv(extra: Options = {}): Ajv {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ ...AJV_OPTIONS, ...extra });
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  return ajv;
}

function prebuiltValidator(hash: string): ValidateFunction | null {
  let v: ValidateFunction & { schemaHash?: string };
  try {
    v = require('./config-validator.cjs') as typeof v;
  } catch {
    return null;
  }
  return v.schemaHash === hash ? v : null;
}

export function validateConfig(value: unknown, registry: PluginRegistry): { config: RawConfig; problems: ConfigProblem[] } {
  const validate = validatorFor(registry);
  if (!validate(value)) {
    return { config: value as RawConfig, problems: dedupe((validate.errors ?? []).map(toProblem)) };
  }
  const config = value as RawConfig;
  return { config, problems: checkSemantics(config, registry) };
}

function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^(0|[1-9][0-9]*)$/.test(p) ? Number(p) : p));
}

function toProblem(e: ErrorObject): ConfigProblem {
  const path = pointerToPath(e.instancePath);
  const custom = (e.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(((e.parentSchema as { properties?: object }).properties ?? {}));
      const hint = didYouMean(key, known);
      if (path[path.length - 1] === 'plugins') return { path: [...path, key], atKey: true, message: unknownPlugin(key, hint, known) };
      return { path: [...path, key], atKey: true, message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}` };
    }
    case 'required':
      return { path, message: `missing required key "${(e.params as { missingProperty: string }).missingProperty}"` };
    case 'enum':
      if (typeof custom === 'string') return { path, message: custom };
      return { path, message: `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` };
    case 'propertyNames': {
      const key = (e.params as { propertyName: string }).propertyName;
      return { path: [...path, key], atKey: true, message: `invalid name "${key}"` };
    }
    default:
      if (typeof custom === 'string' && ['pattern', 'type', 'const', 'minimum', 'maximum', 'minLength', 'maxItems', 'minProperties', 'maxProperties'].includes(e.keyword)) return { path, message: custom };
      return { path, message: e.message ?? 'is invalid' };
  }
}

/** Features that other gateways ship as plugins and Northgate has built in. */
const BUILT_IN: Record<string, string> = {
  prometheus: 'Prometheus metrics are built in: GET /metrics on the status listener (docs/observability.md)',
  opentelemetry: 'tracing is built in: the top-level tracing section (docs/observability.md)',
  zipkin: 'tracing is built in: the top-level tracing section exports OTLP (docs/observability.md)',
  'file-log': 'the access log is built in: the top-level access_log section (docs/observability.md)',
  'http-log': 'log shipping is built in: the top-level log_sinks section with type: http (docs/log-shipping.md)',
  syslog: 'log shipping is built in: the top-level log_sinks section with type: syslog (docs/log-shipping.md)',
  statsd: 'log shipping is built in: the top-level log_sinks section with type: statsd (docs/log-shipping.md)',
  'proxy-cache': 'the response cache is the cache plugin (docs/plugins.md)',
  'rate-limiting': 'rate limits are the rate-limit plugin (docs/rate-limiting.md)',
};

function unknownPlugin(name: string, hint: string | undefined, known: string[]): string {
  const builtIn = BUILT_IN[name];
  if (builtIn !== undefined) return `"${name}" is not a plugin: ${builtIn}`;
  return `unknown plugin "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; the plugins are: ${[...known].sort().join(', ')}`;
}

/** One problem per path and message. */
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = JSON.stringify(p.path) + p.message;
    if (seen.has(k)) return false;
    seen.add(k);
    // ajv reports a bad key twice: the inner pattern failure and the propertyNames one.
    return !(p.message.startsWith('must match pattern') && problems.some((q) => q !== p && q.message.startsWith('invalid name') && JSON.stringify(q.path.slice(0, -1)) === JSON.stringify(p.path)));
  });
}

/** A route's or SNI host: lower-case labels (`_` too, as a request's Host may carry: src/proxy/request-head.ts), a leading `*.` allowed. */
const HOST_PATTERN = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function checkSemantics(c: RawConfig, registry: PluginRegistry): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: Array<string | number>, message: string) => problems.push({ path, message });

  const proxy = c.listen?.proxy;
  const listeners = proxy === undefined ? [] : typeof proxy === 'string' ? [proxy] : proxy.map((l) => (typeof l === 'string' ? l : l.address));
  listeners.forEach((a, i) => {
    const r = parseAddress(a);
    if (typeof r === 'string') add(typeof proxy === 'string' ? ['listen', 'proxy'] : ['listen', 'proxy', i], r);
  });
  if (Array.isArray(proxy)) {
    proxy.forEach((l, i) => {
      if (typeof l === 'string' || l.tls === undefined) return;
      const certificates = l.tls.certificates;
      const shapeProblems = certificates.map((c, j) => {
        const files = c.cert !== undefined || c.key !== undefined;
        const pem = c.cert_pem !== undefined || c.key_pem !== undefined;
        const ok = files !== pem && (files ? c.cert !== undefined && c.key !== undefined : c.cert_pem !== undefined && c.key_pem !== undefined);
        if (!ok) add(['listen', 'proxy', i, 'tls', 'certificates', j], 'needs "cert" and "key" (PEM files) or "cert_pem" and "key_pem" (PEM text)');
        return !ok;
      });
      if (shapeProblems.some((bad) => bad)) return;
      const files: Array<[Array<string | number>, string]> = certificates.flatMap((c, j) =>
        c.cert === undefined
          ? []
          : [
              [['listen', 'proxy', i, 'tls', 'certificates', j, 'cert'], c.cert] as [Array<string | number>, string],
              [['listen', 'proxy', i, 'tls', 'certificates', j, 'key'], c.key!] as [Array<string | number>, string],
            ],
      );
      if (l.tls.client_ca !== undefined) files.push([['listen', 'proxy', i, 'tls', 'client_ca'], l.tls.client_ca]);
      for (const [path, file] of files) if (!existsSync(file)) add(path, `file not found: ${file}`);
      if (files.every(([, file]) => existsSync(file))) {
        certificates.forEach((c, j) => {
          const msg = c.cert !== undefined ? checkKeyPair(c.cert, c.key!) : checkPemPair(() => c.cert_pem!, () => c.key_pem!, 'cert_pem', 'key_pem');
          if (msg) add(['listen', 'proxy', i, 'tls', 'certificates', j], msg);
        });
      }
    });
    const listenerNames = new Map<string, number>();
    proxy.forEach((l, i) => {
      if (typeof l === 'string' || l.name === undefined) return;
      if (listenerNames.has(l.name)) add(['listen', 'proxy', i, 'name'], `duplicate listener name "${l.name}" (first at listen.proxy[${listenerNames.get(l.name)}])`);
      else listenerNames.set(l.name, i);
    });
    proxy.forEach((l, i) => {
      if (typeof l !== 'string' && l.redirect_https !== undefined && l.redirect_https !== false && l.tls !== undefined) add(['listen', 'proxy', i, 'redirect_https'], 'only a plain HTTP listener can redirect to HTTPS');
    });
    proxy.forEach((l, i) => {
      if (typeof l === 'string' || l.sni_names === undefined) return;
      if (l.tls === undefined) add(['listen', 'proxy', i, 'sni_names'], 'only a TLS listener has server names to choose by');
      for (const host of Object.keys(l.sni_names)) {
        if (!HOST_PATTERN.test(host)) add(['listen', 'proxy', i, 'sni_names', host], `"${host}" is not a lower-case host name (a leading "*." is allowed; no port)`);
      }
    });
  }
  if (typeof c.listen?.status === 'string') {
    const r = parseAddress(c.listen.status);
    if (typeof r === 'string') add(['listen', 'status'], r);
  }
  if (typeof c.listen?.portal === 'string') {
    const r = parseAddress(c.listen.portal);
    if (typeof r === 'string') add(['listen', 'portal'], r);
  }
  if (typeof c.listen?.admin === 'string') {
    const r = parseAddress(c.listen.admin);
    if (typeof r === 'string') add(['listen', 'admin'], r);
  }
  problems.push(...sharedListenerAddresses(c));
  problems.push(...accessLogProblems(c.access_log));
  problems.push(...logSinkProblems(c));
  problems.push(...allowedHostsProblems(c.admin?.allowed_hosts, ['admin', 'allowed_hosts']));
  (c.trusted_proxies ?? []).forEach((cidr, i) => {
    if (!isCidr(cidr)) add(['trusted_proxies', i], `"${cidr}" is not an IP address or CIDR range`);
  });

  const upstreamNames = new Map<string, number>();
  (c.upstreams ?? []).forEach((u, i) => {
    if (upstreamNames.has(u.name)) add(['upstreams', i, 'name'], `duplicate upstream name "${u.name}" (first at upstreams[${upstreamNames.get(u.name)}])`);
    else upstreamNames.set(u.name, i);
    u.targets.forEach((t, j) => checkTarget(t, ['upstreams', i, 'targets', j], add));
    checkUpstreamProtocols(u, ['upstreams', i], add);
    checkUpstreamConfig(u, ['upstreams', i], add);
  });
  checkDnsConfig(c.dns, add);
  const env = checkEnvironment(c);

  checkConsumers(c.consumers, add);
  checkPlans(c.plans, c.consumers, add);
  checkPortalPlans(c.portal, c.plans, add);
  checkPlugins(c.plugins, ['plugins'], registry, env, add);
  const serviceNames = new Map<string, number>();
  const routeNames = new Map<string, string>();
  const matchKeys = new Map<string, string>();
  (c.services ?? []).forEach((s, i) => {
    const at = ['services', i];
    if (serviceNames.has(s.name)) add([...at, 'name'], `duplicate service name "${s.name}" (first at services[${serviceNames.get(s.name)}])`);
    else serviceNames.set(s.name, i);
    if ((s.upstream === undefined) === (s.url === undefined)) {
      add(at, 'needs exactly one of "upstream" (a name from upstreams) or "url"');
    } else if (s.upstream !== undefined && !upstreamNames.has(s.upstream)) {
      const hint = didYouMean(s.upstream, upstreamNames.keys());
      add([...at, 'upstream'], `no upstream named "${s.upstream}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    } else if (s.url !== undefined) {
      const msg = checkServiceUrl(s.url);
      if (msg) add([...at, 'url'], msg);
    }
    checkPlugins(s.plugins, [...at, 'plugins'], registry, env, add);
    if (s.openapi === undefined) checkOpenApiPlugins(s, at, registry, add);
    checkResilience(s, at, add);
    (s.routes ?? []).forEach((r, j) => {
      const rat = [...at, 'routes', j];
      const rname = r.name ?? `${s.name}-${j}`;
      const where = `services[${i}].routes[${j}]`;
      if (routeNames.has(rname)) add([...rat, 'name'], `duplicate route name "${rname}" (first at ${routeNames.get(rname)})`);
      else routeNames.set(rname, where);
      checkRoute(r, rat, add, matchKeys, where);
      checkRouteListeners(c, r, rat, add);
      checkRouteTraffic(c, r, rat, add, upstreamNames);
      checkRouteSpelling(r, rat, add, c.paths);
      checkRouteTimeouts(r, rat, add);
      checkPlugins(r.plugins, [...rat, 'plugins'], registry, env, add);
    });
  });
  return problems;
}

function checkRoute(r: RawRoute, at: Array<string | number>, add: (p: Array<string | number>, m: string) => void, matchKeys: Map<string, string>, where: string): void {
  r.paths.forEach((p, k) => {
    const parsed = parsePathPattern(p);
    if (typeof parsed === 'string') add([...at, 'paths', k], parsed);
  });
  (r.hosts ?? []).forEach((h, k) => {
    if (!HOST_PATTERN.test(h)) add([...at, 'hosts', k], `"${h}" is not a lower-case host name (a leading "*." is allowed; no port)`);
  });
  const methods = [...new Set(r.methods ?? [])].sort().join(',');
  const headers = JSON.stringify(
    Object.entries(r.headers ?? {})
      .map(([k, v]) => [k.toLowerCase(), [...new Set(v)].sort()] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  );
  const listeners = [...(r.listeners ?? [])].sort().join(',');
  for (const hostWritten of r.hosts ?? ['']) {
    // A one-label wildcard is a host class of its own.
    const host = r.wildcard_labels === 'one' && hostWritten.startsWith('*.') ? `${hostWritten}^1` : hostWritten;
    for (const path of r.paths) {
      const parsed = parsePathPattern(path);
      if (typeof parsed === 'string') continue;
      // The same requests, written differently: "/x" and "/x/", ":id" and ":name".
      const written = parsed.kind === 'regex' ? parsed.text : `${parsed.kind}:${parsed.segments.map((s) => (s.kind === 'param' ? ':' : s.value)).join('/')}`;
      // Two case-insensitive routes whose paths differ only in case match the same requests.
      const shape = r.case_insensitive === true ? `ci:${parsed.kind === 'regex' ? written.toLowerCase() : foldCase(written)}` : written;
      const key = `${host}|${shape}|${methods}|${headers}|${queryKey(r)}|${listeners}`;
      const first = matchKeys.get(key);
      if (first !== undefined && first !== where) add([...at, 'paths'], `matches exactly the same requests as ${first}; one of them could never be chosen`);
      else matchKeys.set(key, where);
    }
  }
}

/** `routes[].listeners` names proxy listeners that exist. */
function checkRouteListeners(c: RawConfig, r: RawRoute, at: Array<string | number>, add: (p: Array<string | number>, m: string) => void): void {
  if (r.listeners === undefined) return;
  const proxy = c.listen?.proxy;
  // A listener's own name, and the names its server names select (sni_names).
  const names = Array.isArray(proxy) ? proxy.flatMap((l) => (typeof l === 'string' ? [] : [...(l.name !== undefined ? [l.name] : []), ...Object.values(l.sni_names ?? {})])) : [];
  r.listeners.forEach((n, k) => {
    if (names.includes(n)) return;
    const hint = didYouMean(n, names);
    add([...at, 'listeners', k], `no proxy listener named "${n}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
  });
}

/** A literal path that no normalized request path can equal would never match: say so at load. */
function checkRouteSpelling(r: RawRoute, at: Array<string | number>, add: (p: Array<string | number>, m: string) => void, paths: RawConfig['paths']): void {
  const policy: PathPolicy = { escapedSlashes: paths?.escaped_slashes ?? 'reject', semicolons: 'reject' };
  r.paths.forEach((p, k) => {
    const parsed = parsePathPattern(p);
    if (typeof parsed === 'string' || parsed.kind === 'regex') return;
    const literal = '/' + parsed.segments.map((s) => (s.kind === 'param' ? 'x' : s.value)).join('/');
    const normalized = normalizePath(literal, policy);
    if (!normalized.startsWith('/')) add([...at, 'paths', k], `never matches: requests with such a path are refused (${normalized.replace(/^request path /, '')})`);
    else if (normalized !== literal) add([...at, 'paths', k], `never matches: request paths are normalized first, write it as ${JSON.stringify(normalized)} (docs/routing.md)`);
  });
}

/** Plugins that work from the service's OpenAPI document, on a service without one. */
function checkOpenApiPlugins(s: RawService, at: Array<string | number>, registry: PluginRegistry, add: (p: Array<string | number>, m: string) => void): void {
  const scopes: Array<[Record<string, unknown> | undefined, Array<string | number>]> = [[s.plugins, [...at, 'plugins']], ...(s.routes ?? []).map((r, j): [Record<string, unknown> | undefined, Array<string | number>] => [r.plugins, [...at, 'routes', j, 'plugins']])];
  for (const [map, path] of scopes) {
    for (const name of Object.keys(map ?? {})) {
      if (registry.get(name)?.needsOpenApi === true) add([...path, name], `plugin "${name}" works from the service's OpenAPI document: give service "${s.name}" an "openapi: { spec: FILE }"`);
    }
  }
}

function checkPlugins(map: Record<string, unknown> | undefined, at: Array<string | number>, registry: PluginRegistry, env: CheckEnvironment, add: (p: Array<string | number>, m: string) => void): void {
  for (const [name, config] of Object.entries(map ?? {})) {
    const plugin = registry.get(name);
    for (const p of plugin?.check?.(config, env) ?? []) add([...at, name, ...p.path], p.message);
  }
}

/** What plugins' checks may know of the config: its upstreams (the first of a duplicated name). */
function checkEnvironment(c: RawConfig): CheckEnvironment {
  const upstreams = new Map<string, { protocol: 'http' | 'grpc' }>();
  for (const u of c.upstreams ?? []) {
    if (upstreams.has(u.name)) continue;
    const grpc = u.targets.some((t) => /^grpcs?(:|$)/i.test(t.url ?? t.scheme ?? 'http'));
    upstreams.set(u.name, { protocol: grpc ? 'grpc' : 'http' });
  }
  const upstreamNames = [...upstreams.keys()];
  return { upstream: (name) => upstreams.get(name), upstreamNames };
}

function checkTarget(t: RawTarget, at: Array<string | number>, add: (p: Array<string | number>, m: string) => void): void {
  if ((t.url === undefined) === (t.srv === undefined)) return add(at, 'a target has either "url" (with "weight") or "srv" (with "scheme")');
  if (t.srv !== undefined) {
    if (t.weight !== undefined) add([...at, 'weight'], 'an SRV target takes its weights from the SRV records');
    return;
  }
  if (t.scheme !== undefined) add([...at, 'scheme'], 'applies to "srv" targets; a "url" has its scheme');
  const msg = checkTargetUrl(t.url!);
  if (msg) add([...at, 'url'], msg);
}

function checkTargetUrl(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return `"${text}" is not a valid URL`;
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) return 'a target is an origin (scheme://host:port); put a base path on the service URL instead';
  if (u.username || u.password) return 'must not contain credentials';
  return undefined;
}

/** Every target of an upstream speaks the same protocol; `tls` needs TLS targets and readable files. */
function checkUpstreamProtocols(u: RawUpstream, at: Array<string | number>, add: (p: Array<string | number>, m: string) => void): void {
  const kinds = new Set(u.targets.map((t) => (/^grpcs?(:|$)/i.test(t.url ?? t.scheme ?? 'http') ? 'grpc' : 'http')));
  if (kinds.size > 1) add([...at, 'targets'], 'mixes grpc:// and http:// targets; put them in separate upstreams');
  const tls = u.tls;
  if (tls === undefined) return;
  if (!u.targets.some((t) => /^(https|grpcs)(:|$)/i.test(t.url ?? t.scheme ?? 'http'))) add([...at, 'tls'], 'applies to https:// and grpcs:// targets only; this upstream has none');
  for (const k of ['ca', 'client_cert', 'client_key'] as const) {
    const file = tls[k];
    if (file !== undefined && !existsSync(file)) add([...at, 'tls', k], `file not found: ${file}`);
  }
  if ((tls.client_cert === undefined) !== (tls.client_key === undefined)) add([...at, 'tls'], 'client_cert and client_key go together');
  else if (tls.client_cert !== undefined && existsSync(tls.client_cert) && existsSync(tls.client_key!)) {
    const msg = checkKeyPair(tls.client_cert, tls.client_key!);
    if (msg) add([...at, 'tls', 'client_cert'], msg);
  }
  if (tls.expect_san !== undefined && tls.verify === false) add([...at, 'tls', 'expect_san'], 'needs verify: true (an unverified certificate proves no identity)');
}

/**
 * Two listeners of one config on one address: the second could never bind. A wildcard host
 * (0.0.0.0, ::) takes the port on every address of its family (:: on both, dual-stack).
 * Port 0 (any free port) never clashes.
 */
function sharedListenerAddresses(c: RawConfig): ConfigProblem[] {
  const listen = c.listen;
  if (listen === undefined) return [];
  const all: Array<{ path: Array<string | number>; name: string; text: string }> = [];
  const proxy = listen.proxy;
  if (typeof proxy === 'string') all.push({ path: ['listen', 'proxy'], name: 'listen.proxy', text: proxy });
  else if (Array.isArray(proxy)) proxy.forEach((l, i) => all.push({ path: ['listen', 'proxy', i], name: `listen.proxy[${i}]`, text: typeof l === 'string' ? l : l.address }));
  for (const k of ['status', 'admin', 'portal'] as const) {
    const text = listen[k];
    if (typeof text === 'string') all.push({ path: ['listen', k], name: `listen.${k}`, text });
  }
  const seen: Array<{ name: string; host: string; port: number }> = [];
  const problems: ConfigProblem[] = [];
  for (const l of all) {
    const a = parseAddress(l.text);
    if (typeof a === 'string' || a.port === 0) continue;
    const clash = seen.find((s) => s.port === a.port && addressesOverlap(s.host, a.host));
    if (clash !== undefined) problems.push({ path: l.path, message: `${formatAddress(a.host, a.port)} is also the address of ${clash.name}: two listeners cannot share an address` });
    seen.push({ name: l.name, host: a.host, port: a.port });
  }
  return problems;
}

function addressesOverlap(a: string, b: string): boolean {
  if (a === b || a === '::' || b === '::') return true;
  return (a === '0.0.0.0' && isIP(b) !== 6) || (b === '0.0.0.0' && isIP(a) !== 6);
}

/** A PEM certificate and its private key, readable and matching. */
function checkKeyPair(certFile: string, keyFile: string): string | undefined {
  return checkPemPair(() => readFileSync(certFile), () => readFileSync(keyFile), certFile, keyFile);
}

function checkPemPair(certPem: () => string | Buffer, keyPem: () => string | Buffer, certFile: string, keyFile: string): string | undefined {
  try {
    const cert = new X509Certificate(certPem());
    const key = createPrivateKey(keyPem());
    if (!cert.checkPrivateKey(key)) return `the key in ${keyFile} does not belong to the certificate in ${certFile}`;
  } catch (err) {
    return `cannot read the certificate or key (${(err as Error).message})`;
  }
  return undefined;
}
