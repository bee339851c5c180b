// A runner for Gateway API conformance cases against Northgate in --kubernetes-manifests mode,
// in-process (the controller, the control plane and the gateway `start` builds, without a
// child process per case). For each case: the suite's base manifests and the case's manifest,
// verbatim but for the GatewayClass name, in a temporary directory, plus generated
// EndpointSlices pointing every Service at a local echo backend per Deployment (the suite's
// echo JSON: test/helpers/echo-backend.ts); every Gateway listener port mapped to a free local
// port. Then the status the case expects (read as `northgate kubernetes status` computes it) and
// the requests it makes, checked the way the suite's CompareRequest checks them.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { createLogger } from '../../src/base/logger.js';
import { KubernetesController, type ComputedStatus } from '../../src/kubernetes/controller.js';
import { translate } from '../../src/kubernetes/translate/index.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { Gateway } from '../../src/runtime/gateway.js';
import { KubernetesPlane } from '../../src/runtime/kubernetes.js';
import { canonicalHeader, startEchoBackend, type EchoBackend, type EchoRequest } from './echo-backend.js';
import { writeManifests } from './conformance-run.js';
import { stablePort } from './ports.js';
import { TEST_ENGINE, tempDir } from './servers.js';
import { writeFileSync } from 'node:fs';
import { CertDir } from './certs.js';
import { GRPC_SERVICE, grpcCall, startGrpcEchoBackend } from './echo-backend.js';

export const MANIFESTS = '/work/shared/conformance/gateway-api/manifests';
export const INFRA = 'gateway-conformance-infra';
const CLASS = 'northgate';

/** One request of a case and what the suite expects of it (conformance/utils/http ExpectedResponse). */
export interface Expect {
  readonly path: string;
  readonly host?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  /** Response headers the echo is asked to set (X-Echo-Set-Header). */
  readonly backendSetResponseHeaders?: Record<string, string>;
  /** The Gateway (namespace/name) and listener whose port is dialled; default the infra `same-namespace`, its first listener. */
  readonly gateway?: string;
  readonly listener?: string;
  /** A declared port to dial instead of the listener's. */
  readonly port?: number;
  readonly status?: number;
  /** Any of these statuses (the suite's StatusCodes), instead of `status`. */
  readonly statuses?: readonly number[];
  /** The answer is not the echo's (a preflight the gateway answers itself): no request checks. */
  readonly noEcho?: boolean;
  /** The echo's retry simulation: these query parameters and a fresh `uuid` on `path`. */
  readonly retrySimulation?: Record<string, string>;
  /** The request is sent this many times, each checked (default 1). */
  readonly repeat?: number;
  /** The backend the echo's pod must start with is the value of this request header as the backend saw it (exactly one). */
  readonly backendFromHeader?: string;
  readonly backend?: string;
  readonly namespace?: string;
  readonly expectedRequest?: { readonly path?: string; readonly host?: string; readonly headers?: Record<string, string>; readonly absentHeaders?: readonly string[] };
  readonly responseHeaders?: Record<string, string>;
  /** Response headers that must be present with one of these values, whitespace ignored (the suite's ValidHeaderValues with IgnoreWhitespace). */
  readonly validResponseHeaders?: Record<string, readonly string[]>;
  readonly absentResponseHeaders?: readonly string[];
  readonly redirect?: { readonly scheme?: string; readonly host?: string; readonly port?: string; readonly path?: string };
  /** Deployments (in the infra namespace) that must receive a copy of the request (ExpectMirroredRequest). */
  readonly mirroredTo?: readonly string[];
  /** HTTPS with this SNI, trusting the certificate of the suite's Secrets. */
  readonly tls?: { readonly serverName: string };
  /** A gRPC call of the suite's echo service instead of an HTTP request (`path` is unused); `code` expected, default OK. */
  readonly grpc?: { readonly method: 'Echo' | 'EchoTwo' | 'EchoThree'; readonly metadata?: Record<string, string>; readonly authority?: string; readonly code?: number };
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False';
  readonly reason?: string;
}

export interface ConformanceCase {
  /** The suite's ShortName. */
  readonly name: string;
  /** conformance/tests/<manifest>.yaml (several: applied together) */
  readonly manifest: string | readonly string[];
  /** Routes (namespace/name) that must be Accepted with ResolvedRefs on `gateway` (GatewayAndHTTPRoutesMustBeAccepted). */
  readonly accepted?: readonly string[];
  /** The Gateway of `accepted` (default the infra `same-namespace`). */
  readonly gateway?: string;
  readonly requests?: readonly Expect[];
  /** Route parent conditions (HTTPRouteMustHaveCondition / MustHaveParents). */
  readonly parents?: ReadonlyArray<{ readonly route: string; readonly gateway: string; readonly conditions: readonly Condition[] }>;
  /** Gateway listener status (GatewayStatusMustHaveListeners). */
  readonly listeners?: ReadonlyArray<{ readonly gateway: string; readonly name: string; readonly attachedRoutes?: number; readonly conditions?: readonly Condition[] }>;
  /** Gateway conditions. */
  readonly gatewayConditions?: ReadonlyArray<{ readonly gateway: string; readonly conditions: readonly Condition[] }>;
  /** Weighted backends: `requests` GETs of `path`, each backend's share within `tolerance` of its expected fraction. */
  readonly weights?: { readonly path: string; readonly requests: number; readonly shares: Record<string, number>; readonly tolerance: number };
  /** Weighted gRPC backends: `requests` Echo calls, each backend's share within `tolerance` of its fraction. */
  readonly grpcWeights?: { readonly requests: number; readonly shares: Record<string, number>; readonly tolerance: number };
  /** Percentage mirroring: `requests` GETs of `path`, the share `mirror` (a Deployment of the infra namespace) received within `tolerance` of `share`. */
  readonly mirrorShares?: ReadonlyArray<{ readonly path: string; readonly headers?: Record<string, string>; readonly requests: number; readonly mirror: string; readonly share: number; readonly tolerance: number }>;
  /** Gateways (namespace/name) whose status must have conditions, each observing the Gateway's generation (GatewayMustHaveLatestConditions). */
  readonly latestConditions?: readonly string[];
  /** Routes (namespace/name) with no accepted parent (HTTPRouteMustHaveNoAcceptedParents). */
  readonly noAcceptedParents?: readonly string[];
  /** EndpointSlices of the case's manifest (IPv4, in the infra namespace) given the endpoint of this Deployment's echo, as the suite patches them. */
  readonly manualEndpointSlices?: { readonly deployment: string; readonly slices: readonly string[] };
  /** Why the case is not run here. */
  readonly skip?: string;
}

export interface CaseResult {
  readonly name: string;
  readonly result: 'passed' | 'failed' | 'skipped';
  readonly detail: string;
}

type Doc = Record<string, any>;

const logger = createLogger({ level: 'silent' });

function readManifest(name: string): string {
  return readFileSync(join(MANIFESTS, `conformance__${name.replace(/\//g, '__')}.yaml`), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', CLASS);
}

const parsedDocs = new Map<string, Doc[]>();

/** The documents of a manifest text, parsed once per process (the base manifests are in every case); a fresh copy each call. */
function docsOf(text: string): Doc[] {
  let docs = parsedDocs.get(text);
  if (docs === undefined) {
    docs = parseAllDocuments(text)
      .map((d) => d.toJS() as Doc | null)
      .filter((d): d is Doc => d !== null && typeof d === 'object');
    parsedDocs.set(text, docs);
  }
  return structuredClone(docs);
}

/** The echo backends of the run, one per Deployment (namespace/name), started when first needed. */
export class Backends {
  readonly #started = new Map<string, Promise<EchoBackend>>();
  #secrets: Doc[] | null = null;
  /** The CA the Secrets' certificate is signed by (PEM), once secrets() ran. */
  ca: Buffer | null = null;

  /**
   * The TLS Secrets the suite creates before it runs (a self-signed certificate): the infra
   * namespace's tls-validity-checks-certificate and the web backend namespace's certificate.
   */
  secrets(): Doc[] {
    if (this.#secrets !== null) return this.#secrets;
    const certs = new CertDir().ca('ca').leaf('gw', 'example.org', 'ca', 'DNS:example.org,DNS:*.example.org,DNS:second-example.org,DNS:unknown-example.org,DNS:*.wildcard.org,DNS:*.example.com');
    this.ca = certs.read('ca.crt');
    const data = { 'tls.crt': certs.read('gw.crt').toString('base64'), 'tls.key': certs.read('gw.key').toString('base64') };
    const secret = (namespace: string, name: string): Doc => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'kubernetes.io/tls', data });
    return (this.#secrets = [secret(INFRA, 'tls-validity-checks-certificate'), secret('gateway-conformance-web-backend', 'certificate')]);
  }

  get(namespace: string, deployment: string, grpcEcho = false): Promise<EchoBackend> {
    const key = `${namespace}/${deployment}`;
    let b = this.#started.get(key);
    // A pod name as the suite's Deployments give them: <deployment>-<replica set hash>-<suffix>.
    if (b === undefined) this.#started.set(key, (b = (grpcEcho ? startGrpcEchoBackend : startEchoBackend)(namespace, `${deployment}-6d4f9c7b8-x2k9q`)));
    return b;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#started.values()].map(async (b) => (await b).close()));
  }
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** EndpointSlices for every Service with a selector, pointing at the echo of the Deployment it selects. */
async function endpointSlicesFor(docs: readonly Doc[], backends: Backends): Promise<Doc[]> {
  const out: Doc[] = [];
  for (const svc of docs.filter((d) => d['kind'] === 'Service')) {
    const ns = svc['metadata']['namespace'] ?? 'default';
    const selector = svc['spec']?.['selector'] as Record<string, string> | undefined;
    if (selector === undefined) continue;
    const deployment = docs.find((d) => d['kind'] === 'Deployment' && (d['metadata']['namespace'] ?? 'default') === ns && matches(selector, d['spec']?.['template']?.['metadata']?.['labels']));
    if (deployment === undefined) continue;
    // The suite's gRPC backends run the echo with GRPC_ECHO_SERVER set.
    const env = (deployment['spec']?.['template']?.['spec']?.['containers']?.[0]?.['env'] ?? []) as Doc[];
    const echo = await backends.get(ns, deployment['metadata']['name'], env.some((v) => v['name'] === 'GRPC_ECHO_SERVER'));
    const ports = (svc['spec']['ports'] as Doc[]).map((p) => ({ ...(p['name'] !== undefined ? { name: p['name'] } : {}), port: echo.port, protocol: 'TCP', ...(p['appProtocol'] !== undefined ? { appProtocol: p['appProtocol'] } : {}) }));
    out.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${svc['metadata']['name']}-local`, namespace: ns, labels: { 'kubernetes.io/service-name': svc['metadata']['name'] } },
      addressType: 'IPv4',
      ports,
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: echo.pod, namespace: ns } }],
    });
  }
  return out;
}

interface Running {
  readonly backends: Backends;
  readonly statuses: readonly ComputedStatus[];
  readonly docs: readonly Doc[];
  readonly ports: ReadonlyMap<number, number>;
  stop(): Promise<void>;
}

/** The manifest with the named EndpointSlices pointing at the Deployment's echo (its pod, its port). */
async function fillSlices(text: string, fill: NonNullable<ConformanceCase['manualEndpointSlices']>, backends: Backends): Promise<string> {
  const echo = await backends.get(INFRA, fill.deployment);
  const docs = docsOf(text).map((d) => {
    if (d['kind'] !== 'EndpointSlice' || !fill.slices.includes(d['metadata']['name'])) return d;
    return {
      ...d,
      ports: ((d['ports'] ?? []) as Doc[]).map((p) => ({ ...p, port: echo.port })),
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false }, targetRef: { kind: 'Pod', name: echo.pod, namespace: INFRA } }],
    };
  });
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Northgate on the case's manifests, as `start --kubernetes-manifests DIR --port-map ... --bind-address 127.0.0.1` runs it. */
async function start(c: ConformanceCase, base: string, backends: Backends): Promise<Running> {
  const texts = (typeof c.manifest === 'string' ? [c.manifest] : c.manifest).map((m) => readManifest(`tests/${m}`));
  const docs = [...docsOf(base), ...texts.flatMap(docsOf)];
  const dir = tempDir('northgate-conformance-');
  writeFileSync(join(dir, 'base.yaml'), base);
  for (const [i, text] of texts.entries()) writeFileSync(join(dir, `test-${i}.yaml`), c.manualEndpointSlices === undefined ? text : await fillSlices(text, c.manualEndpointSlices, backends));
  writeManifests(dir, 'secrets.yaml', backends.secrets());
  // The suite creates the GatewayClass itself (its name is a flag); the EndpointSlices are what the pods would get.
  writeManifests(dir, 'gatewayclass.yaml', [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: 'northgate.io/gateway-controller' } }]);
  writeManifests(dir, 'endpointslices.yaml', await endpointSlicesFor(docs, backends));
  const ports = new Map<number, number>();
  for (const g of docs.filter((d) => d['kind'] === 'Gateway')) for (const l of g['spec']['listeners'] ?? []) if (!ports.has(l.port)) ports.set(l.port, await stablePort());
  const controller = new KubernetesController({
    source: { kind: 'manifests', dir },
    translate,
    translateOptions: { portMap: ports, bindAddress: '127.0.0.1', addresses: ['127.0.0.1'] },
    logger,
    store: { quietMs: 10, maxDelayMs: 100 },
  });
  const registry = defaultRegistry();
  const plane = await KubernetesPlane.prepare({ feed: controller, settings: { _format_version: '1', engine: TEST_ENGINE, listen: { status: null } }, registry, logger });
  const gateway = new Gateway({ registry, logger, loadConfig: () => plane.loadConfig(), source: dir, followListeners: true });
  gateway.load();
  await gateway.listen();
  await plane.start(() => void gateway.reload());
  return {
    backends,
    statuses: controller.translation?.statuses ?? [],
    docs,
    ports,
    stop: async () => {
      await plane.close();
      await gateway.drain(200);
    },
  };
}

const split = (nn: string): [string, string] => {
  const i = nn.indexOf('/');
  return [nn.slice(0, i), nn.slice(i + 1)];
};

function statusOf(r: Running, kind: string, nn: string): Record<string, any> | undefined {
  const [ns, name] = split(nn);
  return r.statuses.find((s) => s.kind === kind && (s.namespace ?? '') === (kind === 'GatewayClass' ? '' : ns) && s.name === name)?.status;
}

function conditionProblems(where: string, actual: ReadonlyArray<Record<string, any>> | undefined, expected: readonly Condition[]): string[] {
  const out: string[] = [];
  for (const e of expected) {
    const a = (actual ?? []).find((c) => c['type'] === e.type);
    if (a === undefined) out.push(`${where}: no ${e.type} condition`);
    else if (a['status'] !== e.status || (e.reason !== undefined && a['reason'] !== e.reason)) out.push(`${where}: ${e.type}=${a['status']} (${a['reason']}), expected ${e.status}${e.reason !== undefined ? ` (${e.reason})` : ''}`);
  }
  return out;
}

function parentStatus(r: Running, route: string, gateway: string): Record<string, any> | undefined {
  const [rns] = split(route);
  const [gns, gname] = split(gateway);
  const parents = (statusOf(r, 'HTTPRoute', route)?.['parents'] ?? statusOf(r, 'GRPCRoute', route)?.['parents'] ?? []) as Array<Record<string, any>>;
  return parents.find((p) => p['parentRef']?.['name'] === gname && (p['parentRef']?.['namespace'] ?? rns) === gns);
}

function checkStatus(c: ConformanceCase, r: Running): string[] {
  const out: string[] = [];
  const gw = c.gateway ?? `${INFRA}/same-namespace`;
  if (c.accepted !== undefined) {
    const g = statusOf(r, 'Gateway', gw);
    if (g === undefined) out.push(`Gateway ${gw}: no status`);
    else {
      if (!Array.isArray(g['addresses']) || g['addresses'].length === 0 || g['addresses'][0]['type'] === undefined) out.push(`Gateway ${gw}: no status.addresses with a type`);
      for (const l of (g['listeners'] ?? []) as Array<Record<string, any>>) out.push(...conditionProblems(`Gateway ${gw} listener ${l['name']}`, l['conditions'], [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }, { type: 'Programmed', status: 'True' }]));
    }
    for (const route of c.accepted) {
      const p = parentStatus(r, route, gw);
      if (p === undefined) out.push(`${route}: no parent status for ${gw}`);
      else {
        if (p['controllerName'] !== 'northgate.io/gateway-controller') out.push(`${route}: controllerName ${p['controllerName']}`);
        out.push(...conditionProblems(route, p['conditions'], [{ type: 'Accepted', status: 'True', reason: 'Accepted' }, { type: 'ResolvedRefs', status: 'True' }]));
      }
    }
  }
  for (const e of c.parents ?? []) {
    const p = parentStatus(r, e.route, e.gateway);
    if (p === undefined) out.push(`${e.route}: no parent status for ${e.gateway}`);
    else out.push(...conditionProblems(`${e.route} → ${e.gateway}`, p['conditions'], e.conditions));
  }
  for (const e of c.listeners ?? []) {
    const l = ((statusOf(r, 'Gateway', e.gateway)?.['listeners'] ?? []) as Array<Record<string, any>>).find((x) => x['name'] === e.name);
    if (l === undefined) {
      out.push(`Gateway ${e.gateway}: no listener status ${e.name}`);
      continue;
    }
    if (e.attachedRoutes !== undefined && l['attachedRoutes'] !== e.attachedRoutes) out.push(`Gateway ${e.gateway} listener ${e.name}: attachedRoutes ${l['attachedRoutes']}, expected ${e.attachedRoutes}`);
    out.push(...conditionProblems(`Gateway ${e.gateway} listener ${e.name}`, l['conditions'], e.conditions ?? []));
  }
  for (const e of c.gatewayConditions ?? []) out.push(...conditionProblems(`Gateway ${e.gateway}`, statusOf(r, 'Gateway', e.gateway)?.['conditions'], e.conditions));
  for (const gw of c.latestConditions ?? []) {
    const [ns, name] = split(gw);
    const doc = r.docs.find((d) => d['kind'] === 'Gateway' && d['metadata']['name'] === name && (d['metadata']['namespace'] ?? 'default') === ns);
    const conditions = (statusOf(r, 'Gateway', gw)?.['conditions'] ?? []) as Array<Record<string, any>>;
    if (conditions.length === 0) out.push(`Gateway ${gw}: no conditions`);
    const generation = doc?.['metadata']?.['generation'];
    for (const x of conditions) if (x['observedGeneration'] !== generation) out.push(`Gateway ${gw}: ${x['type']} observedGeneration ${x['observedGeneration']}, the Gateway's generation ${generation}`);
  }
  for (const route of c.noAcceptedParents ?? []) {
    const parents = (statusOf(r, 'HTTPRoute', route)?.['parents'] ?? []) as Array<Record<string, any>>;
    for (const p of parents) if (((p['conditions'] ?? []) as Array<Record<string, any>>).some((x) => x['type'] === 'Accepted' && x['status'] === 'True')) out.push(`${route}: parent ${p['parentRef']?.['name']} is accepted`);
  }
  return out;
}

interface Captured {
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly echo: EchoRequest | null;
}

function send(port: number, e: Expect, host: string, ca: Buffer | null = null): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, ...(e.headers ?? {}) };
    if (e.backendSetResponseHeaders !== undefined) headers['X-Echo-Set-Header'] = Object.entries(e.backendSetResponseHeaders).map(([k, v]) => `${k}:${v}`).join(',');
    const options = { host: '127.0.0.1', port, method: e.method ?? 'GET', path: e.path, headers, agent: false as const, timeout: 5000 };
    const respond = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out: Record<string, string[]> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) (out[res.rawHeaders[i]!.toLowerCase()] ??= []).push(res.rawHeaders[i + 1]!);
        let echo: EchoRequest | null = null;
        if (res.headers['content-type'] === 'application/json') {
          try {
            echo = JSON.parse(Buffer.concat(chunks).toString()) as EchoRequest;
          } catch {
            echo = null;
          }
        }
        resolve({ status: res.statusCode!, headers: out, echo });
      });
    };
    const req = e.tls !== undefined ? httpsRequest({ ...options, servername: e.tls.serverName, ...(ca !== null ? { ca } : {}) }, respond) : request(options, respond);
    req.on('timeout', () => req.destroy(new Error('timed out after 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** The declared port a request of the case dials. */
function declaredPort(r: Running, e: Expect): number {
  if (e.port !== undefined) return e.port;
  const [ns, name] = split(e.gateway ?? `${INFRA}/same-namespace`);
  const g = r.docs.find((d) => d['kind'] === 'Gateway' && d['metadata']['name'] === name && (d['metadata']['namespace'] ?? 'default') === ns);
  const listeners = (g?.['spec']?.['listeners'] ?? []) as Doc[];
  const l = e.listener !== undefined ? listeners.find((x) => x['name'] === e.listener) : listeners[0];
  if (l === undefined) throw new Error(`no listener ${e.listener ?? '[0]'} on Gateway ${ns}/${name}`);
  return l['port'] as number;
}

/** The suite's CompareRequest, for one request (sent `repeat` times). */
async function checkRequest(r: Running, e: Expect): Promise<string | null> {
  for (let i = 0; i < (e.repeat ?? 1); i++) {
    const p = await checkOnce(r, e.retrySimulation === undefined ? e : { ...e, path: `${e.path}?${new URLSearchParams({ ...e.retrySimulation, uuid: randomUUID() }).toString()}` });
    if (p !== null) return e.repeat !== undefined ? `${p} (request ${i + 1} of ${e.repeat})` : p;
  }
  return null;
}

const noSpace = (v: string): string => v.replace(/\s+/g, '');

async function checkOnce(r: Running, e: Expect): Promise<string | null> {
  const declared = declaredPort(r, e);
  // As the suite dials the Gateway's address: the Host is the address, with the port unless it is 80.
  const host = e.host ?? (declared === (e.tls !== undefined ? 443 : 80) ? '127.0.0.1' : `127.0.0.1:${declared}`);
  if (e.grpc !== undefined) return checkGrpc(r.ports.get(declared)!, e, e.grpc.authority ?? host);
  const label = `${e.method ?? 'GET'} ${host}${e.path}`;
  let got: Captured;
  try {
    got = await send(r.ports.get(declared)!, e, host, r.backends.ca);
  } catch (err) {
    return `${label}: ${(err as Error).message}`;
  }
  const statuses = e.statuses ?? [e.status ?? 200];
  if (!statuses.includes(got.status)) return `${label}: status ${got.status}, expected ${statuses.join(' or ')}`;
  for (const [name, value] of Object.entries(e.responseHeaders ?? {})) {
    const v = got.headers[name.toLowerCase()];
    if (v === undefined) return `${label}: no response header ${name}`;
    if (v.join(',') !== value) return `${label}: response ${name}: ${v.join(',')}, expected ${value}`;
  }
  for (const [name, values] of Object.entries(e.validResponseHeaders ?? {})) {
    const v = got.headers[name.toLowerCase()];
    if (v === undefined) return `${label}: no response header ${name}`;
    if (!values.map(noSpace).includes(noSpace(v.join(',')))) return `${label}: response ${name}: ${v.join(',')}, expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}`;
  }
  for (const name of e.absentResponseHeaders ?? []) if (got.headers[name.toLowerCase()] !== undefined) return `${label}: response has ${name}`;
  if (got.status === 200 && e.noEcho !== true) {
    const echo = got.echo;
    if (echo === null) return `${label}: not an echo response`;
    const want = e.expectedRequest ?? { path: e.path, headers: e.headers };
    if (e.expectedRequest?.host !== undefined && echo.host !== e.expectedRequest.host) return `${label}: backend saw host ${echo.host}, expected ${e.expectedRequest.host}`;
    if ((want.path ?? e.path) !== echo.path) return `${label}: backend saw path ${echo.path}, expected ${want.path ?? e.path}`;
    if ((e.method ?? 'GET') !== echo.method && e.expectedRequest === undefined) return `${label}: backend saw method ${echo.method}`;
    if ((e.namespace ?? INFRA) !== echo.namespace) return `${label}: namespace ${echo.namespace}, expected ${e.namespace ?? INFRA}`;
    const seen = new Map(Object.entries(echo.headers).map(([k, v]) => [k.toLowerCase(), v]));
    for (const [name, value] of Object.entries(want.headers ?? {})) {
      const v = seen.get(name.toLowerCase());
      if (v === undefined) return `${label}: backend did not get ${name}`;
      if (v.join(',') !== value) return `${label}: backend got ${name}: ${v.join(',')}, expected ${value}`;
    }
    for (const name of e.expectedRequest?.absentHeaders ?? []) if (seen.has(name.toLowerCase())) return `${label}: backend got ${name}, expected it removed`;
    if (e.backend !== undefined && !echo.pod.startsWith(e.backend)) return `${label}: pod ${echo.pod}, expected ${e.backend}`;
    if (e.backendFromHeader !== undefined) {
      const v = seen.get(e.backendFromHeader.toLowerCase()) ?? [];
      if (v.length !== 1) return `${label}: backend got ${v.length} ${e.backendFromHeader} headers, expected 1`;
      if (!echo.pod.startsWith(v[0]!)) return `${label}: pod ${echo.pod}, but its ${e.backendFromHeader} header says ${v[0]}`;
    }
    for (const deployment of e.mirroredTo ?? []) {
      const mirror = await r.backends.get(INFRA, deployment);
      const pathOnly = e.path;
      let found = false;
      // The copy is sent beside the request, not before its answer: wait for it (bounded).
      for (let i = 0; i < 100 && !found; i++) {
        found = mirror.seen.some((x) => x.path === pathOnly);
        if (!found) await new Promise((res) => setTimeout(res, 20));
      }
      if (!found) return `${label}: no mirrored request reached ${deployment}`;
    }
  } else if (got.status >= 300 && got.status < 400 && e.redirect !== undefined) {
    const location = got.headers['location']?.[0];
    if (location === undefined) return `${label}: no Location`;
    let u: URL;
    try {
      u = new URL(location);
    } catch {
      return `${label}: Location ${location} is not an absolute URL`;
    }
    const scheme = u.protocol.slice(0, -1);
    const want = { scheme: e.redirect.scheme ?? (e.tls !== undefined ? 'https' : 'http'), host: e.redirect.host ?? u.hostname, path: e.redirect.path ?? e.path.split('?')[0] };
    if (u.hostname !== want.host) return `${label}: redirect host ${u.hostname}, expected ${want.host} (${location})`;
    if (e.redirect.port === undefined) {
      if (scheme === 'http' && u.port !== '' && u.port !== '80') return `${label}: redirect port ${u.port} for http (${location})`;
      if (scheme === 'https' && u.port !== '' && u.port !== '443') return `${label}: redirect port ${u.port} for https (${location})`;
    } else if (u.port !== e.redirect.port) return `${label}: redirect port "${u.port}", expected "${e.redirect.port}" (${location})`;
    if (scheme !== want.scheme) return `${label}: redirect scheme ${scheme}, expected ${want.scheme} (${location})`;
    if (u.pathname !== want.path) return `${label}: redirect path ${u.pathname}, expected ${want.path} (${location})`;
  }
  return null;
}

/** The suite's gRPC compareResponse: the code, and when OK the method, namespace and pod the echo reports. */
async function checkGrpc(port: number, e: Expect, authority: string): Promise<string | null> {
  const g = e.grpc!;
  const label = `gRPC ${g.method} (${authority})`;
  const got = await grpcCall(port, g.method, g.metadata ?? {}, authority);
  const code = g.code ?? 0;
  if (got.code !== code) return `${label}: code ${got.code}, expected ${code}${got.message ? ` (${got.message})` : ''}`;
  if (code !== 0) return null;
  const a = got.response!;
  if (a.fully_qualified_method !== `/${GRPC_SERVICE}/${g.method}`) return `${label}: method ${a.fully_qualified_method}`;
  if ((e.namespace ?? INFRA) !== a.context.namespace) return `${label}: namespace ${a.context.namespace}`;
  if (e.backend !== undefined && !a.context.pod.startsWith(e.backend)) return `${label}: pod ${a.context.pod}, expected ${e.backend}`;
  return null;
}

async function checkWeights(r: Running, w: NonNullable<ConformanceCase['weights']>): Promise<string[]> {
  const port = r.ports.get(declaredPort(r, { path: w.path }))!;
  const counts = new Map<string, number>();
  for (let i = 0; i < w.requests; i++) {
    let got: Captured;
    try {
      got = await send(port, { path: w.path }, '127.0.0.1');
    } catch (err) {
      return [`GET ${w.path}: ${(err as Error).message}`];
    }
    const backend = got.echo?.pod.split('-').slice(0, -2).join('-') ?? `status ${got.status}`;
    counts.set(backend, (counts.get(backend) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const [backend, share] of Object.entries(w.shares)) {
    const got = (counts.get(backend) ?? 0) / w.requests;
    if (Math.abs(got - share) > w.tolerance) out.push(`${backend}: ${Math.round(got * 100)}% of requests, expected ${Math.round(share * 100)}% ± ${Math.round(w.tolerance * 100)}`);
  }
  for (const backend of counts.keys()) if (!(backend in w.shares)) out.push(`${backend}: got requests, expected none`);
  return out;
}

async function checkGrpcWeights(r: Running, w: NonNullable<ConformanceCase['grpcWeights']>): Promise<string[]> {
  const declared = declaredPort(r, { path: '/' });
  const port = r.ports.get(declared)!;
  const counts = new Map<string, number>();
  for (let i = 0; i < w.requests; i++) {
    const got = await grpcCall(port, 'Echo', {}, declared === 80 ? '127.0.0.1' : `127.0.0.1:${declared}`);
    if (got.code !== 0) return [`gRPC Echo: code ${got.code}${got.message ? ` (${got.message})` : ''}`];
    const backend = got.response!.context.pod.split('-').slice(0, -2).join('-');
    counts.set(backend, (counts.get(backend) ?? 0) + 1);
  }
  const out: string[] = [];
  for (const [backend, share] of Object.entries(w.shares)) {
    const got = (counts.get(backend) ?? 0) / w.requests;
    if (Math.abs(got - share) > w.tolerance) out.push(`${backend}: ${Math.round(got * 100)}% of calls, expected ${Math.round(share * 100)}% ± ${Math.round(w.tolerance * 100)}`);
  }
  for (const backend of counts.keys()) if (!(backend in w.shares)) out.push(`${backend}: got calls, expected none`);
  return out;
}

async function checkMirrorShares(r: Running, shares: NonNullable<ConformanceCase['mirrorShares']>): Promise<string[]> {
  const out: string[] = [];
  for (const m of shares) {
    const mirror = await r.backends.get(INFRA, m.mirror);
    const copies = () => mirror.seen.filter((x) => x.path === m.path).length;
    const before = copies();
    for (let i = 0; i < m.requests; i++) {
      const p = await checkOnce(r, { path: m.path, ...(m.headers !== undefined ? { headers: m.headers, expectedRequest: { path: m.path } } : {}) });
      if (p !== null) return [p];
    }
    // Copies go beside the requests: wait until the count settles (bounded).
    let last = -1;
    for (let i = 0; i < 50 && copies() !== last; i++) {
      last = copies();
      await new Promise((res) => setTimeout(res, 40));
    }
    const got = (copies() - before) / m.requests;
    if (Math.abs(got - m.share) > m.tolerance) out.push(`${m.path}: ${Math.round(got * 100)}% mirrored to ${m.mirror}, expected ${Math.round(m.share * 100)}% ± ${Math.round(m.tolerance * 100)}`);
  }
  return out;
}

/**
 * Runs one case; once more on fresh ports when the gateway could not bind a listener port
 * (already in use) or a request found one closed. The ports are chosen free, released, then
 * bound by the gateway: another process of a parallel run may take one at that moment. A
 * listener that does not open for another reason fails both runs.
 */
export async function runCase(c: ConformanceCase, backends: Backends): Promise<CaseResult> {
  const first = await runOnce(c, backends);
  if (first.result !== 'failed' || !(first.detail.includes('ECONNREFUSED') || first.detail.includes('already in use'))) return first;
  return runOnce(c, backends);
}

/** Runs one case (bounded: one start, its requests, a stop). */
async function runOnce(c: ConformanceCase, backends: Backends): Promise<CaseResult> {
  if (c.skip !== undefined) return { name: c.name, result: 'skipped', detail: c.skip };
  const base = readManifest('base/manifests');
  let r: Running;
  try {
    r = await start(c, base, backends);
  } catch (err) {
    return { name: c.name, result: 'failed', detail: `did not start: ${(err as Error).message.split('\n')[0]}` };
  }
  try {
    const problems = checkStatus(c, r);
    for (const e of c.requests ?? []) {
      const p = await checkRequest(r, e);
      if (p !== null) problems.push(p);
    }
    if (c.weights !== undefined) problems.push(...(await checkWeights(r, c.weights)));
    if (c.grpcWeights !== undefined) problems.push(...(await checkGrpcWeights(r, c.grpcWeights)));
    if (c.mirrorShares !== undefined) problems.push(...(await checkMirrorShares(r, c.mirrorShares)));
    return { name: c.name, result: problems.length === 0 ? 'passed' : 'failed', detail: problems.slice(0, 3).join('; ') + (problems.length > 3 ? ` (+${problems.length - 3} more)` : '') };
  } finally {
    await r.stop();
  }
}

export { canonicalHeader };
