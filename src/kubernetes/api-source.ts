// The API server as a source of the store: one client-node informer (ListWatch) per kind —
// a list, then a watch from the list's resourceVersion with bookmarks asked for; a watch
// that ends is resumed from the last version seen, a 410 Gone (as the HTTP status or as an
// ERROR event) makes it list again, and any other error restarts it after an exponential
// back-off with jitter, reset by the next successful list. A kind the API server does not
// serve (404: its CRD is not installed, e.g. an Ingress-only cluster) counts as listed and
// empty, so the other kinds are not held back, and is asked again on the same back-off.
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, ListWatch, NetworkingV1Api, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../base/logger.js';
import { apiVersionOf, collectionPath, KINDS, type KindInfo, type KubeObject } from './resources.js';
import type { ResourceStore } from './store.js';

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const BACKOFF_DEFAULTS: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

export interface ApiSourceOptions {
  readonly kubeconfig: KubeConfig;
  readonly store: ResourceStore;
  readonly logger: Logger;
  readonly backoff?: BackoffPolicy;
}

type Listed = KubernetesListObject<KubernetesObject>;

export class ApiSource {
  readonly #o: ApiSourceOptions;
  readonly #backoff: BackoffPolicy;
  readonly #informers: Array<ListWatch<KubernetesObject>> = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(o: ApiSourceOptions) {
    this.#o = o;
    this.#backoff = o.backoff ?? BACKOFF_DEFAULTS;
  }

  /** Starts every informer; the store gets its first snapshot once each kind has been listed. */
  start(): void {
    for (const info of KINDS) this.#startKind(info);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  #startKind(info: KindInfo): void {
    const { store, logger, kubeconfig } = this.#o;
    let failures = 0;
    const list = listFunction(kubeconfig, info);
    const listed = async (): Promise<Listed> => {
      let result: Listed;
      try {
        result = await list();
      } catch (err) {
        if ((err as { code?: unknown }).code === 404) {
          if (failures === 0) logger.info({ type: 'kubernetes', kind: info.kind }, 'the API server does not serve this kind (CRD not installed?); it counts as empty until it does');
          store.replace(info.kind, []);
        }
        throw err;
      }
      // The list replaces the kind's objects (a re-list after 410 Gone drops what was deleted meanwhile).
      store.replace(info.kind, result.items as KubeObject[]);
      failures = 0;
      return result;
    };
    const watch = new Watch(kubeconfig);
    // client-node's ListWatch does not ask for bookmarks; they keep the resumed version recent.
    const bookmarking = { watch: (path: string, params: Record<string, unknown>, cb: never, done: never) => watch.watch(path, { ...params, allowWatchBookmarks: true }, cb, done) } as unknown as Watch;
    const informer = new ListWatch<KubernetesObject>(collectionPath(info), bookmarking, listed, false, undefined, info.fieldSelector);
    informer.on('add', (o) => store.upsert(info.kind, withKind(o, info)));
    informer.on('update', (o) => store.upsert(info.kind, withKind(o, info)));
    informer.on('delete', (o) => store.remove(info.kind, withKind(o, info)));
    informer.on('error', (err: unknown) => {
      if (this.#stopped) return;
      const delay = Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** Math.min(failures, 16));
      failures++;
      const wait = Math.round(delay * (0.5 + Math.random() / 2));
      logger.warn({ type: 'kubernetes', kind: info.kind, err: describe(err), retry_ms: wait }, 'watch failed; starting again after a back-off');
      const t = setTimeout(() => {
        this.#timers.delete(t);
        if (!this.#stopped) void informer.start();
      }, wait);
      t.unref();
      this.#timers.add(t);
    });
    this.#informers.push(informer);
    void informer.start();
  }
}

/** A list of one kind across namespaces, as plain JSON objects with their apiVersion and kind. */
function listFunction(kc: KubeConfig, info: KindInfo): () => Promise<Listed> {
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const call = (): Promise<unknown> => {
    const fieldSelector = info.fieldSelector;
    switch (info.kind) {
      case 'Service':
        return core.listServiceForAllNamespaces({});
      case 'Secret':
        return core.listSecretForAllNamespaces(fieldSelector !== undefined ? { fieldSelector } : {});
      case 'Namespace':
        return core.listNamespace({});
      case 'EndpointSlice':
        return discovery.listEndpointSliceForAllNamespaces({});
      case 'Ingress':
        return networking.listIngressForAllNamespaces({});
      case 'IngressClass':
        return networking.listIngressClass({});
      default:
        return custom.listClusterCustomObject({ group: info.group, version: info.version, plural: info.plural });
    }
  };
  return async () => {
    // The typed clients turn timestamps into Date objects: back to the JSON the watch gives.
    const plain = JSON.parse(JSON.stringify(await call())) as Listed;
    return { ...plain, items: (plain.items ?? []).map((o) => withKind(o, info)) };
  };
}

/** List items come without apiVersion and kind; watch events carry them. */
function withKind(o: KubernetesObject, info: KindInfo): KubeObject {
  return { ...(o as KubeObject), apiVersion: o.apiVersion ?? apiVersionOf(info), kind: o.kind ?? info.kind };
}

export function describe(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; message?: string };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : null;
  const first = String(e.message ?? err).split('\n')[0];
  return status !== null ? `HTTP ${status}: ${first}` : first!;
}
