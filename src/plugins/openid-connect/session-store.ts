// Where `openid-connect` keeps its server-side state: sessions (the tokens never leave it),
// sign-ins waiting for the provider's callback, and one-time markers (the refresh lock of a
// session, the jti of a logout token already used). Every entry expires; each kind is
// bounded. The memory store serves one process; sqlite the processes of a node; redis and
// postgres every node of a cluster, so that a logout on one ends the session on all.

/** One signed-in browser. Times in ms since the epoch. */
export interface SessionData {
  readonly iss: string;
  readonly sub: string;
  /** The provider's session id (the ID token's `sid`), for front- and back-channel logout. */
  readonly sid: string | null;
  /** The ID token's claims, for the consumer and the claim headers. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly idToken: string;
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** When the access token expires (0: the provider did not say). */
  readonly accessExpiresAt: number;
  /** When the session ends, whatever the tokens say. */
  readonly expiresAt: number;
}

/** A sign-in sent to the provider, waiting for its callback. */
export interface PendingLogin {
  readonly verifier: string;
  readonly nonce: string;
  readonly returnTo: string;
  readonly expiresAt: number;
}

export interface SessionStore {
  /** The store as it may be named in a message (no credentials). */
  readonly description: string;
  /** A live session, or null (unknown or expired). Synchronous for the memory store. */
  get(key: string): SessionData | null | Promise<SessionData | null>;
  /** Adds a session; false when the store holds max_sessions already. */
  create(key: string, session: SessionData): Promise<boolean>;
  /** Replaces a session that still exists (a refresh); a session ended meanwhile stays ended. */
  update(key: string, session: SessionData): Promise<void>;
  delete(key: string): Promise<void>;
  /** Ends every session the provider's session `sid` (or, with sid null, subject `sub`) holds; how many. */
  endSessions(iss: string, by: { sid: string } | { sub: string }): Promise<number>;
  /** Keeps a pending sign-in under its state (the oldest give way beyond the bound). */
  putLogin(state: string, login: PendingLogin): Promise<void>;
  /** Takes a pending sign-in out (once: a replayed callback finds nothing). */
  takeLogin(state: string): Promise<PendingLogin | null>;
  /** Sets marker `name` until `expiresAt` unless it is set: true when this call set it. */
  claim(name: string, expiresAt: number): Promise<boolean>;
  /** Removes marker `name`. */
  release(name: string): Promise<void>;
  /** A remote store: resolves once it answers. */
  ready?(signal: AbortSignal): Promise<void>;
  /**
   * A store that tells its processes of sessions ended or changed elsewhere: calls `listener`
   * with each one's key, and with null when such notices may have been missed.
   */
  onEnded?(listener: (key: string | null) => void): void;
  close(): void;
}

export interface StoreLimits {
  readonly maxSessions: number;
  readonly maxPendingLogins: number;
}

/** Markers are few (one per refresh in progress, one per logout token): bounded all the same. */
const MAX_MARKERS = 100_000;

/** The sessions of one process. */
export class MemorySessionStore implements SessionStore {
  readonly description = 'memory';
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #sessions = new Map<string, SessionData>();
  /** Insertion order is age order: the first entries are the oldest. */
  readonly #logins = new Map<string, PendingLogin>();
  readonly #markers = new Map<string, number>();
  readonly #sweep: NodeJS.Timeout;
  readonly #onClose: () => void;

  constructor(limits: StoreLimits, now: () => number, onClose: () => void = () => {}) {
    this.#limits = limits;
    this.#now = now;
    this.#onClose = onClose;
    this.#sweep = setInterval(() => this.#removeExpired(), 60_000);
    this.#sweep.unref();
  }

  get(key: string): SessionData | null {
    const s = this.#sessions.get(key);
    if (s === undefined) return null;
    if (s.expiresAt > this.#now()) return s;
    this.#sessions.delete(key);
    return null;
  }

  async create(key: string, session: SessionData): Promise<boolean> {
    if (this.#sessions.size >= this.#limits.maxSessions) this.#removeExpired();
    if (this.#sessions.size >= this.#limits.maxSessions) return false;
    this.#sessions.set(key, session);
    return true;
  }

  async update(key: string, session: SessionData): Promise<void> {
    if (this.#sessions.has(key)) this.#sessions.set(key, session);
  }

  async delete(key: string): Promise<void> {
    this.#sessions.delete(key);
  }

  async endSessions(iss: string, by: { sid: string } | { sub: string }): Promise<number> {
    let n = 0;
    for (const [key, s] of this.#sessions) {
      if (s.iss !== iss || ('sid' in by ? s.sid !== by.sid : s.sub !== by.sub)) continue;
      this.#sessions.delete(key);
      n++;
    }
    return n;
  }

  async putLogin(state: string, login: PendingLogin): Promise<void> {
    if (this.#logins.size >= this.#limits.maxPendingLogins) {
      const oldest = this.#logins.keys().next();
      if (!oldest.done) this.#logins.delete(oldest.value);
    }
    this.#logins.set(state, login);
  }

  async takeLogin(state: string): Promise<PendingLogin | null> {
    const login = this.#logins.get(state);
    if (login === undefined) return null;
    this.#logins.delete(state);
    return login.expiresAt > this.#now() ? login : null;
  }

  async claim(name: string, expiresAt: number): Promise<boolean> {
    const until = this.#markers.get(name);
    if (until !== undefined && until > this.#now()) return false;
    if (this.#markers.size >= MAX_MARKERS) this.#removeExpired();
    if (this.#markers.size >= MAX_MARKERS) return false;
    this.#markers.set(name, expiresAt);
    return true;
  }

  async release(name: string): Promise<void> {
    this.#markers.delete(name);
  }

  close(): void {
    this.#onClose();
    clearInterval(this.#sweep);
  }

  #removeExpired(): void {
    const now = this.#now();
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(k);
    for (const [k, l] of this.#logins) if (l.expiresAt <= now) this.#logins.delete(k);
    for (const [k, t] of this.#markers) if (t <= now) this.#markers.delete(k);
  }
}
