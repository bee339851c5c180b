// Request bodies and retries: a body that fits in the service's replay buffer
// (retries.replay_buffer, default 64 KiB) is read whole before the first attempt (as nginx
// buffers request bodies), so a retry can send the same bytes again. A longer body — a
// Content-Length over the buffer, or a chunked body that grows past it — is streamed and
// its request is never retried. Only requests that could be retried at all are buffered.
import type { Dispatcher } from 'undici';
import { GatewayError } from '../base/errors.js';
import type { Chain } from '../pipeline/chain.js';
import { IDEMPOTENT } from '../upstream/retry.js';
import type { RequestContext } from './context.js';
import { finish, replyError, type DrainHooks } from './reply.js';

type Body = Dispatcher.DispatchOptions['body'];
type Send = (ctx: RequestContext, chain: Chain, hooks: DrainHooks, body: Body) => void;

/** Whether this request (which has a body) is worth buffering: it could be retried, and its body may fit. */
export function wantsReplay(ctx: RequestContext): boolean {
  const p = ctx.route!.service.retries;
  if (p.attempts < 2 || p.replayBufferBytes === 0) return false;
  if (!p.nonIdempotent && !IDEMPOTENT.has(ctx.method)) return false;
  return ctx.requestChunked || ctx.requestBodyLength <= p.replayBufferBytes;
}

/**
 * Reads the body into the replay buffer, then sends it: whole (ctx.replayBody set, retries
 * possible) when it ended within the buffer, else as a stream of what was read plus the rest.
 */
export function readReplayable(ctx: RequestContext, chain: Chain, hooks: DrainHooks, send: Send): void {
  const req = ctx.req;
  const room = ctx.route!.service.retries.replayBufferBytes;
  const maxBody = ctx.maxBodyBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  const cleanup = () => {
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    ctx.res.removeListener('close', onClose);
  };
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBody) {
      cleanup();
      return replyError(ctx, 'body-too-large', `request body exceeds ${maxBody} bytes`, chain, hooks);
    }
    chunks.push(chunk);
    if (size <= room) return;
    // Past the buffer: stream it, without replay.
    req.pause();
    cleanup();
    send(ctx, chain, hooks, limitedBody(ctx, maxBody, chunks, size) as unknown as Body);
  };
  const onEnd = () => {
    cleanup();
    ctx.replayBody = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    ctx.bytesIn = size;
    send(ctx, chain, hooks, ctx.replayBody);
  };
  const onClose = () => {
    cleanup();
    ctx.errorCode = 'client-closed';
    finish(ctx, chain, hooks);
  };
  req.on('data', onData);
  req.on('end', onEnd);
  ctx.res.on('close', onClose);
}

/** The request body as a stream, counted against the body limit; `prefix` was read already. */
export async function* limitedBody(ctx: RequestContext, limit: number, prefix: Buffer[] | null = null, prefixSize = 0): AsyncGenerator<Buffer> {
  let total = prefixSize;
  ctx.bytesIn = total;
  if (prefix !== null) for (const chunk of prefix) yield chunk;
  // Not destroyOnReturn: destroying an unfinished request would kill the socket before the 413 is written.
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new GatewayError('body-too-large', `request body exceeds ${limit} bytes`);
    ctx.bytesIn = total;
    yield chunk;
  }
}
