// Logs are JSON lines on stdout (pino). Writes are asynchronous and bounded: when stdout
// cannot keep up, lines beyond 16 MiB of backlog are dropped rather than growing memory.
import { pino, type Logger } from 'pino';
import { LineSink } from './line-sink.js';

export type { Logger };

/** Writes of at most PIPE_BUF bytes (whole lines) stay atomic when several workers share one stdout pipe. */
const PIPE_BUF = 4096;

/** A writer of pre-serialized JSON lines into the logger's own destination (same stream, same order). */
export interface LineWriter {
  /** Info lines (the access log on stdout) are wanted at the logger's level. */
  readonly enabled: boolean;
  /** Error lines are wanted at the logger's level. */
  readonly errors: boolean;
  write(line: string): void;
  flush(): void;
}

const writers = new WeakMap<Logger, LineWriter>();

export function lineWriter(logger: Logger): LineWriter {
  return writers.get(logger) ?? { enabled: false, errors: false, write: () => undefined, flush: () => undefined };
}

export function createLogger(opts: { level?: string; dest?: number | string } = {}): Logger {
  // minLength 1, not 0: every write still goes out at once, but sonic-boom's flush(cb) then
  // waits for a write in flight — with 0 it calls back at once and lines could be lost at exit.
  const destination = pino.destination({ dest: opts.dest ?? 1, sync: false, minLength: 1, maxLength: 16 * 1024 * 1024, maxWrite: PIPE_BUF });
  const logger = pino(
    {
      level: opts.level ?? process.env['NORTHGATE_LOG_LEVEL'] ?? 'info',
      base: { pid: process.pid },
      timestamp: isoTimeCached,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  const access = typeof (opts.dest ?? 1) === 'number' ? new LineSink((opts.dest ?? 1) as number) : null;
  writers.set(logger, {
    enabled: logger.isLevelEnabled('info') && access !== null,
    errors: logger.isLevelEnabled('error') && access !== null,
    write: (line) => access!.write(line),
    flush: () => access?.flush(),
  });
  return logger;
}

/** The current time as pino writes it, formatted at most once per millisecond. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
    lastTime = `,"time":"${lastIso}"`;
  }
  return lastIso;
}

let lastMs = 0;
let lastIso = '';
let lastTime = '';
/** pino's ISO timestamp, formatted at most once per millisecond (it showed in profiles at high request rates). */
function isoTimeCached(): string {
  isoNow();
  return lastTime;
}

const flushHooks = new WeakMap<Logger, Array<() => void>>();

/** Also run `fn` when the logger is flushed (outputs of its own, like an access log file). */
export function onFlushLogger(logger: Logger, fn: () => void): void {
  const hooks = flushHooks.get(logger);
  if (hooks === undefined) flushHooks.set(logger, [fn]);
  else hooks.push(fn);
}

/** Starts writing what is buffered (the access-log sinks synchronously, pino's lines asynchronously). */
export function flushLogger(logger: Logger): void {
  flushSinks(logger);
  try {
    logger.flush();
  } catch {
    // stdout closed: nothing left to do.
  }
}

/** Flushes everything and calls `done` once pino's lines are written too (or after `capMs`): call before the process exits. */
export function flushLoggerThen(logger: Logger, done: () => void, capMs = 2000): void {
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    clearTimeout(timer);
    done();
  };
  const timer = setTimeout(once, capMs);
  flushSinks(logger);
  try {
    logger.flush(() => once());
  } catch {
    once();
  }
}

/** The access-log sinks and outputs registered with onFlushLogger, written synchronously. */
function flushSinks(logger: Logger): void {
  for (const fn of flushHooks.get(logger) ?? []) fn();
  writers.get(logger)?.flush();
}
