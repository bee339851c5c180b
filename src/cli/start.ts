import { availableParallelism } from 'node:os';
import { isWorker } from '../runtime/cluster.js';
import { createLogger } from '../base/logger.js';
import { exitOnStartError } from '../runtime/lifecycle.js';
import { parse, UsageError } from './args.js';
import { chooseConfig } from './config-source.js';

const HELP = `Usage: northgate start [--config FILE] [--workers N|auto] [--watch]
       northgate start --kubernetes [--kubeconfig FILE] [--config SETTINGS]
       northgate start --kubernetes-manifests DIR [--port-map 80=18080,443=18443] [--config SETTINGS]

  -c, --config FILE   config file (YAML or JSON). Default: ./northgate.yaml if present,
                      else the embedded default (proxy :8000, status 127.0.0.1:8100, demo upstream)
  -w, --workers N     worker processes: a number, or "auto" for one per CPU (default 1: no master)
      --watch         reload when the config file changes (SIGHUP always reloads)

Kubernetes (docs/kubernetes.md): routes from Gateway API and Ingress resources; --config then
holds the node's settings only (status listener, logging, limits, global plugins).
      --kubernetes              watch the API server (in-cluster config, or --kubeconfig FILE);
                                status is written by the replica holding the Lease
                                POD_NAMESPACE/northgate-status (identity: POD_NAME)
      --kubeconfig FILE         a kubeconfig instead of the in-cluster config
      --kubernetes-manifests DIR  the same, from a directory of YAML manifests (watched);
                                status is computed, not written: see northgate kubernetes status
      --port-map LIST           bind Gateway listener ports elsewhere: 80=18080,443=18443
                                (redirects and Host matching keep the declared ports)
      --bind-address ADDR       the address Gateway listeners bind (default 0.0.0.0)
      --controller-name NAME    the GatewayClass controllerName served (default northgate.io/gateway-controller)

Signals: SIGHUP reloads the config; SIGTERM/SIGINT drain in-flight requests and exit 0.
`;

export async function startCommand(args: string[]): Promise<number | void> {
  const logger = createLogger();
  // Each role imports only its own runtime: the master of --workers never loads the gateway.
  if (isWorker()) return (await import('../runtime/worker.js')).runWorker(logger);
  const { values } = parse('start', args, {
    config: { type: 'string', short: 'c' },
    workers: { type: 'string', short: 'w' },
    watch: { type: 'boolean' },
    kubernetes: { type: 'boolean' },
    kubeconfig: { type: 'string' },
    'kubernetes-manifests': { type: 'string' },
    'port-map': { type: 'string' },
    'bind-address': { type: 'string' },
    'controller-name': { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const workers = parseWorkers(values.workers);
  const kubernetesFlags = ['kubeconfig', 'port-map', 'bind-address', 'controller-name'] as const;
  if (values.kubernetes === true || values['kubernetes-manifests'] !== undefined) {
    if (workers !== 1) throw new UsageError('--kubernetes and --kubernetes-manifests run one process: --workers is not supported with them');
    if (values.watch === true) throw new UsageError('--watch is for a config file; the Kubernetes modes follow the resources by themselves');
    const { kubernetesControlPlane } = await import('./kubernetes.js');
    const controlPlane = kubernetesControlPlane(values);
    return (await import('../runtime/single.js')).runSingle({ configFile: values.config ?? null, watch: false, controlPlane, kubernetes: true }, logger).catch(exitOnStartError);
  }
  const stray = kubernetesFlags.find((f) => values[f] !== undefined);
  if (stray !== undefined) throw new UsageError(`--${stray} goes with --kubernetes or --kubernetes-manifests`);
  const choice = chooseConfig(values.config);
  // The control plane (admin API, config store) sits above the runtime: handed in from here.
  const { ControlPlane } = await import('../admin/plane.js');
  const opts = { configFile: choice.kind === 'file' ? choice.file : null, watch: values.watch ?? false, controlPlane: ControlPlane.prepare.bind(ControlPlane) };
  // Whatever stops the start is one line and an exit code, never a stack (docs/operations.md).
  if (workers === 1) return (await import('../runtime/single.js')).runSingle(opts, logger).catch(exitOnStartError);
  return (await import('../runtime/cluster.js')).runMaster(opts, workers, logger).catch(exitOnStartError);
}

function parseWorkers(text: string | undefined): number {
  if (text === undefined) return 1;
  if (text === 'auto') return availableParallelism();
  if (!/^[1-9][0-9]{0,2}$/.test(text)) throw new UsageError(`--workers takes a number from 1 to 999 or "auto", not "${text}"`);
  return Number(text);
}
