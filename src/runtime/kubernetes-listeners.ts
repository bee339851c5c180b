// Proxy listeners that follow the config, for the Kubernetes modes: a Gateway listener added
// opens its port, one removed closes it (its connections finish what they are doing), and the
// others are kept as they are, with their connections; new certificates apply in place.
import type { Logger } from '../base/logger.js';
import type { ListenerSpec } from '../compiler/snapshot.js';
import type { Listener } from './listeners.js';

export interface OpenListeners {
  /** The listeners open now, changed in place. */
  readonly open: Listener[];
  create(spec: ListenerSpec): Listener;
  /** The gateway stops: nothing more is opened. */
  draining(): boolean;
  readonly logger: Logger;
}

/** What makes two listener specs the same listener: the address, the name routes refer to and how it speaks (certificates may change in place). */
export function listenerKey(spec: ListenerSpec): string {
  const tls = spec.tls === null ? 'plain' : `tls:${spec.tls.clientCa ?? ''}:${spec.tls.requestCert}:${spec.tls.minVersion}`;
  return `${spec.address}|${spec.name ?? ''}|${tls}|${spec.http2}|${spec.redirectHttps}`;
}

/** Makes `set.open` the listeners of `wanted`. A port that cannot be bound is logged; the rest still changes. */
export async function followListeners(set: OpenListeners, wanted: readonly ListenerSpec[]): Promise<void> {
  if (set.draining()) return;
  const wantedKeys = new Set(wanted.map(listenerKey));
  for (const l of [...set.open]) {
    if (wantedKeys.has(listenerKey(l.spec))) continue;
    set.open.splice(set.open.indexOf(l), 1);
    l.close();
    set.logger.info({ type: 'listener', address: l.spec.address }, 'proxy listener closed');
  }
  for (const spec of wanted) {
    const open = set.open.find((l) => listenerKey(l.spec) === listenerKey(spec));
    if (open !== undefined) {
      open.updateTls(spec.tls, (message) => set.logger.error({ type: 'reload' }, message));
      open.updateSniNames(spec.sniNames ?? null);
      continue;
    }
    const listener = set.create(spec);
    try {
      await listener.listen();
    } catch (err) {
      set.logger.error({ type: 'listener', address: spec.address, err: (err as Error).message }, 'cannot open a proxy listener; the others keep serving');
      listener.close();
      continue;
    }
    if (set.draining()) {
      listener.close();
      return;
    }
    set.open.push(listener);
    set.logger.info({ type: 'listener', address: spec.address, tls: spec.tls !== null }, 'proxy listener opened');
  }
}
