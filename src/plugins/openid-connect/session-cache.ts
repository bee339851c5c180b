// A process's copy of the sessions it read recently from a shared store (sqlite, redis,
// postgres), so that the requests of a busy browser cost one store lookup per
// `session.cache_ttl` instead of one each. Ending a session (logout, front- and back-channel
// logout, a refresh refused, an expired access token) drops the copy in this process at once.
// A store that announces ends (Redis: a channel) has the other processes drop theirs at
// once too; in any case a copy older than `cache_ttl` is not used, which is the bound on how
// long a session ended elsewhere keeps working here (a lost notice, SQLite, PostgreSQL).
//
// A read that was under way while a session ended must not put the ended session back: every
// change to the sessions bumps an epoch, and a read is kept only when no change happened
// since it started. Requests that miss the copy of one session while a read of it is under
// way (a copy that just got too old, under load) may wait for that read instead of each
// sending one (`shared`), as long as no change happened in this process since it started: it
// is younger than any copy. A read that must see the store as it is now (under the refresh
// lock) is a `get`, never shared. Of two reads that answer out of order, the copy keeps the
// one that started last.
import type { PendingLogin, SessionData, SessionStore } from './session-store.js';

/** Sessions kept per store and process; beyond it the oldest read gives way. */
export const SESSION_CACHE_ENTRIES = 10_000;

interface Entry {
  readonly session: SessionData;
  /** When the store answered (clock ms). */
  readonly readAt: number;
}

export class CachingSessionStore implements SessionStore {
  readonly description: string;
  readonly #inner: SessionStore;
  readonly #now: () => number;
  readonly #max: number;
  /** Insertion order is read order: the first entries are the oldest. */
  readonly #entries = new Map<string, Entry>();
  /** Reads under way (stores that answer later), by key, with the epoch they started in. */
  readonly #reading = new Map<string, { readonly epoch: number; readonly read: Promise<SessionData | null> }>();
  #epoch = 0;

  constructor(inner: SessionStore, now: () => number, max = SESSION_CACHE_ENTRIES) {
    this.#inner = inner;
    this.#now = now;
    this.#max = max;
    this.description = inner.description;
    if (inner.ready !== undefined) this.ready = (signal) => inner.ready!(signal);
    inner.onEnded?.((key) => {
      this.#epoch++;
      if (key === null) this.#entries.clear();
      else this.#entries.delete(key);
    });
  }

  /**
   * The session as this process read it from the store less than `maxAgeMs` ago, while it is
   * live; undefined when there is no such copy (read the store with get).
   */
  recent(key: string, maxAgeMs: number): SessionData | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    const now = this.#now();
    if (now - e.readAt < maxAgeMs && e.session.expiresAt > now) return e.session;
    return undefined;
  }

  /** Reads the store, or joins a read of `key` under way that started after the last change here; keeps what it found for `recent`. */
  shared(key: string): SessionData | null | Promise<SessionData | null> {
    const pending = this.#reading.get(key);
    if (pending !== undefined && pending.epoch === this.#epoch) return pending.read;
    return this.get(key);
  }

  /** Reads the store (never the copy, nor a read under way) and keeps what it found for `recent`. */
  get(key: string): SessionData | null | Promise<SessionData | null> {
    const epoch = this.#epoch;
    const readAt = this.#now();
    const found = this.#inner.get(key);
    if (!(found instanceof Promise)) return this.#keep(key, found, epoch, readAt);
    const done = () => {
      if (this.#reading.get(key) === entry) this.#reading.delete(key);
    };
    const read = found.then(
      (s) => {
        done();
        return this.#keep(key, s, epoch, readAt);
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
    const entry = { epoch, read };
    this.#reading.set(key, entry);
    return read;
  }

  #keep(key: string, s: SessionData | null, epoch: number, readAt: number): SessionData | null {
    // Two reads of one session may answer out of order: the copy keeps the read that started
    // last (the store may have changed in between, from another process).
    const kept = this.#entries.get(key);
    if (kept !== undefined && kept.readAt > readAt) return s;
    if (s === null) {
      this.#entries.delete(key);
    } else if (epoch === this.#epoch) {
      this.#entries.delete(key);
      if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(key, { session: s, readAt });
    }
    return s;
  }

  /** A change is under way or done: reads started before it are not kept, the copy of `key` goes. */
  #changed(key: string): void {
    this.#epoch++;
    this.#entries.delete(key);
  }

  async #change<T>(key: string, run: () => Promise<T>): Promise<T> {
    this.#changed(key);
    try {
      return await run();
    } finally {
      this.#changed(key);
    }
  }

  create(key: string, session: SessionData): Promise<boolean> {
    return this.#inner.create(key, session);
  }

  update(key: string, session: SessionData): Promise<void> {
    return this.#change(key, () => this.#inner.update(key, session));
  }

  delete(key: string): Promise<void> {
    return this.#change(key, () => this.#inner.delete(key));
  }

  endSessions(iss: string, by: { sid: string } | { sub: string }): Promise<number> {
    // The store knows which sessions these are; the copies are dropped by what they hold.
    const drop = () => {
      this.#epoch++;
      for (const [k, e] of this.#entries) if (e.session.iss === iss && ('sid' in by ? e.session.sid === by.sid : e.session.sub === by.sub)) this.#entries.delete(k);
    };
    drop();
    return this.#inner.endSessions(iss, by).finally(drop);
  }

  putLogin(state: string, login: PendingLogin): Promise<void> {
    return this.#inner.putLogin(state, login);
  }

  takeLogin(state: string): Promise<PendingLogin | null> {
    return this.#inner.takeLogin(state);
  }

  claim(name: string, expiresAt: number): Promise<boolean> {
    return this.#inner.claim(name, expiresAt);
  }

  release(name: string): Promise<void> {
    return this.#inner.release(name);
  }

  ready?: (signal: AbortSignal) => Promise<void>;

  close(): void {
    this.#entries.clear();
    this.#reading.clear();
    this.#inner.close();
  }
}
