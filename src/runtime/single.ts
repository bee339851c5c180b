// `northgate start` in one process (the default, and what each worker runs).
import type { Server } from 'node:http';
import { register } from 'prom-client';
import { ConfigError } from '../config/problems.js';
import { formatAddress } from '../config/address.js';
import { startEchoServer } from './embedded.js';
import { createGateway, logReload, onShutdownSignal, watchFile, type RunSpec } from './process.js';
import { flushLogger, type Logger } from './logger.js';
import { startStatusServer } from './status-server.js';

export interface StartOptions {
  readonly configFile: string | null;
  readonly watch: boolean;
}

export async function runSingle(opts: StartOptions, logger: Logger): Promise<void> {
  let echo: { server: Server; port: number } | null = null;
  if (opts.configFile === null) echo = await startEchoServer();
  const spec: RunSpec = { configFile: opts.configFile, echoPort: echo?.port ?? null };
  const gateway = createGateway(spec, logger);
  try {
    gateway.load();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) process.stderr.write(line + '\n');
      process.exit(2);
    }
    throw err;
  }
  let ready = false;
  const snapshot = gateway.snapshot;
  let statusPort: number | null = null;
  if (snapshot.listeners.status !== null) {
    const s = snapshot.listeners.status;
    statusPort = (
      await startStatusServer(s.host, s.port, () => ({
        ready: ready && !gateway.draining,
        detail: { config_version: gateway.snapshot.version, workers: 1, draining: gateway.draining },
      }), async () => ({ contentType: register.contentType, body: await register.metrics() }))
    ).port;
  }
  const bound = await gateway.listen();
  ready = true;
  announce(logger, bound, statusPort === null ? null : { host: snapshot.listeners.status!.host, port: statusPort }, opts.configFile, echo?.port ?? null, 1);

  const reload = (trigger: string) => logReload(logger, gateway.reload(), { trigger });
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch && opts.configFile !== null) watchFile(opts.configFile, () => reload('watch'));
  onShutdownSignal(logger, async () => {
    const r = await gateway.drain();
    echo?.server.close();
    return r;
  });
}

export function announce(
  logger: Logger,
  proxy: Array<{ host: string; port: number }>,
  status: { host: string; port: number } | null,
  configFile: string | null,
  echoPort: number | null,
  workers: number,
): void {
  const proxyUrls = proxy.map((p) => `http://${formatAddress(p.host, p.port)}`);
  const statusUrl = status === null ? null : `http://${formatAddress(status.host, status.port)}`;
  logger.info({ type: 'start', proxy: proxyUrls, status: statusUrl, config: configFile ?? 'embedded default', workers }, 'northgate started');
  flushLogger(logger);
  const lines = [
    `northgate: proxy listening on ${proxyUrls.join(', ')}`,
    statusUrl === null ? 'northgate: status listener off' : `northgate: status on ${statusUrl} (/healthz, /readyz)`,
    `northgate: config ${configFile ?? 'embedded default (no --config, no ./northgate.yaml)'}; ${workers} worker${workers === 1 ? '' : 's'}`,
  ];
  if (echoPort !== null) {
    const port = proxy[0]?.port ?? 8000;
    lines.push(`northgate: demo upstream on http://127.0.0.1:${echoPort}; try: curl http://localhost:${port}/echo/hello`);
  }
  process.stderr.write(lines.join('\n') + '\n');
}
