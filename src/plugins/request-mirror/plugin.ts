// `request-mirror`: a share of a route's requests is copied to a mirror (a shadow of the
// service), fire-and-forget. The copy is the request as the upstream gets it (method, path,
// query, headers after every other plugin's edits; the mirror's own Host) with the body
// when it fits in `max_body_bytes`. The mirror is an origin (`url`) or one of the config's
// upstreams (`upstream`: its targets, picked by its balancer, ejected ones skipped). The
// client's request goes on at once: the copy goes through the SDK's CopyClient (the
// gateway's own HTTP client), whose answer is read and thrown away, never awaited; a slow
// or dead mirror only costs copies, which are bounded (`max_in_flight`, each within
// `timeout`) and counted on `northgate:mirror:dropped` (`northgate_mirror_dropped_total`)
// when not delivered.
//
// The body: a body that fits is read whole (at the client's pace, never the mirror's) and
// then sent to both the upstream, with a Content-Length, and the mirror, from the same
// buffer; a larger one streams to the upstream untouched and the mirror gets the head alone
// or nothing (`larger_bodies`). So a copy never holds the client's upload: what it buffers
// is bounded by `max_body_bytes` per request.
import { mirrorDroppedChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import type { CopyDropReason } from '../../sdk/copy-client.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import { checkRequestMirror, MIRROR_DEFAULTS, requestMirrorSchema, type RequestMirrorConfig } from './schema.js';

export const requestMirrorPlugin: Plugin<RequestMirrorConfig> = {
  name: 'request-mirror',
  // Last on the way out: the copy is what the upstream gets, after every other plugin.
  priority: 1,
  schema: requestMirrorSchema,
  check: checkRequestMirror,
  create(config, scope): PluginHandler {
    if (scope.openCopyClient === undefined) throw new Error('needs the gateway\'s copy client (PluginScope.openCopyClient)');
    const share = (config.percent ?? MIRROR_DEFAULTS.percent) / 100;
    const maxBody = config.max_body_bytes ?? MIRROR_DEFAULTS.maxBodyBytes;
    const headOnly = (config.larger_bodies ?? MIRROR_DEFAULTS.largerBodies) === 'head';
    const mirror = scope.openCopyClient({
      to: config.upstream !== undefined ? { upstream: config.upstream } : { url: config.url! },
      maxInFlight: config.max_in_flight ?? MIRROR_DEFAULTS.maxInFlight,
      timeoutMs: parseDuration(config.timeout ?? MIRROR_DEFAULTS.timeout)!,
      maxBodyBytes: maxBody,
      onDropped: dropped,
    });
    const larger = (ctx: PluginContext): void => (headOnly ? mirror.send(ctx, null) : dropped('body', ctx));

    return {
      upstreamRequest(ctx) {
        if (share < 1 && Math.random() >= share) return;
        // An upgrade (WebSocket) is a tunnel, not a request one could replay.
        if (ctx.headers.upgrade !== undefined) return;
        // Full before the body is read: a request that could not be copied is not buffered.
        if (mirror.full) return dropped('overloaded', ctx);
        if (ctx.requestBody !== null || (!ctx.requestChunked && ctx.requestBodyLength <= 0)) return mirror.send(ctx, ctx.requestBody);
        if (ctx.requestBodyLength > maxBody) return larger(ctx);
        return ctx.readRequestBody(maxBody).then((body) => (body === null ? larger(ctx) : mirror.send(ctx, body)));
      },
    };
  },
};

function dropped(reason: CopyDropReason, ctx: PluginContext): void {
  if (mirrorDroppedChannel.hasSubscribers) mirrorDroppedChannel.publish({ ctx, reason });
}
