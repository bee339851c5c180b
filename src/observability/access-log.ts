// The access log and the request error log, written by subscribing to the core's
// request-end event. Access lines come from the serializer compiled for the config's field
// list (access-log-format.ts) and go to stdout (the logger's own line sink) or to a file,
// reopened on SIGUSR1 for log rotation. A request the gateway failed (5xx it produced, or
// an upstream that broke mid-response) also gets an error line on stdout with its request
// id and trace id, whatever the access log settings.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { openSync } from 'node:fs';
import { ConfigError } from '../base/problems.js';
import type { RequestContext } from '../proxy/context.js';
import type { ProxySnapshot } from '../proxy/snapshot.js';
import { requestEndChannel, requestErrorChannel } from '../base/events.js';
import { isoNow, lineWriter, onFlushLogger, type LineWriter, type Logger } from '../base/logger.js';
import { jsonText, traceIdOf, wireText, type AccessLogSpec } from './access-log-format.js';
import { LineSink } from '../base/line-sink.js';

/** What the access log reads of a snapshot (the compiler's Snapshot extends it). */
export interface AccessLogSnapshot extends ProxySnapshot {
  readonly version: number;
  readonly source: string;
  /** The compiled access log (fields → serializer, output), or null when it is off. */
  readonly accessLog: AccessLogSpec | null;
}

let lastCtx: RequestContext | null = null;
let lastLine = '';
let lastTime = '';

/**
 * The access line written for `ctx` as its end is published (null when none was: the access
 * log is off), for the log sinks, a later subscriber of the same event, which copy the fields
 * they share with it instead of making them again (access-log-format.ts, compileRecordFromLine).
 */
export function accessLineOf(ctx: RequestContext): string | null {
  return ctx === lastCtx ? lastLine : null;
}

/** The `time` of the line accessLineOf returned last (a record made with it says the same time as the line). */
export function accessLineTime(): string {
  return lastTime;
}

interface Output {
  write(line: string): void;
}

export class AccessLog {
  readonly #logger: Logger;
  readonly #stdout: LineWriter;
  readonly #pid = process.pid;
  /** Where access lines go now; null when the access log is off (or stdout is below info level). */
  #out: Output | null = null;
  /** The open log file and its path (null: stdout). */
  #file: LineSink | null = null;
  #path: string | null = null;
  #version = 0;
  readonly #onEnd: (message: unknown) => void;
  readonly #onBug: (message: unknown) => void;

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#stdout = lineWriter(logger);
    this.#onEnd = (message) => {
      const ctx = message as RequestContext<AccessLogSnapshot>;
      const spec = ctx.snapshot.accessLog;
      const out = this.#out;
      if (spec !== null && out !== null) {
        const time = isoNow();
        const line = spec.line(ctx, time, this.#pid);
        out.write(line);
        lastCtx = ctx;
        lastLine = line;
        lastTime = time;
      }
      if (ctx.errorCode !== null) this.#requestFailed(ctx);
    };
    this.#onBug = (message) => {
      const { ctx, error } = message as { ctx: RequestContext; error: unknown };
      logger.error(
        { type: 'error', request_id: ctx.id, trace_id: traceIdOf(ctx), route: ctx.route?.name ?? null, service: ctx.route?.service.name ?? null, err: error },
        'plugin or core error while handling a request',
      );
    };
    subscribe(requestEndChannel.name, this.#onEnd);
    subscribe(requestErrorChannel.name, this.#onBug);
    onFlushLogger(logger, () => this.flush());
  }

  /**
   * Follows the config: opens the log file when the path is new (throws when it cannot be
   * opened), closes it when the access log moves to stdout or is turned off. A snapshot older
   * than the one applied last is ignored.
   */
  configure(snapshot: AccessLogSnapshot): void {
    if (snapshot.version < this.#version) return;
    this.#version = snapshot.version;
    const spec = snapshot.accessLog;
    const path = spec?.path ?? null;
    if (path !== this.#path) {
      let next: LineSink | null = null;
      if (path !== null) {
        try {
          next = new LineSink(openLogFile(path));
        } catch (err) {
          throw new ConfigError(snapshot.source, [{ path: ['access_log', 'path'], message: `cannot open ${path}: ${(err as Error).message}` }]);
        }
      }
      this.#file?.close(true);
      this.#file = next;
      this.#path = path;
    }
    this.#out = spec === null ? null : this.#file ?? (this.#stdout.enabled ? this.#stdout : null);
  }

  /** SIGUSR1: lines buffered so far go to the file as it was (now renamed), new lines to a new file at the path. */
  reopen(): void {
    const path = this.#path;
    if (path === null || this.#file === null) return;
    let fd: number;
    try {
      fd = openLogFile(path);
    } catch (err) {
      this.#logger.error({ type: 'access_log', path, err }, 'cannot reopen the access log file; still writing to the old one');
      return;
    }
    const old = this.#file;
    this.#file = new LineSink(fd);
    if (this.#out === old) this.#out = this.#file;
    old.close(true);
    this.#logger.info({ type: 'access_log', path }, 'access log file reopened');
  }

  flush(): void {
    this.#file?.flush();
  }

  close(): void {
    unsubscribe(requestEndChannel.name, this.#onEnd);
    unsubscribe(requestErrorChannel.name, this.#onBug);
    this.#file?.close(true);
    this.#file = null;
    this.#out = null;
  }

  /** An error line for a request the gateway failed: its own 5xx, or a response cut mid-way (status 0). */
  #requestFailed(ctx: RequestContext): void {
    const code = ctx.errorCode!;
    const status = ctx.res.headersSent ? ctx.responseStatus : 0;
    if ((status !== 0 && status < 500) || code === 'client-closed' || !this.#stdout.errors) return;
    this.#stdout.write(errorLine(ctx, code, status, isoNow(), this.#pid));
  }
}

function errorLine(ctx: RequestContext, code: string, status: number, time: string, pid: number): string {
  const route = ctx.route;
  return (
    `{"level":"error","time":"${time}","pid":${pid},"type":"error","msg":${jsonText(`request failed: ${code}`)},` +
    `"request_id":${wireText(ctx.id)},"trace_id":${jsonText(traceIdOf(ctx))},"method":${wireText(ctx.method)},"path":${wireText(ctx.path)},` +
    `"status":${status},"error":${jsonText(code)},"route":${jsonText(route?.name)},"service":${jsonText(route?.service.name)},` +
    `"upstream":${jsonText(route?.service.upstream.name)},"target":${jsonText(ctx.target?.url)},"attempts":${ctx.attempt},` +
    `"duration_ms":${Math.round((ctx.finishedAt - ctx.startedAt) * 1000) / 1000}}\n`
  );
}

/** Opens (creating, mode 0644) a log file for appending; O_APPEND keeps whole-line writes of several workers apart. */
function openLogFile(path: string): number {
  return openSync(path, 'a', 0o644);
}
