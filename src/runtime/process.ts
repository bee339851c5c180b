// The gateway of one process (the single process, or each worker) with what it hangs on it:
// access log, circuit log, metrics. The life-cycle helpers are in lifecycle.ts.
import { loadConfigFile } from '../compiler/load.js';
import type { RawConfig } from '../config/types.js';
import type { Snapshot } from '../compiler/snapshot.js';
import { defaultRegistry } from '../plugins/index.js';
import { AccessLog } from '../observability/access-log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { startCircuitLog } from '../observability/circuit-log.js';
import { startContractLog } from '../observability/contract-log.js';
import { startRemoteFetchLog } from '../observability/remote-log.js';
import { embeddedConfig } from './embedded.js';
import { Gateway } from './gateway.js';
import type { Logger } from '../base/logger.js';

export interface RunSpec {
  readonly configFile: string | null;
  readonly echoPort: number | null;
  /** Whether this process serves the portal listener (a cluster worker: the one the master picked). */
  readonly servePortal?: boolean;
  /** The proxy listeners follow each reload (the Kubernetes modes). */
  readonly followListeners?: boolean;
}

export function createGateway(spec: RunSpec, logger: Logger, load?: () => RawConfig, registry = defaultRegistry()): Gateway {
  // `load` comes from the control plane (file or store); without one, the file is read here.
  const loadConfig = load ?? ((): RawConfig => (spec.configFile !== null ? loadConfigFile(spec.configFile, registry) : embeddedConfig(spec.echoPort!)));
  const accessLog = new AccessLog(logger);
  let started = false;
  const onSnapshot = (snapshot: Snapshot): void => {
    if (!started) {
      // At start a log file that cannot be opened stops the gateway (ConfigError, exit 2).
      started = true;
      return accessLog.configure(snapshot);
    }
    try {
      accessLog.configure(snapshot);
    } catch (err) {
      logger.error({ type: 'reload', err }, 'cannot open the new access log file; access lines keep going where they went');
    }
  };
  const gateway = new Gateway({ registry, logger, loadConfig, source: spec.configFile ?? 'embedded default', configFile: spec.configFile, onSnapshot, ...(spec.servePortal !== undefined ? { servePortal: spec.servePortal } : {}), ...(spec.followListeners === true ? { followListeners: true } : {}) });
  // logrotate: rename the file, then SIGUSR1 (the master forwards it to its workers).
  process.on('SIGUSR1', () => accessLog.reopen());
  startCircuitLog(logger);
  startContractLog(logger);
  startRemoteFetchLog(logger);
  new GatewayMetrics({ openConnections: () => gateway.openConnections, targets: () => gateway.targets(), circuits: () => gateway.circuits(), tracingSpans: () => gateway.tracingSpans(), logSinks: () => gateway.logSinks() });
  return gateway;
}
