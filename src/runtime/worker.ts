// One worker of `northgate start --workers N` (cluster.ts is the master): a gateway of its
// own on the shared proxy ports, driven by the master's messages.
import { AggregatorRegistry } from 'prom-client';
import type { RawConfig } from '../config/types.js';
import { purgeMemoryStores } from '../plugins/cache/memory-store.js';
import { PORTAL_ENV, SPEC_ENV, type FromWorker, type ToWorker } from './cluster.js';
import { flushLoggerThen, type Logger } from '../base/logger.js';
import { createGateway } from './process.js';
import { importConfigExtensions } from '../compiler/load.js';
import { formatAddress } from '../base/address.js';
import { ConfigError } from '../base/problems.js';
import type { BoundListener } from './gateway.js';
import { StartRefusal } from './refusal.js';

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
  let proxy: BoundListener[];
  try {
    if (relayed === null) await importConfigExtensions(spec.configFile);
    gateway.load();
    proxy = await gateway.listen();
  } catch (err) {
    // The master prints the one line and stops the start (a worker's stderr would repeat it N times).
    const exitCode = err instanceof ConfigError ? 2 : err instanceof StartRefusal ? err.exitCode : 3;
    const message = err instanceof ConfigError ? err.lines().join('\n') : `northgate: ${err instanceof Error ? err.message : String(err)}`;
    process.send!({ type: 'start-failed', message, exitCode } satisfies FromWorker, () => process.exit(exitCode));
    return;
  }
  const portal = gateway.portalAddress;
  // A config without stores is ready with its listeners, in the same message: the master's
  // /readyz never answers 503 between the start line and a second message.
  const noStores = gateway.snapshot.stores.length === 0;
  process.send!({ type: 'ready', proxy, portal: portal === null ? null : `http://${formatAddress(portal.host, portal.port)}`, storesReady: noStores } satisfies FromWorker);
  if (!noStores) {
    void gateway.storesReady().then(() => {
      if (process.connected) process.send!({ type: 'stores-ready' } satisfies FromWorker);
    });
  }
  // The master handles signals for the group; a worker only obeys its messages.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'reload') {
      if (msg.config !== undefined) relayed = msg.config;
      void importConfigExtensions(relayed === null ? spec.configFile : null).then(() => process.send!({ type: 'reloaded', id: msg.id, result: gateway.reload() } satisfies FromWorker));
    } else if (msg.type === 'cache-purge') {
      process.send!({ type: 'cache-purged', id: msg.id, purged: purgeMemoryStores(msg.req) } satisfies FromWorker);
    } else if (msg.type === 'shutdown') {
      void gateway.drain().then(() => flushLoggerThen(logger, () => process.exit(0)));
    }
  });
}
