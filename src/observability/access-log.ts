// One JSON line per request, written by subscribing to the core's request-end event.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { RequestContext } from '../proxy/context.js';
import { requestEndChannel, requestErrorChannel } from '../proxy/reply.js';

const round = (n: number): number => Math.round(n * 1000) / 1000;

export function startAccessLog(logger: Logger, enabled: () => boolean): () => void {
  const onEnd = (message: unknown): void => {
    const ctx = message as RequestContext;
    if (!ctx.snapshot.accessLog || !enabled()) return;
    logger.info({
      type: 'access',
      request_id: ctx.id,
      client_ip: ctx.peerAddress,
      method: ctx.method,
      host: ctx.host,
      path: ctx.path,
      status: ctx.res.headersSent ? ctx.responseStatus : 0,
      route: ctx.route?.name ?? null,
      service: ctx.route?.service.name ?? null,
      target: ctx.target?.url ?? null,
      bytes_in: ctx.bytesIn,
      bytes_out: ctx.bytesOut,
      latency_ms: round(ctx.finishedAt - ctx.startedAt),
      upstream_latency_ms: ctx.upstreamStartedAt === 0 ? null : round((ctx.upstreamRespondedAt || ctx.finishedAt) - ctx.upstreamStartedAt),
      error: ctx.errorCode,
    });
  };
  const onError = (message: unknown): void => {
    const { ctx, error } = message as { ctx: RequestContext; error: unknown };
    logger.error({ type: 'error', request_id: ctx.id, route: ctx.route?.name ?? null, err: error }, 'plugin or core error while handling a request');
  };
  subscribe(requestEndChannel.name, onEnd);
  subscribe(requestErrorChannel.name, onError);
  return () => {
    unsubscribe(requestEndChannel.name, onEnd);
    unsubscribe(requestErrorChannel.name, onError);
  };
}
