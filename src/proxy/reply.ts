// Writing what the gateway answers itself, and finishing a request (log phase, events).
import { upstreamEndChannel, requestEndChannel, requestErrorChannel } from '../base/events.js';
import { GatewayError, type ErrorCode } from '../base/errors.js';
import { runVoidPhase, type Chain } from '../pipeline/chain.js';
import { LocalReply, renderLocalReplyBody } from '../sdk/local-reply.js';
import type { RequestContext } from './context.js';
import { HeaderList } from '../sdk/header-list.js';
import { isGrpcRequest, writeGrpcLocalReply } from './grpc.js';
import { pipeResponseBody } from './response-body.js';
import { releaseBudget } from '../upstream/retry.js';

const upstreamEnd: { ctx: RequestContext | null; error: unknown } = { ctx: null, error: null };

export function publishUpstreamEnd(ctx: RequestContext, error: unknown): void {
  if (!upstreamEndChannel.hasSubscribers) return;
  // A publish from inside a subscriber (nothing does this today) gets an object of its own.
  if (upstreamEnd.ctx !== null) return upstreamEndChannel.publish({ ctx, error });
  upstreamEnd.ctx = ctx;
  upstreamEnd.error = error;
  try {
    upstreamEndChannel.publish(upstreamEnd);
  } finally {
    upstreamEnd.ctx = null;
    upstreamEnd.error = null;
  }
}

export interface DrainHooks {
  /** Called when a request finishes (the gateway counts in-flight requests with it). */
  onFinish(ctx: RequestContext): void;
  readonly draining: boolean;
}

export function sendLocalReply(ctx: RequestContext, reply: LocalReply, chain: Chain | null, hooks: DrainHooks): void {
  const res = ctx.res;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    finish(ctx, chain, hooks);
    return;
  }
  if (reply.problem) ctx.errorCode = reply.problem.code;
  // A gRPC client cannot read a problem page: it gets the same answer as a grpc-status.
  const grpc = isGrpcRequest(ctx.req);
  const body = renderLocalReplyBody(reply, ctx.id);
  const given = reply.headers;
  const length = body === undefined ? 0 : Buffer.byteLength(body);
  let headers: HeaderList;
  if (reply.complete) {
    // Built ahead by the plugin (a cache hit): taken as it is, Content-Length included.
    headers = new HeaderList(given as string[]);
    headers.raw.push('x-request-id', ctx.id);
  } else {
    headers = new HeaderList([]);
    if (reply.problem) headers.raw.push('content-type', 'application/problem+json');
    if (Array.isArray(given)) for (let i = 0; i < given.length; i += 2) headers.raw.push(given[i]!, given[i + 1]!);
    else for (const name in given) headers.set(name, (given as Record<string, string>)[name]!);
    headers.set('x-request-id', ctx.id);
    // Set before the response phases so that they see the length (compression's min_size).
    // A reply may carry its own (a HEAD answer without body); the body's rules otherwise.
    // A 304 has no body, and a Content-Length would have to be the 200's (RFC 9110 8.6).
    if (reply.status !== 304 && (!Array.isArray(given) || !headers.has('content-length'))) headers.set('content-length', String(length));
  }
  ctx.responseStatus = reply.status;
  ctx.responseHeaders = headers;
  const handlers = chain?.responseHeaders ?? null;
  if (handlers === null) return writeLocalReply(ctx, reply, body, length, headers, grpc, chain, hooks);
  let pending: void | Promise<void>;
  try {
    pending = runVoidPhase(handlers, 'responseHeaders', ctx);
  } catch (err) {
    return failLocal(ctx, err, hooks);
  }
  if (pending === undefined) return writeLocalReply(ctx, reply, body, length, headers, grpc, chain, hooks);
  pending.then(
    () => writeLocalReply(ctx, reply, body, length, headers, grpc, chain, hooks),
    (err: unknown) => failLocal(ctx, err, hooks),
  );
}

/** The local reply's head and body, once its response phase ran (no closure per reply on the sync path). */
function writeLocalReply(ctx: RequestContext, reply: LocalReply, body: string | Buffer | undefined, length: number, headers: HeaderList, grpc: boolean, chain: Chain | null, hooks: DrainHooks): void {
  const res = ctx.res;
  if (grpc) {
    writeGrpcLocalReply(ctx, headers, reply.problem?.detail ?? reply.problem?.title ?? (typeof body === 'string' ? body : ''));
    return finish(ctx, chain, hooks);
  }
  // An unread request body makes the connection unusable for the next request.
  if (hooks.draining || (ctx.req.complete === false && (ctx.requestBodyLength > 0 || ctx.requestChunked))) res.shouldKeepAlive = false;
  if (ctx.responseTransforms !== null) {
    headers.remove('content-length');
    res.writeHead(ctx.responseStatus, headers.raw);
    pipeResponseBody(ctx, ctx.responseTransforms, () => finish(ctx, chain, hooks)).end(body);
    return;
  }
  res.writeHead(ctx.responseStatus, headers.raw);
  res.end(body);
  ctx.bytesOut = length;
  finish(ctx, chain, hooks);
}

/** A bug in a response-phase hook of a local reply: answer 500 without running plugins again. */
function failLocal(ctx: RequestContext, err: unknown, hooks: DrainHooks): void {
  reportBug(ctx, err);
  sendLocalReply(ctx, LocalReply.error('internal-error'), null, hooks);
}

export function replyError(ctx: RequestContext, code: ErrorCode, detail: string | undefined, chain: Chain | null, hooks: DrainHooks): void {
  sendLocalReply(ctx, LocalReply.error(code, detail), chain, hooks);
}

/** A thrown error is a bug: the client gets a 500 problem, the details go to the error log only. */
export function replyBug(ctx: RequestContext, err: unknown, chain: Chain | null, hooks: DrainHooks): void {
  if (err instanceof GatewayError) return replyError(ctx, err.code, err.detail, chain, hooks);
  reportBug(ctx, err);
  replyError(ctx, 'internal-error', undefined, chain, hooks);
}

export function reportBug(ctx: RequestContext, err: unknown): void {
  if (requestErrorChannel.hasSubscribers) requestErrorChannel.publish({ ctx, error: err });
}

export function finish(ctx: RequestContext, chain: Chain | null, hooks: DrainHooks): void {
  if (ctx.finished) return;
  ctx.finished = true;
  ctx.finishedAt = performance.now();
  if (ctx.deadlineTimer !== null) {
    clearTimeout(ctx.deadlineTimer);
    ctx.deadlineTimer = null;
  }
  if (ctx.guard !== null) ctx.guard.leave(ctx);
  releaseBudget(ctx);
  const log = chain?.log ?? null;
  if (log !== null) {
    for (let i = 0; i < log.length; i++) {
      try {
        log[i]!.log!(ctx);
      } catch (err) {
        reportBug(ctx, err);
      }
    }
  }
  if (requestEndChannel.hasSubscribers) requestEndChannel.publish(ctx);
  hooks.onFinish(ctx);
}
