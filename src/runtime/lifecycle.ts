// What the single process and the master of --workers share: start-up errors and the
// announcement, reload log lines, file watching and the drain on SIGTERM/SIGINT. Nothing
// here loads the gateway, so that the master stays light.
import type { PrepareControlPlane } from './control-plane.js';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { formatAddress } from '../base/address.js';
import { ConfigError } from '../base/problems.js';
import type { BoundListener, ReloadResult } from './gateway.js';
import { flushLogger, flushLoggerThen, type Logger } from '../base/logger.js';
import { EXIT_START_FAILURE, isListenError, listenFailure, StartRefusal } from './refusal.js';

export interface StartOptions {
  readonly configFile: string | null;
  readonly watch: boolean;
  /** Opens the node's control plane (admin/plane.ts, or runtime/kubernetes.ts's). */
  readonly controlPlane: PrepareControlPlane;
  /** The routes come from Kubernetes resources (no demo upstream without a config file; listeners follow them). */
  readonly kubernetes?: boolean;
}

/**
 * What stops a start, on stderr without a stack: config problems (exit 2, one located line
 * each), a refusal (exit 2) or a start failure (exit 3: docs/operations.md, "Exit codes").
 * Anything else is a bug, reported as one line too, with the stack only under
 * NORTHGATE_LOG_LEVEL=debug.
 */
export function exitOnStartError(err: unknown): never {
  if (err instanceof ConfigError) {
    for (const line of err.lines()) process.stderr.write(line + '\n');
    process.exit(2);
  }
  if (err instanceof StartRefusal) {
    process.stderr.write(`northgate: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (isListenError(err)) return exitOnStartError(listenFailure('a listener', e.port !== undefined ? formatAddress(String(e.address), Number(e.port)) : String(e.address ?? e.hostname), err));
  process.stderr.write(`northgate: cannot start: ${e?.message ?? String(err)}\n`);
  if (process.env['NORTHGATE_LOG_LEVEL'] === 'debug' && e?.stack) process.stderr.write(e.stack + '\n');
  process.exit(EXIT_START_FAILURE);
}

/** The admin API's listener names itself (plane.start binds it). */
export function adminListenFailure(err: unknown): unknown {
  if (!isListenError(err)) return err;
  const e = err as { address?: string; port?: number };
  return listenFailure('listen.admin', formatAddress(String(e.address), Number(e.port)), err);
}

export function announce(
  logger: Logger,
  proxy: readonly BoundListener[],
  status: { host: string; port: number } | null,
  configFile: string | null,
  echoPort: number | null,
  workers: number,
  admin: string | null = null,
  mode: 'file' | 'database' | 'kubernetes' = 'file',
  portal: string | null = null,
): void {
  const proxyUrls = proxy.map((p) => `${p.tls ? 'https' : 'http'}://${formatAddress(p.host, p.port)}`);
  const statusUrl = status === null ? null : `http://${formatAddress(status.host, status.port)}`;
  logger.info({ type: 'start', proxy: proxyUrls, status: statusUrl, admin, portal, mode, config: configFile ?? 'embedded default', workers }, 'northgate started');
  flushLogger(logger);
  const lines = [
    proxyUrls.length === 0 ? 'northgate: no proxy listener (no Gateway listener yet)' : `northgate: proxy listening on ${proxyUrls.join(', ')}`,
    statusUrl === null ? 'northgate: status listener off' : `northgate: status on ${statusUrl} (/healthz, /readyz)`,
    admin === null ? 'northgate: admin API off' : `northgate: admin API on ${admin} (mode: ${mode}${mode === 'file' ? ', read-only' : ''})`,
    ...(portal === null ? [] : [`northgate: developer portal on ${portal}`]),
    mode === 'kubernetes'
      ? `northgate: routes from Kubernetes resources; settings ${configFile ?? 'default'}`
      : `northgate: config ${configFile ?? 'embedded default (no --config, no ./northgate.yaml)'}; ${workers} worker${workers === 1 ? '' : 's'}`,
  ];
  if (echoPort !== null) {
    const port = proxy[0]?.port ?? 8000;
    lines.push(`northgate: demo upstream on http://127.0.0.1:${echoPort}; try: curl http://localhost:${port}/echo/hello`);
  }
  process.stderr.write(lines.join('\n') + '\n');
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
