// One POST, answered with its status and Retry-After: the transport of the OTLP trace
// exporter and the usage push (through an undici pool) and of the log sinks that speak HTTP
// (through the gateway's own HTTP/1.1 client, which offers undici's dispatch). Through
// dispatch with a handler that reads the status and drops the body: request() would wrap
// each answer in a Readable stream, whose shape then also reaches the node:stream code every
// proxied request runs.
import type { NativePool } from '../upstream/native-pool.js';
import type { Pool } from '../upstream/undici-pool.js';

/** A receiver's answer: its status and Retry-After (seconds, as sent; "" when none). */
export interface PostAnswer {
  status: number;
  retryAfter: string;
}

/** Rejects when there is no answer (connection refused or cut, `timeoutMs` without headers or between body chunks). */
export function post(pool: Pool | NativePool, path: string, headers: string[], body: Buffer, timeoutMs: number): Promise<PostAnswer> {
  return new Promise<PostAnswer>((resolve, reject) => {
    pool.dispatch({ path, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, new AnswerHandler(resolve, reject));
  });
}

/** A Retry-After in seconds as milliseconds, capped; 0 when absent or not a number of seconds. */
export function retryAfterMs(answer: PostAnswer, capMs: number): number {
  const seconds = Number(answer.retryAfter);
  return answer.retryAfter !== '' && Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, capMs) : 0;
}

/** undici handler of one POST: keeps the status and Retry-After, drops the body, settles when the answer ends. */
class AnswerHandler {
  readonly #resolve: (a: PostAnswer) => void;
  readonly #reject: (err: Error) => void;
  readonly #answer: PostAnswer = { status: 0, retryAfter: '' };

  constructor(resolve: (a: PostAnswer) => void, reject: (err: Error) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  onConnect(): void {}

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // An informational answer (1xx) is not the answer: undici reports it too.
    if (statusCode < 200) return true;
    this.#answer.status = statusCode;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.length === 11 && rawHeaders[i]!.toString('latin1').toLowerCase() === 'retry-after') this.#answer.retryAfter = rawHeaders[i + 1]!.toString('latin1');
    }
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.#resolve(this.#answer);
  }

  onError(err: Error): void {
    this.#reject(err);
  }
}
