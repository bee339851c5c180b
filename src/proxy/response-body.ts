// The response body through plugin-installed streams (ctx.pipeResponseThrough): compression,
// JSON edits. Only used when a plugin installed one, so the plain path never allocates this.
// The streams are joined with pipe() and a few listeners rather than stream.pipeline(): on
// Node 20 pipeline() made an AbortController per call and a DOMException (with its stack
// trace) when it finished, ~9 µs per response in a profile — more than the JSON edit itself.
import type { Duplex, Writable } from 'node:stream';
import type { RequestContext } from './context.js';
import { reportBug } from './reply.js';

/**
 * Pipes transforms → client with backpressure and returns the writable end the body goes
 * into. `done` runs once, when the client has the whole body or the pipe failed (then the
 * client connection is cut: a truncated body is the only honest signal left).
 */
export function pipeResponseBody(ctx: RequestContext, transforms: readonly Duplex[], done: () => void): Writable {
  const res = ctx.res;
  let over = false;
  const settle = (err: Error | null): void => {
    if (over) return;
    over = true;
    if (err !== null || !res.writableFinished) {
      for (const t of transforms) t.destroy();
      if (err !== null && !res.destroyed) {
        reportBug(ctx, err);
        res.destroy();
      } else if (ctx.errorCode === null) ctx.errorCode = 'client-closed';
    }
    done();
  };
  const onError = (err: Error): void => settle(err);
  // A stream closed before its end without an error (pipe() alone would wait forever).
  const onClose = function (this: Duplex): void {
    if (!this.readableEnded) settle(new Error('a response stream closed before its end'));
  };
  for (let i = 0; i < transforms.length; i++) {
    const t = transforms[i]!;
    t.on('error', onError);
    t.once('close', onClose);
    // The native engine's response is no Writable but has all pipe() uses of one (write, end, 'drain', 'close', 'finish').
    t.pipe(i + 1 < transforms.length ? transforms[i + 1]! : (res as unknown as Writable));
  }
  // 'finish': the client has the whole body; 'close' without it: the client went away.
  res.once('finish', () => settle(null));
  res.once('close', () => settle(null));
  // Gone already (the client left while an asynchronous response phase ran): its 'close' has fired.
  if (res.destroyed || res.closed) settle(null);
  // A second 'data' listener beside pipe()'s: counts what reaches the client, no extra stream.
  transforms[transforms.length - 1]!.on('data', (chunk: Buffer) => {
    ctx.bytesOut += chunk.length;
  });
  return transforms[0]!;
}
