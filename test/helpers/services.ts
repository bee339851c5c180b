// Real Redis and PostgreSQL for the tests that need them. When one cannot be reached the
// tests report "skipped: no Redis at ..." — unless NORTHGATE_REQUIRE_SERVICES=1 (set by
// .ci/run after it made sure the services run), where that is a failure.
import { connect } from 'node:net';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const REQUIRED = process.env['NORTHGATE_REQUIRE_SERVICES'] === '1';

/** Resolves to undefined when Redis answers PING, else to the skip reason (or throws when required). */
export async function redisSkipReason(url = REDIS_URL): Promise<string | undefined> {
  const u = new URL(url);
  const ok = await new Promise<boolean>((resolve) => {
    const socket = connect(Number(u.port || 6379), u.hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 1000);
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
  if (ok) return undefined;
  const reason = `skipped: no Redis at ${url}`;
  if (REQUIRED) throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}
