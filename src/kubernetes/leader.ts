// Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does
// it: the holder renews the Lease every `renewMs`; another replica takes it over once it has
// seen the same record unchanged for `leaseDurationMs` by its own clock (so clock skew between
// replicas does not matter); every write carries the resourceVersion read, so of two replicas
// racing for it the API server accepts one (409 Conflict for the other). A leader that cannot
// renew within `renewDeadlineMs` steps down; on stop it releases the Lease (empty holder) so
// another replica takes over at once.
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../base/logger.js';
import { describe } from './api-source.js';

export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (the pod name). */
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  /** How often the leader renews and the others try. */
  readonly retryMs?: number;
}

export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 } as const;

const status = (err: unknown): number | null => (err instanceof ApiException ? err.code : null);

export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #o: Required<LeaseOptions>;
  readonly #logger: Logger;
  readonly #onChange: (leading: boolean) => void;
  #leading = false;
  /** The record last seen, and when (this replica's clock) it was first seen. */
  #observed: { readonly record: string; readonly at: number } | null = null;
  #lastRenew = 0;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(kc: KubeConfig, o: LeaseOptions, logger: Logger, onChange: (leading: boolean) => void) {
    this.#api = kc.makeApiClient(CoordinationV1Api);
    this.#o = { ...LEASE_DEFAULTS, ...o };
    this.#logger = logger;
    this.#onChange = onChange;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#tick();
  }

  /** Stops trying; a leader releases the Lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#running;
    if (!this.#leading) return;
    this.#set(false);
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
      if (lease.spec?.holderIdentity !== this.#o.identity) return;
      const now = new V1MicroTime(Date.now());
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
      await this.#api.replaceNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace, body: lease });
      this.#logger.info({ type: 'kubernetes', lease: this.#o.name, identity: this.#o.identity }, 'released the leader lease');
    } catch (err) {
      this.#logger.warn({ type: 'kubernetes', lease: this.#o.name, err: describe(err) }, 'could not release the leader lease; another replica takes it when it expires');
    }
  }

  #tick(): void {
    this.#timer = null;
    this.#running = this.#attempt().finally(() => {
      this.#running = null;
      if (this.#stopped) return;
      this.#timer = setTimeout(() => this.#tick(), this.#o.retryMs);
      this.#timer.unref();
    });
  }

  async #attempt(): Promise<void> {
    try {
      this.#set(await this.#acquireOrRenew());
    } catch (err) {
      this.#logger.warn({ type: 'kubernetes', lease: this.#o.name, err: describe(err) }, 'leader lease request failed');
      // A leader that has not renewed within the deadline steps down: another may hold it soon.
      if (this.#leading && Date.now() - this.#lastRenew > this.#o.renewDeadlineMs) this.#set(false);
    }
  }

  /** One round: true when this replica holds the Lease after it. */
  async #acquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.#o;
    const seconds = Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (status(err) !== 404) throw err;
      const t = new V1MicroTime(now);
      const body: V1Lease = { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: t, renewTime: t, leaseTransitions: 0 } };
      return this.#write(() => this.#api.createNamespacedLease({ namespace, body }), now);
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${String(spec.renewTime?.valueOf() ?? '')}|${spec.leaseDurationSeconds ?? ''}`;
    if (this.#observed?.record !== record) this.#observed = { record, at: now };
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.#observed.at + (spec.leaseDurationSeconds ?? seconds) * 1000 > now) return false;
    const t = new V1MicroTime(now);
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: seconds,
      renewTime: t,
      acquireTime: holder === identity && spec.acquireTime !== undefined ? spec.acquireTime : t,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
    };
    if (heldByOther) this.#logger.info({ type: 'kubernetes', lease: name, previous: holder, identity }, 'taking over an expired leader lease');
    return this.#write(() => this.#api.replaceNamespacedLease({ name, namespace, body: lease }), now);
  }

  /** A create or update of the Lease: 409 Conflict means another replica wrote first. */
  async #write(request: () => Promise<V1Lease>, now: number): Promise<boolean> {
    try {
      await request();
    } catch (err) {
      if (status(err) === 409) return false;
      throw err;
    }
    this.#lastRenew = now;
    return true;
  }

  #set(leading: boolean): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#logger.info({ type: 'kubernetes', lease: this.#o.name, identity: this.#o.identity, leading }, leading ? 'became the leader: writing status' : 'no longer the leader');
    this.#onChange(leading);
  }
}
