// Real Redis and PostgreSQL for the tests that need them. When one cannot be reached the
// tests report "skipped: no Redis at ..." — unless NORTHGATE_REQUIRE_SERVICES=1 (set by
// .ci/run after it made sure the services run), where that is a failure.
import { connect } from 'node:net';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const REQUIRED = process.env['NORTHGATE_REQUIRE_SERVICES'] === '1';

/** Resolves to undefined when Redis answers PING, else to the skip reason (or throws when required). */
export async function redisSkipReason(url = REDIS_URL): Promise<string | undefined> {
  // A few tries with a generous timeout: at suite start the machine is busy starting every
  // test file, and a blocked event loop can let a short timer fire before the PONG is read.
  for (let attempt = 0; attempt < 3; attempt++) if (await pingRedis(url, 5000)) return undefined;
  const reason = `skipped: no Redis at ${url}`;
  if (REQUIRED) throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}

function pingRedis(url: string, timeoutMs: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise<boolean>((resolve) => {
    const socket = connect(Number(u.port || 6379), u.hostname);
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(reply.startsWith('+PONG')), timeoutMs);
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Resolves to undefined when PostgreSQL answers a query, else to the skip reason (or throws when required). */
export async function postgresSkipReason(url = DATABASE_URL): Promise<string | undefined> {
  const { default: pg } = await import('pg');
  for (let attempt = 0; attempt < 3; attempt++) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch {
      // retried below
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const reason = `skipped: no PostgreSQL at ${url}`;
  if (REQUIRED) throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}
