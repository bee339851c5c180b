// A fire-and-forget client for copies of requests (request mirroring, shadow traffic), which
// the gateway backs with its own HTTP/1.1 client under `engine: native` and undici under
// `engine: node`. A plugin opens one per handler from its create scope
// (`scope.openCopyClient`); the snapshot the handler belongs to closes it. Nothing about a
// copy ever reaches the client's request: the copy's answer is read and thrown away, and a
// copy that cannot be delivered within its bounds is dropped and reported, never awaited.
import type { PluginContext } from './context.js';

/** Where copies go: one of the config's `upstreams[]` by name, or an http(s) origin. */
export type CopyDestination = { readonly upstream: string } | { readonly url: string };

/** Why a copy was not delivered. */
export type CopyDropReason =
  /** `maxInFlight` copies were already on their way. */
  | 'overloaded'
  /** The body is larger than `maxBodyBytes`. */
  | 'body'
  /** The destination failed (refused, reset, an unreadable answer). */
  | 'error'
  /** No answer within `timeoutMs`. */
  | 'timeout'
  /** The upstream had no target to take it (every target ejected or down by its health check). */
  | 'unavailable';

/** What `PluginScope.openCopyClient` takes; a value out of its range makes it throw (a located problem at load). */
export interface CopyClientOptions {
  readonly to: CopyDestination;
  /** Copies on their way at most; one more is dropped (`overloaded`). 1 to 10,000. */
  readonly maxInFlight: number;
  /** Milliseconds a copy may take, connecting to reading the end of its answer (10 to 60,000); then it is aborted (`timeout`). */
  readonly timeoutMs: number;
  /** Bytes of a copy's body at most; a larger one is dropped (`body`). */
  readonly maxBodyBytes: number;
  /** Hears each copy that was not delivered, with the request it was a copy of. Must not throw. */
  readonly onDropped?: (reason: CopyDropReason, ctx: PluginContext) => void;
}

export interface CopyClient {
  /**
   * Sends a copy of `ctx`'s request as the upstream gets it: its method, `upstreamPath`
   * and `upstreamHeaders` (without Host, framing and hop-by-hop headers: the copy has its
   * own), with `body` (null: none) sent from this very buffer, which must not change
   * afterwards. Returns at once; never throws. An upstream destination picks the target
   * with the upstream's balancer (`ctx` is the balancing key), skips ejected and
   * unhealthy targets, and counts the copy's outcome in the targets' passive health.
   */
  send(ctx: PluginContext, body: Buffer | null): void;
  /** `maxInFlight` copies are on their way: a copy sent now would be dropped. */
  readonly full: boolean;
}
