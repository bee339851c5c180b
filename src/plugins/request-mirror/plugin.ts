// `request-mirror`: a share of a route's requests is copied to a mirror (a shadow of the
// service), or to each of several mirrors with a share of its own (`mirrors`, the Gateway
// API's several RequestMirror filters on a rule), fire-and-forget. The copy is the request as the upstream gets it (method, path,
// query, headers after every other plugin's edits; the mirror's own Host) with the body
// when it fits in `max_body_bytes`. The mirror is an origin (`url`) or one of the config's
// upstreams (`upstream`: its targets, picked by its balancer, ejected ones skipped). The
// client's request goes on at once: the copy goes through the SDK's CopyClient (the
// gateway's own HTTP client), whose answer is read and thrown away, never awaited; a slow
// or dead mirror only costs copies, which are bounded (`max_in_flight`, each within
// `timeout`) and counted on `northgate:mirror:dropped` (`northgate_mirror_dropped_total`,
// naming the mirror) when not delivered; one mirror's trouble costs the others nothing.
//
// The body: a body that fits is read whole (at the client's pace, never the mirror's) and
// then sent to both the upstream, with a Content-Length, and the mirror, from the same
// buffer; a larger one streams to the upstream untouched and the mirror gets the head alone
// or nothing (`larger_bodies`). So a copy never holds the client's upload: what it buffers
// is bounded by `max_body_bytes` per request (the largest of the mirrors copying it), read
// once whatever the number of mirrors.
import { mirrorDroppedChannel } from '../../base/events.js';
import { parseDuration } from '../../base/duration.js';
import { hasHeader } from '../../base/raw-headers.js';
import type { CopyClient, CopyDropReason } from '../../sdk/copy-client.js';
import type { PluginContext } from '../../sdk/context.js';
import type { Plugin, PluginHandler, PluginScope } from '../../sdk/plugin.js';
import { checkRequestMirror, MIRROR_DEFAULTS, mirrorName, mirrorsOf, requestMirrorSchema, type MirrorConfig, type RequestMirrorConfig } from './schema.js';

/** One mirror of a route, compiled. */
interface Mirror {
  /** Its upstream's name or its URL as written: what a drop names. */
  readonly name: string;
  /** The share of requests copied, 0 to 1. */
  readonly share: number;
  readonly maxBody: number;
  /** A request whose body is over `maxBody` sends the head alone (else nothing). */
  readonly headOnly: boolean;
  readonly client: CopyClient;
}

export const requestMirrorPlugin: Plugin<RequestMirrorConfig> = {
  name: 'request-mirror',
  // Last on the way out: the copy is what the upstream gets, after every other plugin.
  priority: 1,
  schema: requestMirrorSchema,
  check: checkRequestMirror,
  create(config, scope): PluginHandler {
    if (scope.openCopyClient === undefined) throw new Error('needs the gateway\'s copy client (PluginScope.openCopyClient)');
    const mirrors = mirrorsOf(config).map((m) => openMirror(m, scope));
    if (mirrors.length === 1) {
      const m = mirrors[0]!;
      return {
        upstreamRequest(ctx) {
          if (m.share < 1 && Math.random() >= m.share) return;
          // An upgrade (WebSocket) is a tunnel, not a request one could replay.
          if (isUpgrade(ctx)) return;
          // Full before the body is read: a request that could not be copied is not buffered.
          if (m.client.full) return dropped('overloaded', ctx, m.name);
          if (ctx.requestBody !== null || (!ctx.requestChunked && ctx.requestBodyLength <= 0)) return m.client.send(ctx, ctx.requestBody);
          if (ctx.requestBodyLength > m.maxBody) return larger(m, ctx);
          return ctx.readRequestBody(m.maxBody).then((body) => (body === null ? larger(m, ctx) : m.client.send(ctx, body)));
        },
      };
    }
    return {
      upstreamRequest(ctx) {
        if (isUpgrade(ctx)) return;
        // The mirrors copying this request, one bit each (at most MAX_MIRRORS), each drawn on its own.
        let chosen = 0;
        let readLimit = -1;
        for (let i = 0; i < mirrors.length; i++) {
          const m = mirrors[i]!;
          if (m.share < 1 && Math.random() >= m.share) continue;
          if (m.client.full) {
            dropped('overloaded', ctx, m.name);
            continue;
          }
          chosen |= 1 << i;
          if (m.maxBody > readLimit) readLimit = m.maxBody;
        }
        if (chosen === 0) return;
        if (ctx.requestBody !== null || (!ctx.requestChunked && ctx.requestBodyLength <= 0)) return sendEach(mirrors, chosen, ctx, ctx.requestBody);
        // Read once, up to the largest bound among them; each mirror then applies its own.
        if (ctx.requestBodyLength > readLimit) return sendEach(mirrors, chosen, ctx, null, true);
        return ctx.readRequestBody(readLimit).then((body) => sendEach(mirrors, chosen, ctx, body, body === null));
      },
    };
  },
};

function openMirror(m: MirrorConfig, scope: PluginScope): Mirror {
  const name = mirrorName(m);
  const maxBody = m.max_body_bytes ?? MIRROR_DEFAULTS.maxBodyBytes;
  const client = scope.openCopyClient!({
    to: m.upstream !== undefined ? { upstream: m.upstream } : { url: m.url! },
    maxInFlight: m.max_in_flight ?? MIRROR_DEFAULTS.maxInFlight,
    timeoutMs: parseDuration(m.timeout ?? MIRROR_DEFAULTS.timeout)!,
    maxBodyBytes: maxBody,
    onDropped: (reason, ctx) => dropped(reason, ctx, name),
  });
  return { name, share: (m.percent ?? MIRROR_DEFAULTS.percent) / 100, maxBody, headOnly: (m.larger_bodies ?? MIRROR_DEFAULTS.largerBodies) === 'head', client };
}

/** An upgrade request (WebSocket), read off the raw header list (see base/raw-headers.ts). */
function isUpgrade(ctx: PluginContext): boolean {
  return hasHeader(ctx.rawHeaders, 'upgrade');
}

/** A request whose body is larger than the mirror copies: its head alone, or nothing. */
function larger(m: Mirror, ctx: PluginContext): void {
  if (m.headOnly) m.client.send(ctx, null);
  else dropped('body', ctx, m.name);
}

/** Sends the chosen mirrors their copies; `over`: the body was larger than every bound read for. */
function sendEach(mirrors: readonly Mirror[], chosen: number, ctx: PluginContext, body: Buffer | null, over = false): void {
  for (let i = 0; i < mirrors.length; i++) {
    if ((chosen & (1 << i)) === 0) continue;
    const m = mirrors[i]!;
    if (over || (body !== null && body.length > m.maxBody)) larger(m, ctx);
    else m.client.send(ctx, body);
  }
}

function dropped(reason: CopyDropReason, ctx: PluginContext, mirror: string): void {
  if (mirrorDroppedChannel.hasSubscribers) mirrorDroppedChannel.publish({ ctx, reason, mirror });
}
