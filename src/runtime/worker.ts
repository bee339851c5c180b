// One worker of `northgate start --workers N` (cluster.ts is the master): a gateway of its
// own on the shared proxy ports, driven by the master's messages.
import { AggregatorRegistry } from 'prom-client';
import type { RawConfig } from '../config/types.js';
import { purgeMemoryStores } from '../plugins/cache/memory-store.js';
import { PORTAL_ENV, SPEC_ENV, type FromWorker, type ToWorker } from './cluster.js';
import { flushLoggerThen, type Logger } from './logger.js';
import { createGateway } from './process.js';
import { exitOnStartError } from './lifecycle.js';

export async function runWorker(logger: Logger): Promise<void> {
  const spec = JSON.parse(process.env[SPEC_ENV]!) as { configFile: string | null; echoPort: number | null; database?: boolean };
  let relayed: RawConfig | null = null;
  if (spec.database) {
    // Asked for once the listener is in place (a message sent before would be lost).
    relayed = await new Promise<RawConfig>((resolve) => {
      const first = (msg: ToWorker) => {
        if (msg.type !== 'config') return;
        process.off('message', first);
        resolve(msg.config);
      };
      process.on('message', first);
      process.send!({ type: 'want-config' } satisfies FromWorker);
    });
  }
  const gateway = createGateway({ ...spec, servePortal: process.env[PORTAL_ENV] === '1' }, logger, relayed !== null ? () => relayed! : undefined);
  // Constructing one installs prom-client's IPC listener that answers the master's scrapes.
  new AggregatorRegistry();
  try {
    gateway.load();
  } catch (err) {
    exitOnStartError(err);
  }
  const proxy = await gateway.listen();
  process.send!({ type: 'ready', proxy } satisfies FromWorker);
  // The master handles signals for the group; a worker only obeys its messages.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'reload') {
      if (msg.config !== undefined) relayed = msg.config;
      process.send!({ type: 'reloaded', id: msg.id, result: gateway.reload() } satisfies FromWorker);
    } else if (msg.type === 'cache-purge') {
      process.send!({ type: 'cache-purged', id: msg.id, purged: purgeMemoryStores(msg.req) } satisfies FromWorker);
    } else if (msg.type === 'shutdown') {
      void gateway.drain().then(() => flushLoggerThen(logger, () => process.exit(0)));
    }
  });
}
