// Buffered writes of whole JSON lines to a file descriptor: the access log's writer. Lines
// are collected and written together once enough are pending or 250 ms have passed (like
// nginx's buffered access_log). A file (or /dev/null) is written synchronously in one write
// per ~32 KB, which a file takes whole (appends do not interleave between workers). A pipe,
// socket or terminal gets writes of at most PIPE_BUF bytes so lines from several workers
// sharing it never interleave; a pipe or socket (a log collector that may read slowly) is
// never written synchronously: the event loop must not wait for it. Measured on the proxy's
// pinned core: an asynchronous write per line cost ~15% of throughput, and sonic-boom's
// per-line bookkeeping (it re-measures its pending string on every write) a few per cent more.
// Lines are encoded straight into one reused buffer (one copy per line; joining the strings
// and encoding the result made two), which a synchronous write sends from in place.
import { closeSync, fstatSync, write, writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const PIPE_BUF = 4096;
/** Flush once this many bytes are pending: for a pipe, socket or terminal (leaves room for one more line under PIPE_BUF)... */
const FLUSH_BYTES = 3072;
/** ...and for a file, which takes a write whole. */
const FLUSH_BYTES_FILE = 32 * 1024;
/** The line buffer: room for a flush's worth plus one long line (UTF-8 takes at most 3 bytes per UTF-16 unit). */
const BUFFER_BYTES = 64 * 1024;
/** When the descriptor would block, lines wait in memory up to this much, then are dropped (counted). */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export class LineSink {
  readonly #fd: number;
  /** Encoded lines not written yet: the first #used bytes. */
  readonly #buf = Buffer.allocUnsafe(BUFFER_BYTES);
  #used = 0;
  /** Set while an asynchronous write (after EAGAIN) is in flight: later data queues behind it. */
  #backlog: Buffer[] | null = null;
  #backlogBytes = 0;
  dropped = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #sync: boolean;
  /** Writes may be cut at PIPE_BUF (pipe, socket, terminal), or go whole (file). */
  readonly #whole: boolean;
  readonly #flushBytes: number;
  /** Close the descriptor once the backlog is written (a log file being rotated away). */
  #closeFd = false;

  constructor(fd: number, flushMs = 250) {
    this.#fd = fd;
    let sync = true;
    try {
      const st = fstatSync(fd);
      sync = !(st.isFIFO() || st.isSocket());
    } catch {
      // Not a valid descriptor: writes will fail and be counted as dropped.
    }
    this.#sync = sync;
    this.#whole = sync && !isatty(fd);
    this.#flushBytes = this.#whole ? FLUSH_BYTES_FILE : FLUSH_BYTES;
    this.#timer = setInterval(() => this.flush(), flushMs);
    this.#timer.unref();
  }

  write(line: string): void {
    const worst = line.length * 3;
    if (this.#used + worst > BUFFER_BYTES) {
      this.flush();
      // Longer than the whole buffer (a line of many long logged fields): on its own.
      if (worst > BUFFER_BYTES) return this.#send(Buffer.from(line), false);
    }
    this.#used += this.#buf.write(line, this.#used);
    if (this.#used >= this.#flushBytes) this.flush();
  }

  flush(): void {
    if (this.#used === 0) return;
    const data = this.#buf.subarray(0, this.#used);
    this.#used = 0;
    this.#send(data, true);
  }

  /** Writes `data`; `borrowed`: it is the line buffer, copied before anything keeps it past this call. */
  #send(data: Buffer, borrowed: boolean): void {
    if (!this.#sync || this.#backlog !== null) return this.#queue(borrowed ? Buffer.from(data) : data);
    let offset = 0;
    while (offset < data.length) {
      const end = this.#whole ? data.length : chunkEnd(data, offset);
      let n: number;
      try {
        n = writeSync(this.#fd, data, offset, end - offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return this.#queue(borrowed ? Buffer.from(data.subarray(offset)) : data.subarray(offset));
        this.dropped += countLines(data.subarray(offset));
        return;
      }
      offset += n;
    }
  }

  /** Stops the timer and writes what is pending; with `closeFd`, closes the descriptor once every queued line is written. */
  close(closeFd = false): void {
    clearInterval(this.#timer);
    this.flush();
    if (!closeFd) return;
    this.#closeFd = true;
    if (this.#backlog === null) this.#closeNow();
  }

  #closeNow(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // Already closed or never valid.
    }
  }

  #queue(data: Buffer): void {
    if (this.#backlogBytes + data.length > MAX_PENDING_BYTES) {
      this.dropped += countLines(data);
      return;
    }
    if (this.#backlog === null) {
      this.#backlog = [data];
      this.#backlogBytes = data.length;
      this.#drain();
    } else {
      this.#backlog.push(data);
      this.#backlogBytes += data.length;
    }
  }

  #drain(): void {
    const head = this.#backlog![0]!;
    const end = chunkEnd(head, 0);
    write(this.#fd, head, 0, end, null, (err, n) => {
      const backlog = this.#backlog!;
      if (err && err.code !== 'EAGAIN') {
        this.dropped += backlog.reduce((sum, b) => sum + countLines(b), 0);
        this.#backlog = null;
        this.#backlogBytes = 0;
        if (this.#closeFd) this.#closeNow();
        return;
      }
      const written = err ? 0 : n;
      this.#backlogBytes -= written;
      if (written === head.length) backlog.shift();
      else backlog[0] = head.subarray(written);
      if (backlog.length === 0) {
        this.#backlog = null;
        if (this.#closeFd) this.#closeNow();
      } else if (err) setTimeout(() => this.#drain(), 10).unref();
      else this.#drain();
    });
  }
}

/** The end of the next write from `offset`: at most PIPE_BUF bytes, ending after a newline when one is in reach. */
function chunkEnd(data: Buffer, offset: number): number {
  if (data.length - offset <= PIPE_BUF) return data.length;
  const nl = data.lastIndexOf(10, offset + PIPE_BUF - 1);
  return nl >= offset ? nl + 1 : offset + PIPE_BUF;
}

function countLines(data: Buffer): number {
  let n = 0;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) n++;
  return n;
}
