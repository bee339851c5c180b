// Status written through the status subresource (PATCH .../status, a JSON merge patch of
// `status` only), by the leader alone: N replicas compute the same status and one writes it.
// A status equal to the last one written is not sent again; a new leader writes everything
// once, since it cannot know what the previous one wrote.
import { CustomObjectsApi, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../base/logger.js';
import { describe } from './api-source.js';
import { KIND_INFO, type Kind } from './resources.js';

export type WriteResult = 'written' | 'unchanged' | 'not-leader' | 'gone' | 'failed';

export class StatusWriter {
  readonly #custom: CustomObjectsApi;
  readonly #networking: NetworkingV1Api;
  readonly #logger: Logger;
  readonly #leading: () => boolean;
  /** kind|namespace/name → the status last written (JSON). */
  readonly #written = new Map<string, string>();

  constructor(kc: KubeConfig, leading: () => boolean, logger: Logger) {
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#networking = kc.makeApiClient(NetworkingV1Api);
    this.#leading = leading;
    this.#logger = logger;
  }

  /** Leadership changed: what this replica wrote before says nothing about the object now. */
  forget(): void {
    this.#written.clear();
  }

  async write(kind: Kind, namespace: string | undefined, name: string, status: unknown): Promise<WriteResult> {
    if (!this.#leading()) return 'not-leader';
    const info = KIND_INFO.get(kind)!;
    if (!info.status) throw new Error(`${kind} has no status written by the controller`);
    const key = `${kind}|${namespace ?? ''}/${name}`;
    const json = JSON.stringify(status);
    if (this.#written.get(key) === json) return 'unchanged';
    const body = { status };
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    try {
      if (kind === 'Ingress') await this.#networking.patchNamespacedIngressStatus({ name, namespace: namespace!, body }, merge);
      else if (info.namespaced) await this.#custom.patchNamespacedCustomObjectStatus({ group: info.group, version: info.version, plural: info.plural, namespace: namespace!, name, body }, merge);
      else await this.#custom.patchClusterCustomObjectStatus({ group: info.group, version: info.version, plural: info.plural, name, body }, merge);
    } catch (err) {
      this.#written.delete(key);
      if ((err as { code?: number }).code === 404) return 'gone';
      this.#logger.warn({ type: 'kubernetes', kind, namespace, name, err: describe(err) }, 'could not write status');
      return 'failed';
    }
    this.#written.set(key, json);
    return 'written';
  }
}
