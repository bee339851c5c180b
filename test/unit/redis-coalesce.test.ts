// coalesceWrites: the commands one event-loop turn issues on a shared Redis connection leave
// in one socket write, and the connection is uncorked again for the next turn. Real Redis;
// the socket's own write hooks are counted (nothing is mocked).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { acquireRedis, coalesceWrites, releaseRedis } from '../../src/base/redis.js';
import { REDIS_URL, redisSkipReason } from '../helpers/services.js';

const skip = await redisSkipReason();

/** Counts the writes the connection's socket hands to the kernel side (each _write or _writev call is one). */
function countWrites(socket: Socket): { readonly n: number } {
  const counter = { n: 0 };
  const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (...a) => {
    counter.n++;
    write(...a);
  };
  s._writev = (...a) => {
    counter.n++;
    writev(...a);
  };
  return counter;
}

test('one turn of commands goes out in one write; the next turn is not held back', { skip }, async () => {
  const redis = acquireRedis(REDIS_URL, 2000);
  try {
    if (redis.status !== 'ready') await once(redis, 'ready');
    const prefix = `ngtest:coalesce:${process.pid}:`;
    const writes = countWrites((redis as unknown as { stream: Socket }).stream);

    // Without coalescing: one write per command.
    await Promise.all(Array.from({ length: 20 }, (_, i) => redis.set(prefix + i, String(i))));
    assert.equal(writes.n, 20);

    // With it: the 20 commands of this turn leave together.
    const before = writes.n;
    const replies = Array.from({ length: 20 }, (_, i) => {
      coalesceWrites(redis);
      return redis.get(prefix + i);
    });
    assert.deepEqual(await Promise.all(replies), Array.from({ length: 20 }, (_, i) => String(i)));
    assert.equal(writes.n - before, 1);

    // Uncorked after the turn: a command sent without coalescing is written at once.
    const after = writes.n;
    assert.equal(await redis.del(...Array.from({ length: 20 }, (_, i) => prefix + i)), 20);
    assert.equal(writes.n - after, 1);
    assert.equal((redis as unknown as { stream: Socket }).stream.writableCorked, 0);
  } finally {
    releaseRedis(redis);
  }
});
