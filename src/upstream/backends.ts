// Weighted backends of a route (`routes[].backends`): each request goes to one backend in
// proportion to the weights, by smooth weighted round-robin (the nginx algorithm), which is
// exact over every window of sum(weights) picks and never sends a burst to one backend. The
// running state lives in a registry keyed by the route and its backends, so a reload that
// leaves them unchanged carries on from where the old snapshot stopped.
import { createHash } from 'node:crypto';
import type { Service } from './service.js';
import type { Target } from './target.js';

/** Request-header edits of one backend, names lower case, run in the order remove, set, add. */
export interface HeaderEdits {
  readonly remove: readonly string[];
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly add: ReadonlyArray<readonly [string, string]>;
}

export interface Backend {
  /** The label in the access log and metrics: the upstream's name, or the URL as written. */
  readonly name: string;
  /** Stable across reloads and processes (a hash of the name and its occurrence): what a session names. */
  readonly id: string;
  readonly weight: number;
  /** The backend's upstream with its own timeouts and retries (the route's service otherwise). */
  readonly service: Service;
  readonly requestHeaders: HeaderEdits | null;
  /**
   * A backend that cannot be served (`invalid: true`, the Gateway API's invalid backendRef):
   * it takes its share of the requests, which the gateway answers 500 itself.
   */
  readonly invalid?: boolean;
}

/** Generic over what a backend carries besides its weight and service (the proxy adds its route). */
export class WeightedBackends<B extends Backend = Backend> {
  readonly list: readonly B[];
  /** Sum of the weights: 0 means no backend may be chosen (500, as the Gateway API says). */
  readonly total: number;
  /** SWRR's current weights, shared with the snapshot before when the backends are unchanged. */
  readonly #current: number[];

  constructor(list: readonly B[], current: number[]) {
    this.list = list;
    this.total = list.reduce((n, b) => n + b.weight, 0);
    this.#current = current;
  }

  /**
   * The next backend with a positive weight and a target available now. Backends without
   * one are skipped without disturbing the others' order; when none has one, the next
   * backend by weight alone (its request then fails as that upstream does). Null only
   * when every weight is 0.
   */
  pick(now: number): B | null {
    if (this.total === 0) return null;
    let skipped: B[] | null = null;
    for (let round = 0; round < this.list.length; round++) {
      const i = this.#step(skipped);
      if (i === -1) break;
      const b = this.list[i]!;
      if (b.invalid === true || hasAvailableTarget(b.service.upstream.targets, now)) return b;
      this.#undo(i, skipped);
      (skipped ??= []).push(b);
    }
    return this.list[this.#step(null)]!;
  }

  /** The backend a session names, when it still has a positive weight (never an invalid one). */
  byId(id: string): B | null {
    for (const b of this.list) if (b.id === id) return b.weight > 0 && b.invalid !== true ? b : null;
    return null;
  }

  #step(skip: readonly Backend[] | null): number {
    const current = this.#current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < this.list.length; i++) {
      const b = this.list[i]!;
      if (b.weight === 0 || (skip !== null && skip.includes(b))) continue;
      current[i]! += b.weight;
      total += b.weight;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    if (best !== -1) current[best]! -= total;
    return best;
  }

  /** Takes back the step that chose `chosen` (it had no target to offer). */
  #undo(chosen: number, skip: readonly Backend[] | null): void {
    const current = this.#current;
    let total = 0;
    for (let i = 0; i < this.list.length; i++) {
      const b = this.list[i]!;
      if (b.weight === 0 || (skip !== null && skip.includes(b))) continue;
      current[i]! -= b.weight;
      total += b.weight;
    }
    current[chosen]! += total;
  }
}

function hasAvailableTarget(targets: readonly Target[], now: number): boolean {
  for (let i = 0; i < targets.length; i++) if (targets[i]!.health.available(now)) return true;
  return false;
}

/** A short, stable id for a name (backends and targets in session values): no address leaks to clients. */
export function stableId(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 11);
}

/** The weighted round-robin state of every route with backends, kept across reloads. */
export class BackendStates {
  #states = new Map<string, number[]>();
  #used = new Map<string, number[]>();

  /** The state for `route` with these backends: the kept one when they are unchanged. */
  stateFor(route: string, backends: ReadonlyArray<Pick<Backend, 'id' | 'weight'>>): number[] {
    const key = `${route}|${backends.map((b) => `${b.id}:${b.weight}`).join(',')}`;
    const state = this.#states.get(key) ?? this.#used.get(key) ?? backends.map(() => 0);
    this.#used.set(key, state);
    return state;
  }

  /** The snapshot compiled since the last call is in service: forget the states it does not use. */
  retain(): void {
    this.#states = this.#used;
    this.#used = new Map();
  }
}
