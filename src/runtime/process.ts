// Life cycle of a single-process gateway (and of each worker): load, listen, reload on
// SIGHUP or file change, drain on SIGTERM/SIGINT.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import type { RawConfig } from '../config/types.js';
import type { Snapshot } from '../config/snapshot.js';
import { defaultRegistry } from '../pipeline/registry.js';
import { AccessLog } from '../observability/access-log.js';
import { GatewayMetrics } from '../observability/metrics.js';
import { startCircuitLog } from '../observability/circuit-log.js';
import { startRemoteFetchLog } from '../observability/remote-log.js';
import { embeddedConfig } from './embedded.js';
import { Gateway, type ReloadResult } from './gateway.js';
import { flushLogger, flushLoggerThen, type Logger } from './logger.js';

export interface RunSpec {
  readonly configFile: string | null;
  readonly echoPort: number | null;
  /** Whether this process serves the portal listener (a cluster worker: the one the master picked). */
  readonly servePortal?: boolean;
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
  const gateway = new Gateway({ registry, logger, loadConfig, source: spec.configFile ?? 'embedded default', configFile: spec.configFile, onSnapshot, ...(spec.servePortal !== undefined ? { servePortal: spec.servePortal } : {}) });
  // logrotate: rename the file, then SIGUSR1 (the master forwards it to its workers).
  process.on('SIGUSR1', () => accessLog.reopen());
  startCircuitLog(logger);
  startRemoteFetchLog(logger);
  new GatewayMetrics({ openConnections: () => gateway.openConnections, targets: () => gateway.targets(), circuits: () => gateway.circuits(), tracingSpans: () => gateway.tracingSpans() });
  return gateway;
}

export function logReload(logger: Logger, r: ReloadResult, extra: Record<string, unknown> = {}): void {
  if (r.ok) logger.info({ type: 'reload', duration_ms: Math.round(r.durationMs * 100) / 100, routes: r.routes, version: r.version, ...extra }, 'config reloaded');
  else logger.error({ type: 'reload', problems: r.problems, version: r.version, ...extra }, 'config reload failed; the previous config keeps serving');
}

/** Calls `onChange` (debounced) when the file is written or replaced (editors rename over it). */
export function watchFile(file: string, onChange: () => void): FSWatcher {
  let timer: NodeJS.Timeout | null = null;
  const name = basename(file);
  const w = watch(dirname(file), { persistent: false }, (_event, changed) => {
    if (changed !== null && changed !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, 100);
  });
  return w;
}

/** Drains on the first SIGTERM/SIGINT and exits 0; a second signal exits at once. */
export function onShutdownSignal(logger: Logger, drain: () => Promise<{ unfinished: number }>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      flushLogger(logger);
      process.exit(1);
    }
    stopping = true;
    // drain() closes the listeners synchronously before it first awaits: log after that.
    const drained = drain();
    logger.info({ signal }, 'draining: no new connections, finishing in-flight requests');
    drained.then(
      ({ unfinished }) => {
        logger.info({ unfinished }, unfinished === 0 ? 'drained; exiting' : 'drain deadline passed; exiting');
        flushLoggerThen(logger, () => process.exit(0));
      },
      (err: unknown) => {
        logger.error({ err }, 'error while draining');
        flushLoggerThen(logger, () => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
