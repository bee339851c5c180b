// `northgate start` in one process (the default, and what each worker runs).
import type { Server } from 'node:http';
import { register } from 'prom-client';
import { embeddedConfig, startEchoServer } from './embedded.js';
import type { NodeControlPlane } from './control-plane.js';
import { formatAddress } from '../base/address.js';
import { listenFailure } from './refusal.js';
import { defaultRegistry } from '../plugins/index.js';
import { createGateway, type RunSpec } from './process.js';
import { importConfigExtensions } from '../compiler/load.js';
import { adminListenFailure, announce, exitOnStartError, logReload, onShutdownSignal, watchFile, type StartOptions } from './lifecycle.js';
import type { BoundListener } from './gateway.js';
import { configWarnings } from './config-warnings.js';
import type { Logger } from '../base/logger.js';
import { startStatusServer } from './status-server.js';
import { purgeMemoryStores } from '../plugins/cache/memory-store.js';

export async function runSingle(opts: StartOptions, logger: Logger): Promise<void> {
  let echo: { server: Server; port: number } | null = null;
  if (opts.configFile === null && opts.kubernetes !== true) echo = await startEchoServer();
  const spec: RunSpec = { configFile: opts.configFile, echoPort: echo?.port ?? null };
  const registry = defaultRegistry();
  let plane: NodeControlPlane;
  try {
    plane = await opts.controlPlane(opts.configFile, registry, logger, () => embeddedConfig(echo!.port));
  } catch (err) {
    exitOnStartError(err);
  }
  const gateway = createGateway({ ...spec, followListeners: plane.mode === 'kubernetes' }, logger, () => plane.loadConfig(), registry);
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
      logReload(logger, r, plane.mode === 'kubernetes' ? { trigger: 'kubernetes', resources_version: version } : { trigger: 'store', store_version: version });
      if (!r.ok) throw new Error(`store config version ${version} could not be applied: ${r.problems?.join('; ')}`);
    }, logger, async (req) => purgeMemoryStores(req), () => register.metrics())
    .catch((err: unknown) => exitOnStartError(adminListenFailure(err)));
  ready = true;
  // Ready for traffic once the plugins' stores answer too (bounded: then with a warning).
  void gateway.storesReady().then(() => (storesReady = true));
  // In place before the announcement: a SIGHUP sent on seeing it must reload, not meet the signal's default action.
  const reload = (trigger: string) => {
    if (plane.mode !== 'file') void plane.sync().catch((err: unknown) => logger.error({ err }, 'store sync failed'));
    else void importConfigExtensions(opts.configFile).then(() => logReload(logger, gateway.reload(), { trigger }));
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  const portal = gateway.portalAddress;
  announce(logger, bound, statusPort === null ? null : { host: snapshot.listeners.status!.host, port: statusPort }, opts.configFile, echo?.port ?? null, 1, admin, plane.mode, portal === null ? null : `http://${formatAddress(portal.host, portal.port)}`);

  if (opts.watch && opts.configFile !== null && plane.mode === 'file') watchFile(opts.configFile, () => reload('watch'));
  onShutdownSignal(logger, async () => {
    const r = await gateway.drain();
    await plane.close().catch(() => undefined);
    echo?.server.close();
    return r;
  });
}
