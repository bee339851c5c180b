// `policy: local` is exact per node: in one process the counters are a Map in that process
// (synchronous, no IPC); under `start --workers N` the master owns them and each worker
// asks it over the cluster IPC channel, batching the checks of one event-loop turn into
// one message. The master answers from the same GCRA code, so N workers admit exactly
// `max` together. Counters are process-wide and keyed by scope + limits, so they survive
// reloads while the limits stay the same.
import cluster, { type Worker } from 'node:cluster';
import { LocalGcraStore, type Decision, type Limit } from './gcra.js';

/** The store of this process (the single process, or the master of a cluster). */
export const processStore = new LocalGcraStore();

/** True in a worker of `northgate start --workers N` (the env var is set by the master). */
export const inClusterWorker = cluster.isWorker && process.env['NORTHGATE_WORKER_SPEC'] !== undefined;

/** A worker gets no answer from the master within this time: the check counts as a store error. */
export const MASTER_TIMEOUT_MS = 1000;

type Check = [key: string, limits: Array<[period: number, max: number]>];
interface AskMessage { type: 'northgate:rl'; id: number; checks: Check[] }
interface AnswerMessage { type: 'northgate:rl'; id: number; decisions: Decision[] }

export function isRateLimitMessage(msg: unknown): msg is AskMessage {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === 'northgate:rl';
}

const limitCache = new Map<string, Limit[]>();

/** Master side: answers one worker's batch of checks from the master's store. */
export function answerRateLimit(worker: Worker, msg: AskMessage): void {
  const now = Date.now();
  const decisions = msg.checks.map(([key, spec]) => {
    const cacheKey = spec.join(';');
    let limits = limitCache.get(cacheKey);
    if (limits === undefined) {
      limits = spec.map(([period, max]) => ({ period, max, name: '' }));
      if (limitCache.size < 10_000) limitCache.set(cacheKey, limits);
    }
    return processStore.check(key, limits, now);
  });
  if (worker.isConnected()) worker.send({ type: 'northgate:rl', id: msg.id, decisions } satisfies AnswerMessage);
}

interface Waiter { resolve(d: Decision): void; reject(err: Error): void }

/** Worker side: one pending batch per event-loop turn, one IPC message per batch. */
class MasterClient {
  #seq = 0;
  readonly #pending = new Map<number, { waiters: Waiter[]; timer: NodeJS.Timeout }>();
  #batch: { checks: Check[]; waiters: Waiter[] } | null = null;
  #listening = false;

  check(key: string, spec: Array<[number, number]>): Promise<Decision> {
    if (!this.#listening) {
      this.#listening = true;
      process.on('message', (msg: unknown) => {
        if (isRateLimitMessage(msg)) this.#answered(msg as unknown as AnswerMessage);
      });
    }
    return new Promise<Decision>((resolve, reject) => {
      if (this.#batch === null) {
        this.#batch = { checks: [], waiters: [] };
        setImmediate(() => this.#send());
      }
      this.#batch.checks.push([key, spec]);
      this.#batch.waiters.push({ resolve, reject });
    });
  }

  #send(): void {
    const batch = this.#batch!;
    this.#batch = null;
    const id = ++this.#seq;
    const timer = setTimeout(() => this.#fail(id, new Error('the master did not answer')), MASTER_TIMEOUT_MS);
    timer.unref();
    this.#pending.set(id, { waiters: batch.waiters, timer });
    try {
      process.send!({ type: 'northgate:rl', id, checks: batch.checks } satisfies AskMessage, undefined, undefined, (err: Error | null) => {
        if (err) this.#fail(id, err);
      });
    } catch (err) {
      this.#fail(id, err as Error);
    }
  }

  #answered(msg: AnswerMessage): void {
    const p = this.#pending.get(msg.id);
    if (p === undefined) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    for (let i = 0; i < p.waiters.length; i++) p.waiters[i]!.resolve(msg.decisions[i]!);
  }

  #fail(id: number, err: Error): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    for (const w of p.waiters) w.reject(err);
  }
}

export const masterClient = new MasterClient();
