// Sessions in Redis, for every node of a cluster. Entries expire by Redis's own TTL; a
// sorted set per kind (score: expiry) bounds the count: a session beyond max_sessions is
// refused, a pending sign-in beyond max_pending_logins pushes the oldest out. A set per
// provider session (and per subject) lists its sessions for front- and back-channel logout.
// Each step that reads and writes is one Lua script, so that nodes do not race. Every end
// or change of a session is published on `<prefix>ended` (its key), so that the nodes' copies
// of it (session-cache.ts) go at once rather than when they are session.cache_ttl old.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { coalesceWrites, redisReady, whileFirstConnecting } from '../../base/redis.js';
import type { PendingLogin, SessionData, SessionStore, StoreLimits } from './session-store.js';

const CREATE = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
end
return 1
`;

const END = `
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', k)
  redis.call('ZREM', KEYS[2], k)
  redis.call('PUBLISH', ARGV[1], k)
end
redis.call('DEL', KEYS[1])
return n
`;

const PUT_LOGIN = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4]) + 1
if over > 0 then
  for _, k in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do redis.call('DEL', k) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
return 1
`;

const TAKE = `
local v = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], KEYS[1])
return v
`;

interface OidcRedis extends Redis {
  oidcCreate(n: number, ...args: Array<string | number>): Promise<number>;
  oidcEnd(set: string, index: string, channel: string): Promise<number>;
  oidcPutLogin(key: string, index: string, data: string, expiresAt: number, now: number, max: number, ttlMs: number): Promise<number>;
  oidcTake(key: string, index: string): Promise<string | null>;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('base64url');

export class RedisSessionStore implements SessionStore {
  readonly description: string;
  readonly #r: OidcRedis;
  readonly #p: string;
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #onClose: () => void;
  /** The channel every end or change of a session is published on. */
  readonly #channel: string;
  /** The connection that listens to it (subscribed once someone asks, see onEnded). */
  #subscriber: Redis | null = null;

  constructor(redis: Redis, description: string, prefix: string, limits: StoreLimits, now: () => number, onClose: () => void) {
    const r = redis as OidcRedis;
    if (typeof r.oidcCreate !== 'function') {
      redis.defineCommand('oidcCreate', { lua: CREATE });
      redis.defineCommand('oidcEnd', { numberOfKeys: 2, lua: END });
      redis.defineCommand('oidcPutLogin', { numberOfKeys: 2, lua: PUT_LOGIN });
      redis.defineCommand('oidcTake', { numberOfKeys: 2, lua: TAKE });
    }
    this.#r = r;
    this.#p = prefix;
    this.#limits = limits;
    this.#now = now;
    this.#onClose = onClose;
    this.#channel = `${prefix}ended`;
    this.description = description;
  }

  /**
   * Calls `listener` with the key of each session ended or changed by any node, and with null
   * when the notices of a while may have been missed (the subscription was down). One
   * listener: the store's cache.
   */
  onEnded(listener: (key: string | null) => void): void {
    if (this.#subscriber !== null) return;
    const sub = (this.#subscriber = this.#r.duplicate());
    const sessions = `${this.#p}s:`;
    sub.on('error', () => undefined);
    sub.on('ready', () => {
      sub.subscribe(this.#channel).catch(() => undefined);
      // Up (again): what ended before was not heard of here.
      listener(null);
    });
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.#channel && message.startsWith(sessions)) listener(message.slice(sessions.length));
    });
  }

  /** A new client's first connection is waited for (bounded); afterwards commands fail fast while Redis is away. */
  async #up(): Promise<void> {
    if (this.#r.status !== 'ready') await whileFirstConnecting(this.#r);
  }

  #bySid(iss: string, sid: string): string {
    return `${this.#p}sid:${digest(`${iss}\n${sid}`)}`;
  }

  #bySub(iss: string, sub: string): string {
    return `${this.#p}sub:${digest(`${iss}\n${sub}`)}`;
  }

  async get(key: string): Promise<SessionData | null> {
    await this.#up();
    coalesceWrites(this.#r);
    const v = await this.#r.get(`${this.#p}s:${key}`);
    if (v === null) return null;
    const s = JSON.parse(v) as SessionData;
    return s.expiresAt > this.#now() ? s : null;
  }

  async create(key: string, s: SessionData): Promise<boolean> {
    await this.#up();
    const now = this.#now();
    const keys = [`${this.#p}s:${key}`, `${this.#p}idx:s`, this.#bySub(s.iss, s.sub), ...(s.sid === null ? [] : [this.#bySid(s.iss, s.sid)])];
    const ok = await this.#r.oidcCreate(keys.length, ...keys, JSON.stringify(s), s.expiresAt, now, this.#limits.maxSessions, Math.max(1, s.expiresAt - now));
    return ok === 1;
  }

  async update(key: string, s: SessionData): Promise<void> {
    await this.#up();
    const k = `${this.#p}s:${key}`;
    const [set] = (await this.#r.multi().set(k, JSON.stringify(s), 'PX', Math.max(1, s.expiresAt - this.#now()), 'XX').publish(this.#channel, k).exec()) ?? [];
    if (set?.[0]) throw set[0];
  }

  async delete(key: string): Promise<void> {
    await this.#up();
    const k = `${this.#p}s:${key}`;
    await this.#r.multi().del(k).zrem(`${this.#p}idx:s`, k).publish(this.#channel, k).exec();
  }

  async endSessions(iss: string, by: { sid: string } | { sub: string }): Promise<number> {
    await this.#up();
    return this.#r.oidcEnd('sid' in by ? this.#bySid(iss, by.sid) : this.#bySub(iss, by.sub), `${this.#p}idx:s`, this.#channel);
  }

  async putLogin(state: string, login: PendingLogin): Promise<void> {
    await this.#up();
    const now = this.#now();
    await this.#r.oidcPutLogin(`${this.#p}l:${state}`, `${this.#p}idx:l`, JSON.stringify(login), login.expiresAt, now, this.#limits.maxPendingLogins, Math.max(1, login.expiresAt - now));
  }

  async takeLogin(state: string): Promise<PendingLogin | null> {
    await this.#up();
    const v = await this.#r.oidcTake(`${this.#p}l:${state}`, `${this.#p}idx:l`);
    if (v === null) return null;
    const login = JSON.parse(v) as PendingLogin;
    return login.expiresAt > this.#now() ? login : null;
  }

  async claim(name: string, expiresAt: number): Promise<boolean> {
    await this.#up();
    return (await this.#r.set(`${this.#p}m:${name}`, '1', 'PX', Math.max(1, expiresAt - this.#now()), 'NX')) === 'OK';
  }

  async release(name: string): Promise<void> {
    await this.#up();
    await this.#r.del(`${this.#p}m:${name}`);
  }

  ready(signal: AbortSignal): Promise<void> {
    return redisReady(this.#r, signal);
  }

  close(): void {
    this.#subscriber?.disconnect();
    this.#subscriber = null;
    this.#onClose();
  }
}
