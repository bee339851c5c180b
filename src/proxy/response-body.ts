// The response body through plugin-installed streams (ctx.pipeResponseThrough): compression,
// JSON edits. Only used when a plugin installed one, so the plain path never allocates this.
import { pipeline, type Duplex, type Writable } from 'node:stream';
import type { RequestContext } from './context.js';
import { reportBug } from './reply.js';

/**
 * Pipes transforms → client with backpressure and returns the writable end the body goes
 * into. `done` runs once, when the client has the whole body or the pipe failed (then the
 * client connection is cut: a truncated body is the only honest signal left).
 */
export function pipeResponseBody(ctx: RequestContext, transforms: readonly Duplex[], done: () => void): Writable {
  pipeline([...transforms, ctx.res], (err) => {
    if (err) {
      if (!ctx.res.destroyed) {
        reportBug(ctx, err);
        ctx.res.destroy();
      } else if (ctx.errorCode === null) ctx.errorCode = 'client-closed';
    }
    done();
  });
  // A second 'data' listener beside pipe()'s: counts what reaches the client, no extra stream.
  transforms[transforms.length - 1]!.on('data', (chunk: Buffer) => {
    ctx.bytesOut += chunk.length;
  });
  return transforms[0]!;
}
