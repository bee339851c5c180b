// `northgate start` in one process (the default, and what each worker runs).
import type { Server } from 'node:http';
import { register } from 'prom-client';
import { ConfigError } from '../config/problems.js';
import { formatAddress } from '../config/address.js';
import { embeddedConfig, startEchoServer } from './embedded.js';
import { ControlPlane } from '../admin/plane.js';
import { EXIT_START_FAILURE, isListenError, listenFailure, StartRefusal } from './refusal.js';
import { defaultRegistry } from '../pipeline/registry.js';
import { createGateway, logReload, onShutdownSignal, watchFile, type RunSpec } from './process.js';
import type { BoundListener } from './gateway.js';
import { configWarnings } from './config-warnings.js';
import { flushLogger, type Logger } from './logger.js';
import { startStatusServer } from './status-server.js';
import { purgeMemoryStores } from '../plugins/cache/memory-store.js';

export interface StartOptions {
  readonly configFile: string | null;
  readonly watch: boolean;
}

export async function runSingle(opts: StartOptions, logger: Logger): Promise<void> {
  let echo: { server: Server; port: number } | null = null;
  if (opts.configFile === null) echo = await startEchoServer();
  const spec: RunSpec = { configFile: opts.configFile, echoPort: echo?.port ?? null };
  const registry = defaultRegistry();
  let plane: ControlPlane;
  try {
    plane = await ControlPlane.prepare(opts.configFile, registry, logger, () => embeddedConfig(echo!.port));
  } catch (err) {
    exitOnStartError(err);
  }
  const gateway = createGateway(spec, logger, () => plane.loadConfig(), registry);
  try {
    gateway.load();
  } catch (err) {
    exitOnStartError(err);
  }
  for (const warning of configWarnings(plane.current)) logger.warn({ type: 'config' }, warning);
  let ready = false;
  let storesReady = false;
  const snapshot = gateway.snapshot;
  let statusPort: number | null = null;
  if (snapshot.listeners.status !== null) {
    const s = snapshot.listeners.status;
    try {
      statusPort = (
        await startStatusServer(s.host, s.port, () => ({
          ready: ready && storesReady && !gateway.draining,
          detail: { config_version: gateway.snapshot.version, workers: 1, draining: gateway.draining, stores_ready: storesReady },
        }), async () => ({ contentType: register.contentType, body: await register.metrics() }))
      ).port;
    } catch (err) {
      exitOnStartError(listenFailure('listen.status', formatAddress(s.host, s.port), err));
    }
  }
  let bound: BoundListener[];
  try {
    bound = await gateway.listen();
  } catch (err) {
    exitOnStartError(err);
  }
  // A store change is applied as one reload: the document is already validated.
  const { admin } = await plane
    .start((_config, version) => {
      const r = gateway.reload();
      logReload(logger, r, { trigger: 'store', store_version: version });
      if (!r.ok) throw new Error(`store config version ${version} could not be applied: ${r.problems?.join('; ')}`);
    }, logger, async (req) => purgeMemoryStores(req))
    .catch((err: unknown) => exitOnStartError(adminListenFailure(err)));
  ready = true;
  // Ready for traffic once the plugins' stores answer too (bounded: then with a warning).
  void gateway.storesReady().then(() => (storesReady = true));
  const portal = gateway.portalAddress;
  announce(logger, bound, statusPort === null ? null : { host: snapshot.listeners.status!.host, port: statusPort }, opts.configFile, echo?.port ?? null, 1, admin, plane.control.mode, portal === null ? null : `http://${formatAddress(portal.host, portal.port)}`);

  const reload = (trigger: string) => {
    if (plane.control.mode === 'database') void plane.control.sync().catch((err: unknown) => logger.error({ err }, 'store sync failed'));
    else logReload(logger, gateway.reload(), { trigger });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch && opts.configFile !== null && plane.control.mode === 'file') watchFile(opts.configFile, () => reload('watch'));
  onShutdownSignal(logger, async () => {
    const r = await gateway.drain();
    await plane.close().catch(() => undefined);
    echo?.server.close();
    return r;
  });
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
  mode: 'file' | 'database' = 'file',
  portal: string | null = null,
): void {
  const proxyUrls = proxy.map((p) => `${p.tls ? 'https' : 'http'}://${formatAddress(p.host, p.port)}`);
  const statusUrl = status === null ? null : `http://${formatAddress(status.host, status.port)}`;
  logger.info({ type: 'start', proxy: proxyUrls, status: statusUrl, admin, portal, mode, config: configFile ?? 'embedded default', workers }, 'northgate started');
  flushLogger(logger);
  const lines = [
    `northgate: proxy listening on ${proxyUrls.join(', ')}`,
    statusUrl === null ? 'northgate: status listener off' : `northgate: status on ${statusUrl} (/healthz, /readyz)`,
    admin === null ? 'northgate: admin API off' : `northgate: admin API on ${admin} (mode: ${mode}${mode === 'file' ? ', read-only' : ''})`,
    ...(portal === null ? [] : [`northgate: developer portal on ${portal}`]),
    `northgate: config ${configFile ?? 'embedded default (no --config, no ./northgate.yaml)'}; ${workers} worker${workers === 1 ? '' : 's'}`,
  ];
  if (echoPort !== null) {
    const port = proxy[0]?.port ?? 8000;
    lines.push(`northgate: demo upstream on http://127.0.0.1:${echoPort}; try: curl http://localhost:${port}/echo/hello`);
  }
  process.stderr.write(lines.join('\n') + '\n');
}
