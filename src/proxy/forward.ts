// The terminal step, owned by the core: pick a target, send the request through its
// undici pool with a handler object (no stream wrappers, no promise per request), and
// stream the response back with backpressure in both directions.
import type { DownstreamResponse } from '../http1/types.js';
import type { Dispatcher } from 'undici';
import { ERRORS, GatewayError } from '../base/errors.js';
import { endGrpcStream } from './grpc.js';
import { runVoidPhase, type Chain } from '../pipeline/chain.js';
import { upstreamErrorCode, upstreamErrorDetail } from '../upstream/errors.js';
import type { RequestContext } from './context.js';
import { HeaderList } from '../sdk/header-list.js';
import { headerName, headerNameOf } from './header-names.js';
import { pipeResponseBody } from './response-body.js';
import type { Writable } from 'node:stream';
import { finish, replyBug, replyError, reportBug, sendLocalReply, publishUpstreamEnd, type DrainHooks } from './reply.js';
import { upstreamStartChannel } from '../base/events.js';
import { LocalReply } from '../sdk/local-reply.js';
import { countAttempt, countRetry, failureOf, mayTryAgain, planRetry, nextTarget, recordFailure, recordSuccess } from '../upstream/retry.js';
import type { Target } from '../upstream/target.js';
import type { CompiledRoute } from './route.js';
import { attemptEnded, attemptStarted } from '../upstream/balancer.js';
import { retryAfterSeconds } from '../upstream/health.js';
import { admit } from './admission.js';
import { addSessionHeader, chooseTarget, editBackendHeaders, noBackendDetail } from './backend-choice.js';
import { limitedBody, readReplayable, wantsReplay } from './replay.js';
import { MAX_EARLY_HINTS, relayEarlyHints } from './interim.js';
import '../upstream/interim-continue.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const kExchange = Symbol('northgate.exchange');

export function forward(ctx: RequestContext, chain: Chain, hooks: DrainHooks): void {
  const guard = ctx.route!.service.guard;
  if (guard !== null && !admit(ctx, chain, hooks, guard, proceed)) return;
  proceed(ctx, chain, hooks);
}

/** Past the service's guard (circuit breaker, concurrency limit): on to a target. */
function proceed(ctx: RequestContext, chain: Chain, hooks: DrainHooks): void {
  const declared = ctx.route!;
  const target = declared.backends === null && declared.session === null ? declared.service.upstream.balancer.pick(Date.now(), null, ctx) : chooseTarget(ctx);
  // chooseTarget moves ctx.route to the chosen backend's route.
  const route = ctx.route!;
  if (target === null) return route.backends !== null ? replyError(ctx, 'no-backend', noBackendDetail(ctx), chain, hooks) : replyNoTarget(ctx, chain, hooks);
  ctx.target = target;
  if (route.preserveHost && ctx.hostHeader !== '') ctx.upstreamHeaders.raw.push('host', ctx.hostHeader);
  else if (target.hostHeader !== null) ctx.upstreamHeaders.raw.push('host', target.hostHeader);
  ctx.upstreamPath = upstreamPath(ctx);
  if (chain.upstreamRequest !== null) {
    let pending: void | Promise<void>;
    try {
      pending = runVoidPhase(chain.upstreamRequest, 'upstreamRequest', ctx);
    } catch (err) {
      return replyBug(ctx, err, chain, hooks);
    }
    if (pending !== undefined) {
      pending.then(() => dispatch(ctx, chain, hooks), (err: unknown) => replyBug(ctx, err, chain, hooks));
      return;
    }
  }
  dispatch(ctx, chain, hooks);
}

/** Every target is ejected: fail fast without touching the network, saying when to come back. */
function replyNoTarget(ctx: RequestContext, chain: Chain, hooks: DrainHooks): void {
  const upstream = ctx.route!.service.upstream;
  const check = upstream.activeCheck;
  const retryAfter = String(retryAfterSeconds(upstream.targets, Date.now(), check === null ? 0 : check.intervalMs * check.healthy.successes));
  sendLocalReply(ctx, LocalReply.error('upstream-unhealthy', 'every target of the upstream is failing', { 'retry-after': retryAfter }), chain, hooks);
}

/** Service base path + the request path (less the matched prefix with strip_path) + the raw query. */
function upstreamPath(ctx: RequestContext): string {
  return joinUpstreamPath(ctx.route!, ctx.path, ctx.matchLength, ctx.query);
}

/** The one place the upstream path is built (the proxy and `northgate explain` share it). */
export function joinUpstreamPath(route: CompiledRoute, path: string, matchLength: number, query: string): string {
  const base = route.service.basePath;
  let rest = route.stripPath ? path.slice(matchLength) : path;
  if (rest === '') rest = base === '' ? '/' : '';
  else if (rest.charCodeAt(0) !== 47) rest = '/' + rest;
  return base + rest + query;
}

function dispatch(ctx: RequestContext, chain: Chain, hooks: DrainHooks): void {
  if (ctx.backend !== null) editBackendHeaders(ctx);
  const limit = ctx.maxBodyBytes;
  const replaced = ctx.requestBody;
  if (replaced !== null) {
    // A plugin read the client's body and gives another one (transform's JSON edits).
    ctx.requestBodyLength = replaced.length;
    ctx.requestChunked = false;
    ctx.upstreamHeaders.set('content-length', String(replaced.length));
  }
  // A plugin may have lowered the limit below the declared length checked on arrival.
  if (ctx.requestBodyLength > limit) return replyError(ctx, 'body-too-large', `request body exceeds ${limit} bytes`, chain, hooks);
  let body: Dispatcher.DispatchOptions['body'] = null;
  if (replaced !== null) {
    body = replaced;
    ctx.bytesIn = replaced.length;
    // A body in memory is replayable as it is.
    ctx.replayBody = replaced;
  } else if ((ctx.requestChunked || ctx.requestBodyLength > 0) && wantsReplay(ctx)) {
    // Kept whole in memory (up to retries.replay_buffer) so that a retry can resend it.
    return readReplayable(ctx, chain, hooks, send);
  } else if (ctx.requestChunked) {
    // undici streams async iterables (chunked upstream); its types only list Readable.
    body = limitedBody(ctx, limit) as unknown as Dispatcher.DispatchOptions['body'];
  } else if (ctx.requestBodyLength > 0) {
    // node's IncomingMessage is a Readable; the native engine's request has the pause/resume
    // and pipe of one, which is what both HTTP/1.1 clients read a body stream through.
    body = ctx.req as unknown as Dispatcher.DispatchOptions['body'];
    ctx.bytesIn = ctx.requestBodyLength;
  }
  send(ctx, chain, hooks, body);
}

function send(ctx: RequestContext, chain: Chain, hooks: DrainHooks, body: Dispatcher.DispatchOptions['body']): void {
  // 'close' fires once per response; `on` spares the once-wrapper allocation.
  ctx.res.on('close', onClientClose);
  const total = ctx.route!.service.totalTimeoutMs;
  if (total !== 0) {
    ctx.deadlineAt = performance.now() + total;
    ctx.deadlineTimer = setTimeout(deadlinePassed, total, ctx, chain, hooks);
  }
  attempt(ctx, chain, hooks, body);
}

const DEADLINE_DETAIL = 'the total deadline of the request (timeouts.total) passed';

/** timeouts.total is over: abort the attempt in flight (or stop waiting between attempts) and answer 504. */
function deadlinePassed(ctx: RequestContext, chain: Chain, hooks: DrainHooks): void {
  ctx.deadlineTimer = null;
  if (ctx.finished) return;
  const exchange = (ctx.res as ResponseWithExchange)[kExchange];
  if (exchange !== undefined && exchange.deadlinePassed()) return;
  if (ctx.upstreamRespondedAt === 0) ctx.upstreamRespondedAt = performance.now();
  replyError(ctx, 'upstream-timeout', DEADLINE_DETAIL, chain, hooks);
}

/** One attempt at the upstream; a retry calls this again with another target. */
function attempt(ctx: RequestContext, chain: Chain, hooks: DrainHooks, body: Dispatcher.DispatchOptions['body']): void {
  // Counted until finish() (reply.ts), for the retry budget.
  countAttempt(ctx);
  const exchange = new UpstreamExchange(ctx, chain, hooks);
  (ctx.res as ResponseWithExchange)[kExchange] = exchange;
  const timeout = ctx.route!.service.readTimeoutMs;
  if (upstreamStartChannel.hasSubscribers) upstreamStartChannel.publish(ctx);
  ctx.upstreamStartedAt = performance.now();
  attemptStarted(ctx.target!);
  ctx.target!.dispatcher.dispatch(
    {
      path: ctx.upstreamPath,
      method: ctx.method as Dispatcher.HttpMethod,
      headers: ctx.upstreamHeaders.raw,
      body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    },
    exchange,
  );
}

/** Removes the headers a response's Connection header names (RFC 9110 7.6.1); "keep-alive" and "close" name none of their own. */
function dropConnectionListed(headers: HeaderList, listed: string): void {
  if (listed === 'keep-alive' || listed === 'close') return;
  for (const n of listed.split(',')) {
    const name = n.trim();
    if (name !== '') headers.remove(name);
  }
}

/** An object, the one shape both node:http and the HTTP/2 compat response take for trailers. */
function trailerPairs(raw: Array<string | Buffer>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString();
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** Ends the current upstream attempt: its time counts towards ctx.upstreamMs (the access log's upstream_ms); traces end its span. */
function upstreamAttemptEnded(ctx: RequestContext, error: unknown): void {
  ctx.upstreamMs += performance.now() - ctx.upstreamStartedAt;
  publishUpstreamEnd(ctx, error);
}

interface ResponseWithExchange extends DownstreamResponse {
  [kExchange]?: UpstreamExchange;
}

/** The client went away: stop the upstream exchange if it is still running. */
function onClientClose(this: ResponseWithExchange): void {
  this[kExchange]?.clientClosed();
}

/** undici handler for one upstream exchange (undici's own low-level handler shape). */
class UpstreamExchange implements Dispatcher.DispatchHandler {
  readonly #ctx: RequestContext;
  readonly #chain: Chain;
  readonly #hooks: DrainHooks;
  /** The attempt's target (ctx.target moves on when a retry starts). */
  readonly #target: Target;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #done = false;
  /** Where body chunks go when plugins installed response streams (null: straight to the client). */
  #sink: Writable | null = null;
  /** 103 Early Hints relayed to the client during this attempt (at most MAX_EARLY_HINTS). */
  #hints = 0;

  constructor(ctx: RequestContext, chain: Chain, hooks: DrainHooks) {
    this.#ctx = ctx;
    this.#chain = chain;
    this.#hooks = hooks;
    this.#target = ctx.target!;
  }

  /** The attempt is over: marks it done and gives the balancer its in-flight count and latency back. */
  #end(): void {
    this.#done = true;
    attemptEnded(this.#target, this.#ctx.upstreamStartedAt, this.#ctx.upstreamRespondedAt);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    // Given up before a connection was ready (client gone, deadline): stop now.
    if (this.#done) abort(new Error('request abandoned'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // An interim answer: the final one follows on the same exchange.
    if (statusCode < 200) return this.#interim(statusCode, rawHeaders);
    return this.#final(statusCode, rawHeaders, resume);
  }

  /** The native engine's client: the final head's pairs as the parser decoded them. */
  onHeaderStrings(statusCode: number, rawHeaders: string[], resume: () => void): boolean {
    return this.#final(statusCode, rawHeaders, resume);
  }

  #final(statusCode: number, rawHeaders: ReadonlyArray<Buffer | string>, resume: () => void): boolean {
    const ctx = this.#ctx;
    if (statusCode >= 500) recordFailure(ctx.route!.service.upstream, ctx.target!, Date.now());
    else recordSuccess(ctx.target!);
    // A status the retry policy names (retries.on): the answer is dropped and the request tried again.
    if (statusCode >= 400 && ctx.route!.service.retries.statuses.has(statusCode)) {
      const delay = planRetry(ctx, statusCode);
      if (delay >= 0) {
        this.#end();
        ctx.responseStatus = statusCode;
        ctx.upstreamRespondedAt = performance.now();
        upstreamAttemptEnded(ctx, null);
        this.#abort?.(new Error('retrying on another target'));
        this.#retry(delay);
        return false;
      }
    }
    ctx.upstreamRespondedAt = performance.now();
    this.#resume = resume;
    const out: string[] = [];
    let connectionListed: string | undefined;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      // Common names come back interned and lower-case: hop-by-hop ones compare as constants.
      const rawName = rawHeaders[i]!;
      const name = typeof rawName === 'string' ? headerNameOf(rawName) : headerName(rawName);
      const rawValue = rawHeaders[i + 1]!;
      if (HOP_BY_HOP.has(name)) {
        if (name === 'connection') {
          const listed = typeof rawValue === 'string' ? rawValue : rawValue.toString('latin1');
          connectionListed = connectionListed === undefined ? listed : `${connectionListed},${listed}`;
        }
        continue;
      }
      if (name === 'x-request-id') continue;
      out.push(name, typeof rawValue === 'string' ? rawValue : rawValue.toString('latin1'));
    }
    const headers = new HeaderList(out);
    if (connectionListed !== undefined) dropConnectionListed(headers, connectionListed);
    // After the Connection pass: an upstream naming X-Request-Id there cannot remove the gateway's.
    out.push('x-request-id', ctx.id);
    if (ctx.route!.session !== null) addSessionHeader(ctx, out);
    ctx.responseStatus = statusCode;
    ctx.responseHeaders = headers;
    const handlers = this.#chain.responseHeaders;
    if (handlers !== null) {
      let pending: void | Promise<void>;
      try {
        pending = runVoidPhase(handlers, 'responseHeaders', ctx);
      } catch (err) {
        this.#fail(err);
        return false;
      }
      if (pending !== undefined) {
        pending.then(
          () => {
            this.#writeHead();
            this.#resume!();
          },
          (err: unknown) => this.#fail(err),
        );
        return false;
      }
    }
    this.#writeHead();
    return true;
  }

  /**
   * 103 goes on to the client (a bounded number of times), 100 and 102 are skipped (the
   * gateway sent no Expect; a client's own 100-continue is answered by the gateway). A 101
   * the gateway did not ask for must not turn the exchange into a tunnel: 502. undici
   * restarts its head timeout on every 1xx: an upstream dripping them would hold the request
   * for ever, so timeouts.read bounds the wait for the final head from the attempt's start.
   */
  #interim(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (this.#done) return true;
    if (statusCode === 101) return this.#refuseInterim(new GatewayError('upstream-invalid-response', 'the upstream switched protocols (101) though no upgrade was asked for'));
    const read = this.#ctx.route!.service.readTimeoutMs;
    if (read > 0 && performance.now() - this.#ctx.upstreamStartedAt > read) return this.#refuseInterim(new GatewayError('upstream-timeout', 'the upstream sent only interim (1xx) answers for longer than timeouts.read'));
    if (statusCode === 103 && this.#hints < MAX_EARLY_HINTS && relayEarlyHints(this.#ctx, rawHeaders)) this.#hints++;
    return true;
  }

  /** Ends the attempt on an interim answer: the client gets `err`'s problem, the upstream connection is dropped. */
  #refuseInterim(err: GatewayError): false {
    this.onError(err);
    this.#abort?.(new Error(err.detail));
    return false;
  }

  #writeHead(): void {
    const ctx = this.#ctx;
    if (this.#done) return;
    if (this.#hooks.draining) ctx.res.shouldKeepAlive = false;
    const transforms = ctx.responseTransforms;
    if (this.#chain.rewritesBody || transforms !== null) ctx.responseHeaders.remove('content-length');
    ctx.res.writeHead(ctx.responseStatus, ctx.responseHeaders.raw);
    if (transforms !== null) this.#sink = pipeResponseBody(ctx, transforms, () => finish(ctx, this.#chain, this.#hooks));
  }

  onData(chunk: Buffer): boolean {
    const ctx = this.#ctx;
    if (this.#done) return true;
    const handlers = this.#chain.responseChunk;
    if (handlers !== null) {
      try {
        for (let i = 0; i < handlers.length; i++) chunk = handlers[i]!.responseChunk!(ctx, chunk);
      } catch (err) {
        this.#fail(err);
        return false;
      }
      if (chunk.length === 0) return true;
    }
    const sink = this.#sink;
    if (sink !== null) {
      if (sink.write(chunk)) return true;
      sink.once('drain', () => this.#resume?.());
      return false;
    }
    ctx.bytesOut += chunk.length;
    if (ctx.res.write(chunk)) return true;
    ctx.res.once('drain', () => this.#resume?.());
    return false;
  }

  onComplete(trailers?: Array<string | Buffer> | null): void {
    const ctx = this.#ctx;
    if (this.#done) return;
    this.#end();
    // gRPC's grpc-status / grpc-message (HTTP/2 downstream; HTTP/1.1 only on chunked responses).
    if (trailers != null && trailers.length > 0) ctx.res.addTrailers(trailerPairs(trailers));
    upstreamAttemptEnded(ctx, null);
    const handlers = this.#chain.responseEnd;
    if (handlers !== null) {
      try {
        for (let i = 0; i < handlers.length; i++) {
          const tail = handlers[i]!.responseEnd!(ctx);
          if (tail !== undefined && tail.length > 0) {
            if (this.#sink !== null) {
              this.#sink.write(tail);
              continue;
            }
            ctx.bytesOut += tail.length;
            ctx.res.write(tail);
          }
        }
      } catch (err) {
        reportBug(ctx, err);
        ctx.res.destroy();
        return finish(ctx, this.#chain, this.#hooks);
      }
    }
    // With response streams, finish() runs once the last one has flushed to the client.
    if (this.#sink !== null) return void this.#sink.end();
    ctx.res.end();
    finish(ctx, this.#chain, this.#hooks);
  }

  onError(err: Error): void {
    const ctx = this.#ctx;
    if (this.#done) return;
    this.#end();
    upstreamAttemptEnded(ctx, err);
    const failure = failureOf(err);
    if (failure !== null) {
      recordFailure(ctx.route!.service.upstream, ctx.target!, Date.now());
      const delay = !ctx.res.headersSent && ctx.upstreamRespondedAt === 0 ? planRetry(ctx, failure) : -1;
      if (delay >= 0) return this.#retry(delay);
    }
    if (ctx.upstreamRespondedAt === 0) ctx.upstreamRespondedAt = performance.now();
    if (err instanceof GatewayError) return replyError(ctx, err.code, err.detail, this.#chain, this.#hooks);
    const code = upstreamErrorCode(err);
    if (ctx.res.headersSent || ctx.res.destroyed) {
      // Mid-response: the only honest signal left is to cut the client connection
      // (a gRPC client over HTTP/2 gets a grpc-status trailer instead).
      ctx.errorCode = code;
      if (!endGrpcStream(ctx, ERRORS[code].status, upstreamErrorDetail(code, err))) ctx.res.destroy();
      return finish(ctx, this.#chain, this.#hooks);
    }
    replyError(ctx, code, upstreamErrorDetail(code, err), this.#chain, this.#hooks);
  }

  clientClosed(): void {
    if (this.#done) return;
    this.#end();
    const ctx = this.#ctx;
    ctx.upstreamMs += performance.now() - ctx.upstreamStartedAt;
    publishUpstreamEnd(ctx, new Error('client closed the connection'));
    ctx.errorCode = 'client-closed';
    this.#abort?.(new Error('client closed the connection'));
    finish(ctx, this.#chain, this.#hooks);
  }

  /**
   * The client's request trailers, for the engine's HTTP/1.1 client and HTTP/2 upstreams
   * (undici's HTTP/1.1 client cannot send them). None after a plugin read the body and
   * gave the one to send: trailers describe the body the client sent.
   */
  requestTrailers(): Record<string, string | string[] | undefined> | null {
    return this.#ctx.requestBody === null ? this.#ctx.req.trailers : null;
  }

  /**
   * The engine's HTTP/1.1 client would send the request again on a fresh connection: a reused
   * one failed before any answer (most often closed by the upstream as the request went
   * out, but the upstream may have received it). That is one more try at the upstream, so
   * the retry policy must have an attempt left for it (retries.attempts bounds every try);
   * it is not the target's failure (no passive-health count) and goes to the same target.
   */
  onReplay(err: Error): boolean {
    const ctx = this.#ctx;
    if (this.#done || !mayTryAgain(ctx)) return false;
    upstreamAttemptEnded(ctx, err);
    countRetry(ctx);
    countAttempt(ctx);
    if (upstreamStartChannel.hasSubscribers) upstreamStartChannel.publish(ctx);
    ctx.upstreamStartedAt = performance.now();
    return true;
  }

  /** The deadline passed during this exchange: abort it and answer 504 (or cut a started response). False when already over. */
  deadlinePassed(): boolean {
    if (this.#done) return false;
    this.#end();
    const ctx = this.#ctx;
    const err = new Error('the total deadline passed');
    upstreamAttemptEnded(ctx, err);
    this.#abort?.(err);
    if (ctx.upstreamRespondedAt === 0) ctx.upstreamRespondedAt = performance.now();
    if (ctx.res.headersSent) {
      ctx.errorCode = 'upstream-timeout';
      ctx.res.destroy();
      finish(ctx, this.#chain, this.#hooks);
    } else {
      replyError(ctx, 'upstream-timeout', DEADLINE_DETAIL, this.#chain, this.#hooks);
    }
    return true;
  }

  /** Another attempt after a jittered backoff, on another target when there is one. */
  #retry(delay: number): void {
    const ctx = this.#ctx;
    const chain = this.#chain;
    const hooks = this.#hooks;
    (ctx.tried ??= []).push(ctx.target!);
    countRetry(ctx);
    setTimeout(() => {
      if (ctx.finished) return;
      if (ctx.res.destroyed) {
        ctx.errorCode = 'client-closed';
        return finish(ctx, chain, hooks);
      }
      const target = nextTarget(ctx, Date.now());
      if (target === null) return replyNoTarget(ctx, chain, hooks);
      ctx.target = target;
      ctx.upstreamRespondedAt = 0;
      attempt(ctx, chain, hooks, ctx.replayBody);
    }, delay);
  }

  #fail(err: unknown): void {
    if (this.#done) return;
    this.#end();
    upstreamAttemptEnded(this.#ctx, err);
    this.#abort?.(new Error('plugin failed'));
    replyBug(this.#ctx, err, this.#chain, this.#hooks);
  }
}
