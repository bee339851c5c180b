// The controller: a source (the API server's informers, or a manifests directory) fills the
// resource store; each snapshot of it is translated into a Northgate config document, handed
// to the runtime as a feed (runtime/kubernetes.ts validates it and swaps it in), and into the
// status of every owned object. With the API server, status is written by the replica that
// holds the Lease (the others compute the same and write nothing); with a directory there is
// no API to write to, and the status is only kept, for `northgate kubernetes status`.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../base/logger.js';
import type { ApiSource, BackoffPolicy } from './api-source.js';
import type { LeaderElector, LeaseOptions } from './leader.js';
import { ManifestSource, readManifests, type ManifestProblem } from './manifests.js';
import { keyOf, type Kind, type KubeObject } from './resources.js';
import type { StatusWriter } from './status.js';
import { ResourceStore, type ResourceSnapshot, type StoreOptions } from './store.js';

/** What the controller passes to the translation (translate/model.ts's TranslateOptions, the part set here). */
export interface ControllerTranslateOptions {
  readonly controllerName?: string;
  readonly portMap?: ReadonlyMap<number, number>;
  readonly bindAddress?: string;
  readonly addresses?: readonly string[];
}

/** The status of one object, as the translation computes it. */
export interface ComputedStatus {
  readonly kind: Kind;
  readonly namespace?: string;
  readonly name: string;
  readonly generation?: number;
  readonly status: Record<string, unknown>;
}

/** What the controller reads of a translation (translate/model.ts's Translation). */
export interface TranslationResult {
  readonly config: Record<string, unknown>;
  readonly statuses: readonly ComputedStatus[];
  readonly notes: ReadonlyArray<{ readonly kind: Kind; readonly namespace?: string; readonly name: string; readonly message: string }>;
}

export type TranslateFn = (resources: ResourceSnapshot, opts?: ControllerTranslateOptions) => TranslationResult;

export type ControllerSource =
  | { readonly kind: 'manifests'; readonly dir: string; readonly debounceMs?: number }
  | { readonly kind: 'api'; readonly kubeconfig: KubeConfig; readonly lease: LeaseOptions; readonly backoff?: BackoffPolicy };

export interface ControllerOptions {
  readonly source: ControllerSource;
  readonly translate: TranslateFn;
  readonly translateOptions?: ControllerTranslateOptions;
  readonly logger: Logger;
  readonly store?: Partial<StoreOptions>;
  /** Status writes in flight at once (the API server's), default 8. */
  readonly statusConcurrency?: number;
}

export class KubernetesController {
  readonly name: string;
  readonly #o: ControllerOptions;
  readonly #store: ResourceStore;
  #manifests: ManifestSource | null = null;
  #api: ApiSource | null = null;
  #leader: LeaderElector | null = null;
  #writer: StatusWriter | null = null;
  #last: TranslationResult | null = null;
  #notes = new Set<string>();
  /** The last document handed on, as JSON. */
  #lastConfig: string | null = null;
  /** Status writes run one round at a time; a newer round replaces one that has not started. */
  #writing: Promise<void> = Promise.resolve();
  #pendingRound = false;
  #stopped = false;

  constructor(o: ControllerOptions) {
    this.#o = o;
    this.#store = new ResourceStore(o.store);
    this.name = o.source.kind === 'manifests' ? `manifests ${o.source.dir}` : 'kubernetes API';
  }

  /** The last translation (null before the first snapshot). */
  get translation(): TranslationResult | null {
    return this.#last;
  }

  /** Problems of the manifests' last read (none with the API server). */
  get problems(): readonly ManifestProblem[] {
    return this.#manifests?.problems ?? [];
  }

  get leading(): boolean {
    return this.#leader?.leading ?? false;
  }

  /** Resolves once every status round started so far has been written (tests, shutdown). */
  statusWritten(): Promise<void> {
    return this.#writing;
  }

  /** Starts the source; `onDocument` gets each translated config document. Resolves after the first. */
  start(onDocument: (doc: Record<string, unknown>) => void): Promise<void> {
    const first = new Promise<void>((resolve) => {
      this.#store.onSnapshot((snapshot) => {
        this.#translated(snapshot, onDocument);
        resolve();
      });
    });
    const { source, logger } = this.#o;
    if (source.kind === 'manifests') {
      this.#manifests = new ManifestSource({ dir: source.dir, store: this.#store, logger, ...(source.debounceMs !== undefined ? { debounceMs: source.debounceMs } : {}) });
      this.#manifests.start();
      return first;
    }
    return this.#startApi(source).then(() => first);
  }

  /**
   * The API server's side: informers, the Lease and the status writer. Their modules (and
   * @kubernetes/client-node, about half a second of CPU to load) are imported here, so the
   * manifests mode and the one-shot commands never load them.
   */
  async #startApi(source: Extract<ControllerSource, { kind: 'api' }>): Promise<void> {
    const [{ ApiSource }, { LeaderElector }, { StatusWriter }] = await Promise.all([import('./api-source.js'), import('./leader.js'), import('./status.js')]);
    if (this.#stopped) return;
    const { logger } = this.#o;
    this.#writer = new StatusWriter(source.kubeconfig, () => this.leading, logger);
    this.#leader = new LeaderElector(source.kubeconfig, source.lease, logger, (leading) => {
      this.#writer!.forget();
      if (leading) this.#writeStatus();
    });
    this.#api = new ApiSource({ kubeconfig: source.kubeconfig, store: this.#store, logger, ...(source.backoff ? { backoff: source.backoff } : {}) });
    this.#api.start();
    this.#leader.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#manifests?.stop();
    this.#store.close();
    await this.#api?.stop();
    await this.#writing;
    await this.#leader?.stop();
  }

  #translated(snapshot: ResourceSnapshot, onDocument: (doc: Record<string, unknown>) => void): void {
    let t: TranslationResult;
    try {
      t = this.#o.translate(snapshot, this.#o.translateOptions);
    } catch (err) {
      // A translation bug must not take the data plane down: the previous config keeps serving.
      this.#o.logger.error({ type: 'kubernetes', err }, 'cannot translate the resources; the previous config keeps serving');
      return;
    }
    this.#last = t;
    this.#logNotes(t);
    // A change that does not change the config (a status written back, an unrelated Secret) reloads nothing.
    const json = JSON.stringify(t.config);
    if (json !== this.#lastConfig) {
      this.#lastConfig = json;
      onDocument(t.config);
    }
    this.#writeStatus();
  }

  /** Each note once while it holds (a resource that stays refused is not logged on every change). */
  #logNotes(t: TranslationResult): void {
    const next = new Set<string>();
    for (const n of t.notes) {
      const key = `${n.kind} ${n.namespace !== undefined ? `${n.namespace}/` : ''}${n.name}: ${n.message}`;
      next.add(key);
      if (!this.#notes.has(key)) this.#o.logger.warn({ type: 'kubernetes', kind: n.kind, namespace: n.namespace, name: n.name }, n.message);
    }
    this.#notes = next;
  }

  #writeStatus(): void {
    if (this.#writer === null || !this.leading || this.#stopped) return;
    if (this.#pendingRound) return;
    this.#pendingRound = true;
    this.#writing = this.#writing.then(async () => {
      this.#pendingRound = false;
      const statuses = this.#last?.statuses ?? [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < statuses.length && !this.#stopped && this.leading) {
          const s = statuses[next++]!;
          await this.#writer!.write(s.kind, s.namespace, s.name, s.status);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, this.#o.statusConcurrency ?? 8) }, worker));
    });
  }
}

/** A snapshot of objects read once (no store, no timers): for the one-shot commands. */
export function snapshotOf(objects: ReadonlyMap<Kind, readonly KubeObject[]>): ResourceSnapshot {
  const sorted = new Map<Kind, readonly KubeObject[]>();
  for (const [kind, list] of objects) sorted.set(kind, [...list].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0)));
  return { version: 1, get: (kind) => sorted.get(kind) ?? [] };
}

/** Reads a manifests directory once and translates it: what `kubernetes render|status` and `explain` print. */
export function translateDirectory(dir: string, translate: TranslateFn, opts?: ControllerTranslateOptions): { translation: TranslationResult; problems: readonly ManifestProblem[] } {
  const read = readManifests(dir);
  return { translation: translate(snapshotOf(read.objects), opts), problems: read.problems };
}
