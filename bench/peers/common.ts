// Shared bits for the tiny standalone peer servers (run as child processes).
import type { Server } from 'node:net';

export const BODY = '{"id":1,"service":"northgate-bench","status":"ok","tags":["a","b","c"],"payload":"0123456789abcdef0123"}';

/** argv: <listenPort> [upstreamUrl]; listenPort 0 picks a free port. */
export function args(): { port: number; upstream: string } {
  const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
  const upstream = process.argv[3] ?? process.env.UPSTREAM ?? '';
  return { port: Number.isInteger(port) && port >= 0 ? port : 0, upstream };
}

/** Tells the parent the port, as one JSON line on stdout. */
export function announce(server: Server): void {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

export function exitOnSignals(close: () => Promise<unknown> | void): void {
  const stop = (): void => {
    const t = setTimeout(() => process.exit(0), 2000);
    t.unref();
    Promise.resolve()
      .then(close)
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
