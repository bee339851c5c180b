// The cluster-wide store: every gateway reads and writes the same Redis. An entry is one
// string (4-byte length, JSON head, body bytes) with the entry's freshness as its PX TTL;
// tags and paths are sets of entry keys, expiring no earlier than their longest entry.
// Any Redis error is a miss (the request goes upstream), never a failed request.
import type { Redis } from 'ioredis';
import { acquireRedis as acquire, coalesceWrites, releaseRedis as release } from '../../base/redis.js';
import { isEntry, type CacheEntry, type CacheStore, type PurgeRequest, type Stored } from './store.js';

export function encode(s: Stored): Buffer {
  if (!isEntry(s)) return Buffer.concat([u32(0xffffffff), Buffer.from(JSON.stringify(s))]);
  const { body, hit: _hit, ...head } = s;
  const json = Buffer.from(JSON.stringify(head));
  return Buffer.concat([u32(json.length), json, body]);
}

export function decode(buf: Buffer): Stored | undefined {
  if (buf.length < 4) return undefined;
  const n = buf.readUInt32BE(0);
  try {
    if (n === 0xffffffff) return JSON.parse(buf.subarray(4).toString()) as Stored;
    const head = JSON.parse(buf.subarray(4, 4 + n).toString()) as Omit<CacheEntry, 'body'>;
    return { ...head, body: buf.subarray(4 + n) };
  } catch {
    return undefined;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

export class RedisStore implements CacheStore {
  readonly redis: Redis;
  readonly prefix: string;

  constructor(url: string, prefix: string, timeoutMs: number) {
    this.redis = acquire(url, timeoutMs);
    this.prefix = prefix;
  }

  async get(key: string): Promise<Stored | undefined> {
    try {
      coalesceWrites(this.redis);
      const buf = await this.redis.getBuffer(this.prefix + 'e:' + key);
      if (buf === null) return undefined;
      const s = decode(buf);
      return s !== undefined && s.expiresAt > Date.now() ? s : undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, entry: CacheEntry, primary: string | null): Promise<void> {
    const ttl = entry.expiresAt - Date.now();
    if (ttl <= 0) return;
    const p = this.prefix;
    const m = this.redis.multi();
    if (primary !== null) m.set(p + 'e:' + primary, encode({ vary: entry.vary, expiresAt: entry.expiresAt }), 'PX', ttl);
    m.set(p + 'e:' + key, encode(entry), 'PX', ttl);
    for (const set of [...entry.tags.map((t) => p + 't:' + t), p + 'p:' + entry.path]) {
      m.sadd(set, p + 'e:' + key);
      // NX gives the new set an expiry; GT stretches it for a longer-lived entry.
      m.pexpire(set, ttl, 'NX');
      m.pexpire(set, ttl, 'GT');
    }
    try {
      await m.exec();
    } catch {
      // Not stored: the next request is a miss, nothing worse.
    }
  }

  purge(req: PurgeRequest): Promise<number> {
    return purgeRedis(this.redis, this.prefix, req);
  }

  release(): void {
    release(this.redis);
  }
}

/** Deletes the entries named by the tag and path sets (also used by `northgate cache purge`). */
export async function purgeRedis(redis: Redis, prefix: string, req: PurgeRequest): Promise<number> {
  const sets = [...(req.tags ?? []).map((t) => prefix + 't:' + t), ...(req.paths ?? []).map((x) => prefix + 'p:' + x)];
  let n = 0;
  for (const set of sets) {
    const keys = await redis.smembers(set);
    if (keys.length > 0) n += await redis.del(...keys);
    await redis.del(set);
  }
  return n;
}
