// `northgate start --workers N`: a master that validates config, serves the status
// listener and supervises N worker processes (node:cluster) sharing the proxy ports.
// Reload reaches every worker; a crashed worker is replaced; SIGTERM drains them all.
// The master never loads the gateway (proxy, compiler output, pools): see worker.ts.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AggregatorRegistry, PrometheusContentType } from 'prom-client';
import { parseAddress } from '../base/address.js';
import { DEFAULTS } from '../config/defaults.js';
import { parseDuration } from '../base/duration.js';
import type { RawConfig } from '../config/types.js';
import { defaultRegistry } from '../plugins/index.js';
import { answerRateLimit, isRateLimitMessage } from '../plugins/rate-limit/node-store.js';
import { embeddedConfig, startEchoServer } from './embedded.js';
import type { BoundListener, ReloadResult } from './gateway.js';
import { flushLoggerThen, type Logger } from '../base/logger.js';
import { announce, exitOnStartError, logReload, onShutdownSignal, watchFile, type StartOptions } from './lifecycle.js';
import { formatAddress } from '../base/address.js';
import { adminListenFailure } from './lifecycle.js';
import { listenFailure } from './refusal.js';
import type { NodeControlPlane } from './control-plane.js';
import { configWarnings } from './config-warnings.js';
import { startStatusServer } from './status-server.js';
import type { PurgeRequest } from '../plugins/cache/store.js';

// In mode: database the master follows the store and relays each validated document to the
// workers (`config`); workers never connect to the config store (with `portal:`, each opens
// the portal's store: see `fork` below).
export type ToWorker = { type: 'reload'; id: number; config?: RawConfig } | { type: 'shutdown' } | { type: 'config'; config: RawConfig } | { type: 'cache-purge'; id: number; req: PurgeRequest };
export type FromWorker = { type: 'start-failed'; message: string; exitCode: number } | { type: 'want-config' } | { type: 'ready'; proxy: BoundListener[]; portal: string | null; storesReady: boolean } | { type: 'stores-ready' } | { type: 'reloaded'; id: number; result: ReloadResult } | { type: 'cache-purged'; id: number; purged: number };

export const SPEC_ENV = 'NORTHGATE_WORKER_SPEC';
/** Set for the one worker that serves the portal listener. */
export const PORTAL_ENV = 'NORTHGATE_PORTAL_WORKER';

export function isWorker(): boolean {
  return cluster.isWorker && process.env[SPEC_ENV] !== undefined;
}

export async function runMaster(opts: StartOptions, workers: number, logger: Logger): Promise<void> {
  const registry = defaultRegistry();
  let echo: { server: Server; port: number } | null = null;
  if (opts.configFile === null) echo = await startEchoServer();
  let plane: NodeControlPlane;
  try {
    plane = await opts.controlPlane(opts.configFile, registry, logger, () => embeddedConfig(echo!.port));
  } catch (err) {
    exitOnStartError(err);
  }
  const database = plane.mode === 'database';
  for (const warning of configWarnings(plane.current)) logger.warn({ type: 'config' }, warning);
  const settings = masterSettings(plane.current);

  const spec = JSON.stringify({ configFile: opts.configFile, echoPort: echo?.port ?? null, database });
  const ready = new Set<number>();
  /** Workers whose plugins' stores answered (or whose bounded wait for them ended). */
  const storesReady = new Set<number>();
  let stopping = false;
  let proxyBound: BoundListener[] = [];
  let portalUrl: string | null = null;
  let crashes = 0;
  let reloadId = 0;
  const pendingReloads = new Map<number, { results: ReloadResult[]; expect: number; trigger: string; done: () => void }>();
  let adminUrl: string | null = null;
  // POST /cache/purge: each worker purges its memory caches and answers with a count.
  const purges = new Map<number, (n: number) => void>();
  let purgeId = 0;
  const purgeWorkers = async (req: PurgeRequest): Promise<number> => {
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
    const counts = await Promise.all(
      live.map((w) => {
        const id = ++purgeId;
        return new Promise<number>((resolve) => {
          const timer = setTimeout(() => done(0), 5000);
          const done = (n: number) => {
            clearTimeout(timer);
            purges.delete(id);
            resolve(n);
          };
          purges.set(id, done);
          w.send({ type: 'cache-purge', id, req } satisfies ToWorker);
        });
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  };

  // One worker serves the portal listener (a replacement takes over when it dies): it has a
  // live snapshot (catalog, plans, the proxy address for try-it), the sign-in throttle stays
  // exact in one process, and the master stays free of compiled config. Every worker reads
  // the portal's store itself and follows its version, so portal keys work on all of them.
  let portalWorker: number | null = null;
  const fork = (): Worker => {
    const servesPortal = settings.portal && portalWorker === null;
    const w = cluster.fork({ [SPEC_ENV]: spec, ...(servesPortal ? { [PORTAL_ENV]: '1' } : {}) });
    if (servesPortal) portalWorker = w.id;
    // A send to a worker that is dying (ours, or prom-client's metrics request) fails with EPIPE
    // or a closed channel, emitted on the worker: without a listener it would stop the master.
    // The 'exit' handler below replaces the worker; the failed send is only logged.
    w.on('error', (err: NodeJS.ErrnoException) => logger.warn({ worker: w.id, code: err.code }, `IPC with worker ${w.id} failed: ${err.message}`));
    w.on('message', (msg: FromWorker) => {
      // policy: local under --workers: the master owns the node's counters.
      if (isRateLimitMessage(msg)) return answerRateLimit(w, msg);
      if (msg.type === 'start-failed') {
        // Before the group is up, a worker that cannot bind stops the start: one line, no retries.
        if (announced || stopping) return void logger.error({ worker: w.id }, msg.message);
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
        process.stderr.write(msg.message + '\n');
        process.exit(msg.exitCode);
      } else if (msg.type === 'want-config') {
        w.send({ type: 'config', config: plane.current } satisfies ToWorker);
      } else if (msg.type === 'ready') {
        ready.add(w.id);
        if (msg.storesReady) storesReady.add(w.id);
        // A store change may have arrived between its fork and now (id 0: nobody waits for it).
        if (database) w.send({ type: 'reload', id: 0, config: plane.current } satisfies ToWorker);
        proxyBound = msg.proxy;
        portalUrl = msg.portal ?? portalUrl;
        if (announced) logger.info({ type: 'worker', worker: w.id, worker_pid: w.process.pid }, 'worker ready');
        if (ready.size === workers && !announced) {
          announced = true;
          announce(logger, proxyBound, statusAddress, opts.configFile, echo?.port ?? null, workers, adminUrl, plane.mode, portalUrl);
        }
      } else if (msg.type === 'stores-ready') {
        storesReady.add(w.id);
      } else if (msg.type === 'cache-purged') {
        purges.get(msg.id)?.(msg.purged);
      } else if (msg.type === 'reloaded') {
        const p = pendingReloads.get(msg.id);
        if (!p) return;
        p.results.push(msg.result);
        if (p.results.length === p.expect) {
          pendingReloads.delete(msg.id);
          const failed = p.results.find((r) => !r.ok);
          const slowest = p.results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
          logReload(logger, failed ?? slowest, { trigger: p.trigger, workers: p.results.length });
          p.done();
        }
      }
    });
    return w;
  };
  let announced = false;

  cluster.on('exit', (w, code, signal) => {
    ready.delete(w.id);
    storesReady.delete(w.id);
    if (w.id === portalWorker) portalWorker = null;
    if (stopping) return;
    if (!announced) {
      // Only workers compile the config (the master holds no snapshot): one that cannot start
      // means the gateway cannot, so stop as a single process would (exit 2 for config problems).
      stopping = true;
      logger.error({ worker: w.id, worker_pid: w.process.pid, code, signal }, 'a worker failed to start; stopping');
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGKILL');
      return flushLoggerThen(logger, () => process.exit(code === 2 ? 2 : 1));
    }
    crashes++;
    logger.error({ worker: w.id, worker_pid: w.process.pid, code, signal }, 'worker exited unexpectedly; starting a replacement');
    // Back off when workers keep crashing, so a broken host does not spin.
    const delay = Math.min(5000, 100 * 2 ** Math.min(crashes - 1, 6));
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });
  setInterval(() => (crashes = Math.max(0, crashes - 1)), 10_000).unref();

  // Workers answer prom-client's IPC requests; the master sums (or maxes) their series.
  // prom-client is loaded on the first read: the master has no metrics of its own.
  let aggregatorRegistry: AggregatorRegistry<PrometheusContentType> | null = null;
  const aggregator = async () => (aggregatorRegistry ??= new (await import('prom-client')).AggregatorRegistry());
  let statusAddress: { host: string; port: number } | null = null;
  const s = settings.status;
  if (s !== null) {
    const { port } = await startStatusServer(
      s.host,
      s.port,
      () => ({ ready: !stopping && ready.size === workers && storesReady.size === workers, detail: { workers_ready: ready.size, workers, stores_ready: storesReady.size } }),
      async () => {
        const a = await aggregator();
        return { contentType: a.contentType, body: await a.clusterMetrics() };
      },
      purgeWorkers,
    ).catch((err: unknown) => exitOnStartError(listenFailure('listen.status', formatAddress(s.host, s.port), err)));
    statusAddress = { host: s.host, port };
  }
  const reload = (trigger: string, next?: RawConfig): Promise<void> => {
    // Every worker reloads (and counts the attempt in its metrics); the master logs one line
    // for the group, with the problems when the new file is invalid.
    const id = ++reloadId;
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected() && ready.has(w.id));
    const done = new Promise<void>((resolve) => pendingReloads.set(id, { results: [], expect: live.length, trigger, done: resolve }));
    if (live.length === 0) {
      pendingReloads.delete(id);
      return Promise.resolve();
    }
    for (const w of live) w.send({ type: 'reload', id, ...(next ? { config: next } : {}) } satisfies ToWorker);
    return done;
  };
  const { admin } = await plane.start((next) => reload('store', next), logger, purgeWorkers, async () => (await aggregator()).clusterMetrics()).catch((err: unknown) => exitOnStartError(adminListenFailure(err)));
  adminUrl = admin;
  for (let i = 0; i < workers; i++) fork();
  process.on('SIGHUP', () => (database ? void plane.sync().catch(() => undefined) : void reload('SIGHUP')));
  if (opts.watch && opts.configFile !== null && !database) watchFile(opts.configFile, () => void reload('watch'));
  // Log rotation: each worker reopens its own access log file.
  process.on('SIGUSR1', () => {
    for (const w of Object.values(cluster.workers ?? {})) if (w !== undefined && w.isConnected()) w.process.kill('SIGUSR1');
  });

  onShutdownSignal(logger, async () => {
    stopping = true;
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const exited = live.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of live) if (w.isConnected()) w.send({ type: 'shutdown' } satisfies ToWorker);
    const deadline = settings.drainTimeoutMs + 5000;
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deadline).unref());
    const result = await Promise.race([Promise.all(exited).then(() => 'done' as const), timer]);
    if (result === 'timeout') for (const w of live) w.process.kill('SIGKILL');
    echo?.server.close();
    await plane.close().catch(() => undefined);
    return { unfinished: result === 'timeout' ? live.length : 0 };
  });
}

/**
 * What the master reads of the validated config. It compiles no snapshot: it serves no
 * requests, and a compiled config (router, plugins, pools) would only weigh on its memory.
 */
export function masterSettings(config: RawConfig): { status: { host: string; port: number } | null; portal: boolean; drainTimeoutMs: number } {
  const listen = config.listen as { status?: string | null; portal?: string | null } | undefined;
  const status = listen?.status === null ? null : parseAddress(listen?.status ?? DEFAULTS.status);
  if (typeof status === 'string') throw new Error(`invalid status address: ${status}`);
  return {
    status: status === null ? null : { host: status.host, port: status.port },
    // As the compiled snapshot's `portal`: a portal: section, and listen.portal not null.
    portal: (config as { portal?: unknown }).portal !== undefined && listen?.portal !== null,
    drainTimeoutMs: parseDuration(config.shutdown?.drain_timeout ?? DEFAULTS.drainTimeout)!,
  };
}
