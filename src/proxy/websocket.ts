// Requests node hands over as HTTP/1.1 upgrades (Connection: upgrade + Upgrade). Only a
// WebSocket handshake (GET, HTTP/1.1, no body) is tunnelled; any other is the ordinary request
// it is (its own method, without the upgrade headers), and one announcing a body is refused,
// since node leaves the bytes after the head unparsed. The handshake is a request like any
// other: head checks, routing and the plugins' request phase run first (auth, rate limits,
// ip-restriction apply; a refusal is the usual problem+json answer). Then the upstream
// handshake goes through the target's undici pool; its 101 is relayed and from there on the
// gateway pipes bytes both ways with backpressure, closes both sides when one closes or
// errors, and closes an idle tunnel after the service's `timeouts.websocket_idle`.
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { DownstreamRequest } from '../http1/types.js';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import { runVoidPhase, type Chain } from '../pipeline/chain.js';
import { LocalReply } from '../sdk/local-reply.js';
import { upstreamErrorCode, upstreamErrorDetail } from '../upstream/errors.js';
import { recordFailure, recordSuccess } from '../upstream/retry.js';
import type { ListenerInfo, RequestContext } from './context.js';
import { joinUpstreamPath } from './forward.js';
import { chooseTarget, editBackendHeaders, noBackendDetail } from './backend-choice.js';
import { handleRequest, type ProxyRuntime } from './handler.js';
import { finish, replyBug, replyError, sendLocalReply, publishUpstreamEnd, type DrainHooks } from './reply.js';
import { upstreamStartChannel } from '../base/events.js';

/** Open tunnels per gateway, closed when it drains. */
const tunnels = new WeakMap<object, Set<Duplex>>();
let open = 0;

/** WebSocket tunnels open in this process (the northgate_websocket_connections gauge). */
export function openWebSockets(): number {
  return open;
}

/** Closes every tunnel of a gateway (end of its drain). */
export function closeTunnels(owner: object): void {
  for (const s of tunnels.get(owner) ?? []) s.destroy();
}

export function handleUpgrade(rt: ProxyRuntime, listener: ListenerInfo, req: DownstreamRequest, socket: Socket, head: Buffer): void {
  // Pipelined behind a request still being answered: node hands the socket over as soon as it
  // reads this head, while the earlier response still owns it. Answers go out in order, so
  // this request starts once that response is written (socket._httpMessage is node's own
  // record of the response writing to the socket).
  const earlier = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (earlier != null) return void waitForEarlier(rt, listener, req, socket, head, earlier);
  // A response object on the raw socket, so that refusals are the usual local replies.
  // node's ServerResponse reads only the method, version and TE of its request: the native
  // engine's request serves as well as node's.
  const res = new ServerResponse(req as IncomingMessage);
  res.assignSocket(socket);
  res.shouldKeepAlive = false;
  socket.on('error', () => socket.destroy());
  // After a refusal, an ordinary answer or a relayed non-101 answer the connection is done.
  res.on('finish', () => socket.destroySoon());
  const refused = refusal(req);
  if (refused !== null) return void reject(rt, listener, req, res, refused);
  // Anything but a WebSocket handshake (another protocol such as h2c, another method, HTTP/1.0)
  // is the ordinary request it is: same method, Upgrade and Connection dropped (RFC 9110 7.8).
  if (!isWebSocketHandshake(req)) return handleRequest(rt, listener, req, res);
  handleRequest(rt, listener, req, res, (ctx, chain, hooks) => startTunnel(ctx, chain, hooks, socket, head, rt));
}

/**
 * RFC 6455 4.1: a GET over HTTP/1.1 asking for "websocket" (the body was checked before).
 * Sec-WebSocket-Key and -Version are the upstream's to check: its refusal is relayed.
 */
function isWebSocketHandshake(req: DownstreamRequest): boolean {
  if (req.method !== 'GET' || req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return false;
  return String(req.headers.upgrade).toLowerCase() === 'websocket';
}

/** Why a request with upgrade headers is refused (400), or null. */
function refusal(req: DownstreamRequest): string | null {
  const h = req.headers;
  // node skips its own Host and Expect checks for upgrades: they are made here.
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && h.host === undefined) return 'missing Host header';
  // node hands an upgrade over unparsed past its head: a body cannot be read, so a request
  // announcing one (or expecting to send one) is refused rather than forwarded without it.
  if ((h['content-length'] !== undefined && Number(h['content-length']) !== 0) || h['transfer-encoding'] !== undefined) return 'a request with Upgrade headers cannot carry a body';
  if (h.expect !== undefined) return 'a request with Upgrade headers cannot carry a body (Expect)';
  return null;
}

/** Starts the upgrade once the earlier response on the connection is written; drops it when that one closes the connection. */
function waitForEarlier(rt: ProxyRuntime, listener: ListenerInfo, req: DownstreamRequest, socket: Socket, head: Buffer, earlier: ServerResponse): void {
  const onClose = () => earlier.removeListener('finish', go);
  function go(): void {
    socket.removeListener('close', onClose);
    // node detached the earlier response first; when it was the last one the socket is ending.
    if (!socket.writable) return void socket.destroy();
    handleUpgrade(rt, listener, req, socket, head);
  }
  earlier.once('finish', go);
  socket.once('close', onClose);
}

function reject(rt: ProxyRuntime, listener: ListenerInfo, req: DownstreamRequest, res: ServerResponse, detail: string): void {
  handleRequest(rt, listener, req, res, (ctx, chain, hooks) => replyError(ctx, 'bad-request', detail, chain, hooks));
}

function startTunnel(ctx: RequestContext, chain: Chain, hooks: DrainHooks, socket: Socket, head: Buffer, owner: object): void {
  const declared = ctx.route!;
  const target = declared.backends === null && declared.session === null ? declared.service.upstream.balancer.pick(Date.now(), null, ctx) : chooseTarget(ctx);
  // chooseTarget moves ctx.route to the chosen backend's route.
  const route = ctx.route!;
  if (target === null && route.backends !== null) return replyError(ctx, 'no-backend', noBackendDetail(ctx), chain, hooks);
  if (target === null) return sendLocalReply(ctx, LocalReply.error('upstream-unhealthy', 'every target of the upstream is failing'), chain, hooks);
  ctx.target = target;
  if (route.preserveHost && ctx.hostHeader !== '') ctx.upstreamHeaders.raw.push('host', ctx.hostHeader);
  else if (target.hostHeader !== null) ctx.upstreamHeaders.raw.push('host', target.hostHeader);
  ctx.upstreamPath = joinUpstreamPath(route, ctx.path, ctx.matchLength, ctx.query);
  const go = () => {
    editBackendHeaders(ctx);
    dispatchUpgrade(ctx, chain, hooks, socket, head, owner);
  };
  if (chain.upstreamRequest === null) return go();
  let pending: void | Promise<void>;
  try {
    pending = runVoidPhase(chain.upstreamRequest, 'upstreamRequest', ctx);
  } catch (err) {
    return replyBug(ctx, err, chain, hooks);
  }
  if (pending === undefined) return go();
  pending.then(go, (err: unknown) => replyBug(ctx, err, chain, hooks));
}

function dispatchUpgrade(ctx: RequestContext, chain: Chain, hooks: DrainHooks, socket: Socket, head: Buffer, owner: object): void {
  if (socket.destroyed) {
    ctx.errorCode = 'client-closed';
    return finish(ctx, chain, hooks);
  }
  if (upstreamStartChannel.hasSubscribers) upstreamStartChannel.publish(ctx);
  ctx.upstreamStartedAt = performance.now();
  const service = ctx.route!.service;
  ctx.target!.dispatcher.dispatch(
    { path: ctx.upstreamPath, method: ctx.method as Dispatcher.HttpMethod, headers: ctx.upstreamHeaders.raw, body: null, upgrade: 'websocket', headersTimeout: service.readTimeoutMs, bodyTimeout: service.readTimeoutMs },
    new UpgradeExchange(ctx, chain, hooks, socket, head, owner),
  );
}

/** undici handler for the upstream handshake: a 101 becomes a tunnel, anything else is relayed. */
class UpgradeExchange implements Dispatcher.DispatchHandler {
  readonly #ctx: RequestContext;
  readonly #chain: Chain;
  readonly #hooks: DrainHooks;
  readonly #socket: Socket;
  readonly #head: Buffer;
  readonly #owner: object;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #done = false;

  constructor(ctx: RequestContext, chain: Chain, hooks: DrainHooks, socket: Socket, head: Buffer, owner: object) {
    this.#ctx = ctx;
    this.#chain = chain;
    this.#hooks = hooks;
    this.#socket = socket;
    this.#head = head;
    this.#owner = owner;
    socket.once('close', () => {
      if (!this.#done) this.#abort?.(new Error('client closed the connection'));
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const ctx = this.#ctx;
    this.#done = true;
    ctx.upstreamRespondedAt = performance.now();
    recordSuccess(ctx.target!);
    publishUpstreamEnd(ctx, null);
    const client = this.#socket;
    if (client.destroyed) {
      upstream.destroy();
      ctx.errorCode = 'client-closed';
      return finish(ctx, this.#chain, this.#hooks);
    }
    const headers: string[] = [];
    for (const h of rawHeaders ?? []) headers.push(h.toString('latin1'));
    headers.push('x-request-id', ctx.id);
    ctx.responseStatus = statusCode;
    const res = ctx.res;
    res.writeHead(statusCode, headers);
    res.flushHeaders();
    // An upgrade's response is always node's, on the raw socket (handleUpgrade).
    (res as ServerResponse).detachSocket(client);
    finish(ctx, this.#chain, this.#hooks);
    tunnel(client, upstream, this.#head, ctx.route!.service.websocketIdleMs, this.#owner);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // The upstream refused the upgrade: its answer goes to the client as is.
    const ctx = this.#ctx;
    ctx.upstreamRespondedAt = performance.now();
    if (statusCode >= 500) recordFailure(ctx.route!.service.upstream, ctx.target!, Date.now());
    ctx.responseStatus = statusCode;
    const headers: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding' || lower === 'upgrade' || lower === 'x-request-id') continue;
      headers.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    headers.push('x-request-id', ctx.id);
    ctx.res.writeHead(statusCode, headers);
    this.#resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#ctx.bytesOut += chunk.length;
    if (this.#ctx.res.write(chunk)) return true;
    this.#ctx.res.once('drain', () => this.#resume?.());
    return false;
  }

  onComplete(): void {
    if (this.#done) return;
    this.#done = true;
    const ctx = this.#ctx;
    publishUpstreamEnd(ctx, null);
    ctx.res.end();
    finish(ctx, this.#chain, this.#hooks);
  }

  onError(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    const ctx = this.#ctx;
    publishUpstreamEnd(ctx, err);
    if (ctx.upstreamRespondedAt === 0) ctx.upstreamRespondedAt = performance.now();
    if (this.#socket.destroyed) {
      ctx.errorCode = 'client-closed';
      return finish(ctx, this.#chain, this.#hooks);
    }
    const code = upstreamErrorCode(err);
    if (code !== 'bad-request') recordFailure(ctx.route!.service.upstream, ctx.target!, Date.now());
    if (ctx.res.headersSent) {
      ctx.errorCode = code;
      this.#socket.destroy();
      return finish(ctx, this.#chain, this.#hooks);
    }
    replyError(ctx, code, upstreamErrorDetail(code, err), this.#chain, this.#hooks);
  }
}

/** Bytes both ways; pipe() gives backpressure. One side closing or failing closes the other. */
function tunnel(client: Socket, upstream: Duplex, head: Buffer, idleMs: number, owner: object): void {
  let set = tunnels.get(owner);
  if (set === undefined) tunnels.set(owner, (set = new Set()));
  const live = set;
  live.add(client);
  open++;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    open--;
    live.delete(client);
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
  // A frame either way touches the client socket (read or write): one idle timer covers both.
  client.setTimeout(idleMs, close);
  (client as Socket).setNoDelay(true);
  if (head.length > 0) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}
