// `request-mirror`: a share of a route's requests is copied to a mirror (a shadow of the
// service), fire-and-forget. The copy is the request as the upstream gets it (method, path,
// query, headers after every other plugin's edits; the mirror's own Host) with the body
// when it fits in `max_body_bytes`. The client's request goes on at once: the mirror's
// answer is read and thrown away, never awaited, and a slow or dead mirror only costs
// copies, which are bounded (`max_in_flight`, each within `timeout`) and counted on
// `northgate:mirror:dropped` (`northgate_mirror_dropped_total`) when not delivered.
//
// The body: a body that fits is read whole (at the client's pace, never the mirror's) and
// then sent to both the upstream, with a Content-Length, and the mirror, from memory; a
// larger one streams to the upstream untouched and the mirror gets the head alone or
// nothing (`larger_bodies`). So a copy never holds the client's upload: what it buffers is
// bounded by `max_body_bytes` per request.
import { mirrorDroppedChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin, PluginHandler } from '../../sdk/plugin.js';
import { acquirePool } from './client.js';
import { checkRequestMirror, MIRROR_DEFAULTS, requestMirrorSchema, type RequestMirrorConfig } from './schema.js';
import type { Pool } from 'undici';

/** Client headers that are not the copy's: it has its own Host, framing and no expectation. */
const NOT_COPIED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'te', 'upgrade', 'keep-alive']);
/** The most of a mirror's answer drained to keep its connection; a longer one closes it. */
const MAX_ANSWER_BYTES = 64 * 1024;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

type DropReason = 'overloaded' | 'body' | 'error' | 'timeout';

export const requestMirrorPlugin: Plugin<RequestMirrorConfig> = {
  name: 'request-mirror',
  // Last on the way out: the copy is what the upstream gets, after every other plugin.
  priority: 1,
  schema: requestMirrorSchema,
  check: checkRequestMirror,
  create(config): PluginHandler {
    const share = (config.percent ?? MIRROR_DEFAULTS.percent) / 100;
    const maxBody = config.max_body_bytes ?? MIRROR_DEFAULTS.maxBodyBytes;
    const headOnly = (config.larger_bodies ?? MIRROR_DEFAULTS.largerBodies) === 'head';
    const maxInFlight = config.max_in_flight ?? MIRROR_DEFAULTS.maxInFlight;
    const timeoutMs = parseDuration(config.timeout ?? MIRROR_DEFAULTS.timeout)!;
    const mirror = acquirePool(new URL(config.url).origin, maxInFlight, timeoutMs);
    let inFlight = 0;

    const send = (ctx: PluginContext, body: Buffer | null): void => {
      if (inFlight >= maxInFlight) return dropped(ctx, 'overloaded');
      inFlight++;
      copy(mirror.pool, ctx, body, timeoutMs).then(
        () => inFlight--,
        (err: unknown) => {
          inFlight--;
          dropped(ctx, TIMEOUT_CODES.has((err as { code?: string }).code ?? '') || (err as Error).name === 'TimeoutError' ? 'timeout' : 'error');
        },
      );
    };
    const larger = (ctx: PluginContext): void => (headOnly ? send(ctx, null) : dropped(ctx, 'body'));

    return {
      upstreamRequest(ctx) {
        if (share < 1 && Math.random() >= share) return;
        // An upgrade (WebSocket) is a tunnel, not a request one could replay.
        if (ctx.headers.upgrade !== undefined) return;
        // Full before the body is read: a request that could not be copied is not buffered.
        if (inFlight >= maxInFlight) return dropped(ctx, 'overloaded');
        if (ctx.requestBody !== null || (!ctx.requestChunked && ctx.requestBodyLength <= 0)) return send(ctx, ctx.requestBody);
        if (ctx.requestBodyLength > maxBody) return larger(ctx);
        return ctx.readRequestBody(maxBody).then((body) => (body === null ? larger(ctx) : send(ctx, body)));
      },
      close: () => mirror.release(),
    };
  },
};

/** Sends one copy and reads its answer away; rejects when it fails or passes its deadline. */
async function copy(pool: Pool, ctx: PluginContext, body: Buffer | null, timeoutMs: number): Promise<void> {
  const raw = ctx.upstreamHeaders.raw;
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!NOT_COPIED.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
  const signal = AbortSignal.timeout(timeoutMs);
  const answer = await pool.request({ method: ctx.method, path: ctx.upstreamPath, headers, body, signal });
  await answer.body.dump({ limit: MAX_ANSWER_BYTES, signal });
}

function dropped(ctx: PluginContext, reason: DropReason): void {
  if (mirrorDroppedChannel.hasSubscribers) mirrorDroppedChannel.publish({ ctx, reason });
}
