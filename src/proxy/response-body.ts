// The response body through plugin-installed streams (ctx.pipeResponseThrough): compression,
// JSON edits. Only used when a plugin installed one, so the plain path never allocates this.
import { Transform, pipeline, type Duplex, type Writable } from 'node:stream';
import type { RequestContext } from './context.js';
import { reportBug } from './reply.js';

/**
 * Pipes transforms → client with backpressure and returns the writable end the body goes
 * into. `done` runs once, when the client has the whole body or the pipe failed (then the
 * client connection is cut: a truncated body is the only honest signal left).
 */
export function pipeResponseBody(ctx: RequestContext, transforms: readonly Duplex[], done: () => void): Writable {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      ctx.bytesOut += chunk.length;
      cb(null, chunk);
    },
  });
  pipeline([...transforms, counter, ctx.res], (err) => {
    if (err) {
      if (!ctx.res.destroyed) {
        reportBug(ctx, err);
        ctx.res.destroy();
      } else if (ctx.errorCode === null) ctx.errorCode = 'client-closed';
    }
    done();
  });
  return transforms[0]!;
}
