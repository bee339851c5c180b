// Logs are JSON lines on stdout (pino). Writes are asynchronous and bounded: when stdout
// cannot keep up, lines beyond 16 MiB of backlog are dropped rather than growing memory.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Writes of at most PIPE_BUF bytes (whole lines) stay atomic when several workers share one stdout pipe. */
const PIPE_BUF = 4096;

export function createLogger(opts: { level?: string; dest?: number | string } = {}): Logger {
  const destination = pino.destination({ dest: opts.dest ?? 1, sync: false, minLength: 0, maxLength: 16 * 1024 * 1024, maxWrite: PIPE_BUF });
  return pino(
    {
      level: opts.level ?? process.env['NORTHGATE_LOG_LEVEL'] ?? 'info',
      base: { pid: process.pid },
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

let lastMs = 0;
let lastTime = '';
/** pino's ISO timestamp, formatted at most once per millisecond (it showed in profiles at high request rates). */
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** Writes what is buffered; call before the process exits. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // stdout closed: nothing left to do.
  }
}
