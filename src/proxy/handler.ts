// One request, from the client's head to the terminal forward step:
// read and check the head -> route -> request phase -> forward.
import type { DownstreamRequest, DownstreamResponse } from '../http1/types.js';
import { runRequestPhase, type Chain } from '../pipeline/chain.js';
import { isLocalReply } from '../sdk/local-reply.js';
import type { RequestPhaseResult } from '../sdk/plugin.js';
import { RequestContext, type ListenerInfo } from './context.js';
import type { ProxySnapshot } from './snapshot.js';
import { forward } from './forward.js';
import { replyBug, replyError, sendLocalReply, type DrainHooks } from './reply.js';
import { requestStartChannel } from '../base/events.js';
import { readRequestHead } from './request-head.js';
import { acceptExpectation, sendContinue } from './interim.js';

export interface ProxyRuntime extends DrainHooks {
  readonly snapshot: ProxySnapshot;
  onStart(ctx: RequestContext): void;
}

/** What runs after the request phase: forwarding, or the WebSocket tunnel for an upgrade. */
export type Terminal = (ctx: RequestContext, chain: Chain, hooks: DrainHooks) => void;

export function handleRequest(rt: ProxyRuntime, listener: ListenerInfo, req: DownstreamRequest, res: DownstreamResponse, terminal: Terminal = forward): void {
  // HTTP/1.x (and the 0.9 that node reads as a version like any other); never HTTP/2 streams.
  if (req.httpVersionMajor !== 2) {
    const socket = res.socket;
    // A pipelined request: node reads it while an earlier response on the connection is still
    // pending, and queues its response without a socket. It starts once node hands it the
    // socket (the earlier response written), so the requests of one connection reach the
    // upstream one after the other, in order (RFC 9112 9.3.2).
    if (socket === null) return void res.once('socket', () => handleRequest(rt, listener, req, res, terminal));
    // The earlier response closed the connection: this request could never be answered.
    if (!socket.writable) return;
  }
  const snapshot = rt.snapshot;
  const ctx = new RequestContext(req, res, snapshot, listener, performance.now());
  rt.onStart(ctx);
  const bad = readRequestHead(ctx);
  if (requestStartChannel.hasSubscribers) requestStartChannel.publish(ctx);
  if (req.httpVersionMajor !== 1 && !isHttp2Request(req)) return replyError(ctx, 'http-version-not-supported', 'HTTP/1.1 and HTTP/1.0 are spoken here; HTTP/2 starts with its connection preface', snapshot.globalChain, rt);
  if (bad !== null) return replyError(ctx, 'bad-request', bad, snapshot.globalChain, rt);
  if (ctx.expect !== undefined && !acceptExpectation(ctx, ctx.expect)) return replyError(ctx, 'expectation-failed', 'the only expectation the gateway meets is 100-continue', snapshot.globalChain, rt);
  const sni = listener.sniHosts;
  if (sni != null && sni.select(ctx.host) !== listener.name) return replyError(ctx, 'misdirected-request', 'the Host names another listener than the TLS server name chose', snapshot.globalChain, rt);

  const entry = snapshot.router.match(ctx);
  if (entry === null) return replyError(ctx, 'route-not-found', 'no route matches this request', snapshot.globalChain, rt);
  if (snapshot.router.caseVariant(ctx, entry)) return replyError(ctx, 'bad-request', 'request path differs from another route\'s path only in letter case', snapshot.globalChain, rt);
  if (snapshot.router.slashVariant(ctx, entry)) return replyError(ctx, 'bad-request', 'request path without its trailing slash selects another route', snapshot.globalChain, rt);
  ctx.entry = entry;
  ctx.route = entry.route;
  const chain = entry.route.chain;

  const limit = snapshot.limits.maxBodyBytes;
  if (ctx.requestBodyLength > limit) return replyError(ctx, 'body-too-large', `request body exceeds ${limit} bytes`, chain, rt);

  if (chain.request !== null) {
    let result: RequestPhaseResult | Promise<RequestPhaseResult>;
    try {
      result = runRequestPhase(chain.request, ctx);
    } catch (err) {
      return replyBug(ctx, err, chain, rt);
    }
    if (isLocalReply(result)) return sendLocalReply(ctx, result, chain, rt);
    if (result !== undefined) {
      result.then(
        (r) => afterRequestPhase(ctx, r, chain, rt, terminal),
        (err: unknown) => replyBug(ctx, err, chain, rt),
      );
      return;
    }
  }
  // Past the checks and the request phase (auth, limits): now the client may send its body.
  if (ctx.expectContinue) sendContinue(ctx);
  terminal(ctx, chain, rt);
}

/** A request of node's HTTP/2 layer (it has a stream); an HTTP/1 request line saying HTTP/2.0 or HTTP/0.9 is not one. */
function isHttp2Request(req: DownstreamRequest): boolean {
  return req.httpVersionMajor === 2 && (req as unknown as { stream?: unknown }).stream !== undefined;
}

function afterRequestPhase(ctx: RequestContext, r: RequestPhaseResult, chain: Chain, rt: ProxyRuntime, terminal: Terminal): void {
  if (ctx.res.destroyed) return replyError(ctx, 'bad-request', 'client closed the connection', chain, rt);
  if (isLocalReply(r)) return sendLocalReply(ctx, r, chain, rt);
  try {
    if (ctx.expectContinue) sendContinue(ctx);
    terminal(ctx, chain, rt);
  } catch (err) {
    replyBug(ctx, err, chain, rt);
  }
}
