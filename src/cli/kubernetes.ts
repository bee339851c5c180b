// `northgate kubernetes render|status --manifests DIR`, and what `start --kubernetes` and
// `start --kubernetes-manifests DIR` need: the flags, the node settings file, the controller
// handed to the runtime as the feed of its control plane (runtime/kubernetes.ts).
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../base/problems.js';
import { loadConfigFile } from '../compiler/load.js';
import { readConfigFile } from '../config/source.js';
import { KubernetesController, translateDirectory, type ControllerSource, type ControllerTranslateOptions, type TranslationResult } from '../kubernetes/controller.js';
import { formatManifestProblem, type ManifestProblem } from '../kubernetes/manifests.js';
import { translate } from '../kubernetes/translate/index.js';
import type { PrepareControlPlane } from '../runtime/control-plane.js';
import { checked, FEED_SECTIONS, KubernetesPlane, mergeFeedDocument } from '../runtime/kubernetes.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import type { RawConfig } from '../config/types.js';
import { StartFailure, StartRefusal } from '../runtime/refusal.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: northgate kubernetes render --manifests DIR [--port-map 80=18080,...]
       northgate kubernetes status --manifests DIR [--port-map 80=18080,...]

  render   print the Northgate config the resources in DIR compile to (YAML)
  status   print the status computed for every GatewayClass, Gateway (with its listeners),
           HTTPRoute, GRPCRoute and Ingress in DIR (YAML), as the controller would write it

  --manifests DIR        a directory of YAML manifests (every *.yaml, *.yml, *.json below it,
                         multi-document files too)
  --port-map LIST        declared listener port=local port, comma-separated (80=18080,443=18443)
  --bind-address ADDR    the address listeners bind (default 0.0.0.0)
  --controller-name NAME the GatewayClass controllerName served (default northgate.io/gateway-controller)

Manifests that cannot be read are reported as FILE:LINE:COL on stderr and skipped.
`;

/** The flags `start` and `kubernetes` share. */
export const KUBERNETES_FLAGS = {
  'port-map': { type: 'string' },
  'bind-address': { type: 'string' },
  'controller-name': { type: 'string' },
} as const;

/** `80=18080,443=18443` → declared port → local port. */
export function parsePortMap(text: string | undefined): Map<number, number> {
  const map = new Map<number, number>();
  if (text === undefined) return map;
  const port = (s: string) => (/^[0-9]{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? Number(s) : null);
  for (const item of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(item);
    const from = m ? port(m[1]!) : null;
    const to = m ? port(m[2]!) : null;
    if (from === null || to === null) throw new UsageError(`--port-map takes DECLARED=LOCAL port pairs such as 80=18080,443=18443, not "${item}"`);
    if (map.has(from)) throw new UsageError(`--port-map names port ${from} twice`);
    map.set(from, to);
  }
  return map;
}

export function translateOptions(values: { 'port-map'?: string; 'bind-address'?: string; 'controller-name'?: string }): ControllerTranslateOptions {
  const bind = values['bind-address'];
  // The address the Gateways report: the pod's (downward API), else the one bound when it is not a wildcard.
  const podIp = process.env['POD_IP'];
  const addresses = podIp !== undefined && podIp !== '' ? [podIp] : bind !== undefined && bind !== '0.0.0.0' && bind !== '::' ? [bind] : [];
  return {
    portMap: parsePortMap(values['port-map']),
    ...(bind !== undefined ? { bindAddress: bind } : {}),
    ...(values['controller-name'] !== undefined ? { controllerName: values['controller-name'] } : {}),
    ...(addresses.length > 0 ? { addresses } : {}),
  };
}

function checkDirectory(dir: string, flag: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new UsageError(`${flag} ${dir}: not a directory`);
}

export interface KubernetesStartFlags {
  readonly kubernetes?: boolean;
  readonly kubeconfig?: string;
  readonly 'kubernetes-manifests'?: string;
  readonly 'port-map'?: string;
  readonly 'bind-address'?: string;
  readonly 'controller-name'?: string;
}

/** The control plane of `start --kubernetes` / `--kubernetes-manifests`; flag problems throw UsageError now. */
export function kubernetesControlPlane(flags: KubernetesStartFlags): PrepareControlPlane {
  const dir = flags['kubernetes-manifests'];
  if (flags.kubernetes === true && dir !== undefined) throw new UsageError('--kubernetes reads an API server, --kubernetes-manifests a directory: give one of them');
  if (flags.kubeconfig !== undefined && flags.kubernetes !== true) throw new UsageError('--kubeconfig goes with --kubernetes');
  if (dir !== undefined) checkDirectory(dir, '--kubernetes-manifests');
  const opts = translateOptions(flags);
  return async (file, registry, logger) => {
    const settings = file === null ? { _format_version: '1' } : settingsFile(file, registry);
    const source: ControllerSource = dir !== undefined ? { kind: 'manifests', dir } : { kind: 'api', kubeconfig: await kubeConfig(flags.kubeconfig), lease: leaseOptions() };
    const feed = new KubernetesController({ source, translate, translateOptions: opts, logger });
    return KubernetesPlane.prepare({ feed, settings, registry, logger });
  };
}

/** The node's settings: a config file without the sections the resources make. */
function settingsFile(file: string, registry: Parameters<PrepareControlPlane>[1]): Record<string, unknown> {
  const config = loadConfigFile(file, registry) as unknown as Record<string, unknown>;
  const listen = config['listen'] as Record<string, unknown> | undefined;
  const problems = [
    ...FEED_SECTIONS.filter((k) => config[k] !== undefined).map((k) => ({ path: [k], atKey: true, message: `in the Kubernetes modes, ${k} come from the cluster's resources; remove this section` })),
    ...(listen?.['proxy'] !== undefined ? [{ path: ['listen', 'proxy'], atKey: true, message: "in the Kubernetes modes, the proxy listeners are the Gateways' listeners; remove listen.proxy" }] : []),
    ...(config['mode'] !== undefined ? [{ path: ['mode'], atKey: true, message: 'the Kubernetes modes take no mode: the resources are the source' }] : []),
  ];
  if (problems.length > 0) throw new ConfigError(file, readConfigFile(file).locate(problems));
  return config;
}

/** The client's kubeconfig; @kubernetes/client-node is loaded here, by the API-server mode only. */
async function kubeConfig(file: string | undefined): Promise<KubeConfig> {
  // In a pod the kubelet sets these; without them the in-cluster config has no server.
  if (file === undefined && (process.env['KUBERNETES_SERVICE_HOST'] ?? '') === '') throw new StartRefusal('--kubernetes without --kubeconfig reads the in-cluster config, and KUBERNETES_SERVICE_HOST is not set (not running in a pod?); give --kubeconfig FILE');
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromCluster();
  } catch (err) {
    throw new StartFailure(`cannot read the ${file !== undefined ? `kubeconfig ${file}` : 'in-cluster config'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (kc.getCurrentCluster() === null) throw new StartRefusal(file !== undefined ? `kubeconfig ${file}: no current cluster` : 'no in-cluster config (not running in a pod?); give --kubeconfig FILE');
  return kc;
}

/** The Lease `POD_NAMESPACE/northgate-status`, held by `POD_NAME` (docs/kubernetes.md, "Notes"). */
function leaseOptions(): { namespace: string; name: string; identity: string } {
  const env = (name: string) => (process.env[name] !== undefined && process.env[name] !== '' ? process.env[name] : undefined);
  return { namespace: env('POD_NAMESPACE') ?? 'northgate-system', name: env('NORTHGATE_LEASE_NAME') ?? 'northgate-status', identity: env('POD_NAME') ?? `${hostname()}-${process.pid}` };
}

/** The one-shot read of a manifests directory (render, status, explain): problems on stderr. */
export function readDirectory(dir: string, flag: string, opts: ControllerTranslateOptions): TranslationResult {
  checkDirectory(dir, flag);
  const { translation, problems } = translateDirectory(dir, translate, opts);
  reportProblems(problems);
  return translation;
}

function reportProblems(problems: readonly ManifestProblem[]): void {
  for (const p of problems) process.stderr.write(`${formatManifestProblem(p)}\n`);
}

/**
 * `explain --kubernetes-manifests DIR`: `run` explains the request against the config the
 * manifests compile to; then every route the controller did not attach (or attached with
 * unresolved references), with the condition's reason and message, and the translation's notes.
 */
export async function explainKubernetes(dir: string, flags: KubernetesStartFlags, run: (load: (registry: PluginRegistry) => RawConfig, localPort: (declared: number) => number) => Promise<number>): Promise<number> {
  const opts = translateOptions(flags);
  const t = readDirectory(dir, '--kubernetes-manifests', opts);
  const code = await run((registry) => checked(mergeFeedDocument({ _format_version: '1' }, t.config), registry, `manifests ${dir}`), (declared) => opts.portMap?.get(declared) ?? declared);
  const lines = notAttached(t);
  if (lines.length > 0) process.stdout.write(['', 'Kubernetes resources not attached, or attached in part:', ...lines].join('\n') + '\n');
  return code;
}

interface Condition {
  readonly type?: string;
  readonly status?: string;
  readonly reason?: string;
  readonly message?: string;
}

/** One line per route parent whose Accepted or ResolvedRefs is not True, and one per note. */
export function notAttached(t: TranslationResult): string[] {
  const out: string[] = [];
  const id = (o: { namespace?: string | undefined; name: string }) => `${o.namespace !== undefined ? `${o.namespace}/` : ''}${o.name}`;
  for (const s of t.statuses) {
    if (s.kind !== 'HTTPRoute' && s.kind !== 'GRPCRoute') continue;
    const parents = Array.isArray(s.status['parents']) ? (s.status['parents'] as Array<{ parentRef?: { name?: string; namespace?: string; sectionName?: string; port?: number }; conditions?: Condition[] }>) : [];
    for (const p of parents) {
      const ref = p.parentRef ?? {};
      const parent = `${ref.namespace ?? s.namespace ?? ''}/${ref.name ?? '?'}${ref.sectionName !== undefined ? `/${ref.sectionName}` : ''}${ref.port !== undefined ? `:${ref.port}` : ''}`;
      for (const c of p.conditions ?? []) {
        if ((c.type !== 'Accepted' && c.type !== 'ResolvedRefs') || c.status === 'True') continue;
        out.push(`  ✗ ${s.kind} ${id(s)} → Gateway ${parent}: ${c.type}=${c.status ?? '?'} (${c.reason ?? 'no reason'})${c.message ? `: ${c.message}` : ''}`);
      }
    }
  }
  for (const n of t.notes) out.push(`  ! ${n.kind} ${id(n)}: ${n.message}`);
  return out;
}

export function kubernetesCommand(args: string[]): number {
  const { values, positionals } = parse('kubernetes', args, { manifests: { type: 'string' }, ...KUBERNETES_FLAGS }, true);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub !== 'render' && sub !== 'status') throw new UsageError(`kubernetes takes render or status${sub !== undefined ? `, not "${sub}"` : ''}; see northgate kubernetes --help`);
  if (extra.length > 0) throw new UsageError(`kubernetes ${sub} takes no argument "${extra[0]}"`);
  if (values.manifests === undefined) throw new UsageError(`kubernetes ${sub} needs --manifests DIR`);
  const t = readDirectory(values.manifests, '--manifests', translateOptions(values));
  if (sub === 'render') {
    process.stdout.write(stringify(mergeFeedDocument({ _format_version: '1' }, t.config)));
    for (const n of t.notes) process.stderr.write(`# ${n.kind} ${n.namespace !== undefined ? `${n.namespace}/` : ''}${n.name}: ${n.message}\n`);
    return 0;
  }
  const order = ['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'Ingress'];
  const statuses = [...t.statuses].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.namespace ?? '').localeCompare(b.namespace ?? '') || a.name.localeCompare(b.name));
  process.stdout.write(stringify(statuses.map((s) => ({ kind: s.kind, ...(s.namespace !== undefined ? { namespace: s.namespace } : {}), name: s.name, status: s.status }))));
  return 0;
}
