// The plugin interface. Built-in plugins use exactly this, as a user's plugin would.
// A plugin is a schema (pure data, validated at load) + a factory that turns one
// validated config into a handler with named phases. Handlers are created once per
// scope per config snapshot; nothing is looked up per request.
import type { PluginContext } from './context.js';
import type { LocalReply } from './local-reply.js';
import type { OpenApiContract } from './openapi.js';
import type { CopyClient, CopyClientOptions } from './copy-client.js';

/** A JSON Schema (draft-07, as Ajv reads it): pure data. */
export type JsonSchema = Record<string, unknown>;

/** Where one instance of a plugin is configured. */
export interface PluginScope {
  /** The config level the instance comes from: top-level `plugins:`, a service's, or a route's. */
  readonly kind: 'global' | 'service' | 'route';
  /** The service's name (service and route scopes). */
  readonly service?: string;
  /** The route's name (route scope). */
  readonly route?: string;
  /**
   * The OpenAPI document of the service whose routes this instance serves
   * (`services[].openapi`), also for a global instance on those routes; absent otherwise.
   */
  readonly openapi?: OpenApiContract;
  /**
   * Opens a fire-and-forget client for copies of requests (request mirroring) to an upstream
   * of the config or an http(s) origin, through the gateway's own HTTP client and the
   * upstream's balancer, within the bounds given (src/sdk/copy-client.ts, docs/plugins.md).
   * It belongs to the snapshot the handler is created for. Offered while a gateway (or
   * `northgate validate`, `explain`) compiles a config; absent where a scope is made by hand.
   * An upstream name must be one of the config's: say so in `check` (CheckEnvironment).
   */
  readonly openCopyClient?: (options: CopyClientOptions) => CopyClient;
}

/** What a plugin's `check` may know of the rest of the config. */
export interface CheckEnvironment {
  /** The config's upstream of this name (`upstreams[]`): the protocol its targets speak; undefined when there is none. */
  upstream(name: string): { readonly protocol: 'http' | 'grpc' } | undefined;
  /** The names of the config's upstreams, in config order. */
  readonly upstreamNames: readonly string[];
}

/** What a request-phase hook may return: nothing to go on, a LocalReply to end the request. */
export type RequestPhaseResult = LocalReply | undefined | void;

/** One configured instance of a plugin: its hooks by phase. Every member is optional. */
export interface PluginHandler {
  /** Before the upstream is chosen. Return a LocalReply to answer without the upstream. */
  request?(ctx: PluginContext): RequestPhaseResult | Promise<RequestPhaseResult>;
  /** After the target is chosen, just before the request is sent: last edits to headers and path. */
  upstreamRequest?(ctx: PluginContext): void | Promise<void>;
  /** Upstream response head received, before it is sent to the client. Runs in reverse priority order. */
  responseHeaders?(ctx: PluginContext): void | Promise<void>;
  /** Each response body chunk, in reverse priority order. Return the chunk to send (possibly new or empty). */
  responseChunk?(ctx: PluginContext, chunk: Buffer): Buffer;
  /** After the last upstream chunk: a last piece of body to send, if the plugin holds one. */
  responseEnd?(ctx: PluginContext): Buffer | undefined;
  /**
   * Set when `responseChunk`/`responseEnd` only observe the body (return each chunk as is,
   * no tail): the core then keeps the upstream's Content-Length (e.g. a cache capturing it).
   */
  readonly observesBodyOnly?: boolean;
  /** After the response is finished (or failed). Never affects the client. */
  log?(ctx: PluginContext): void;
  /** The snapshot this handler belongs to was replaced and has drained. */
  close?(): void;
  /**
   * A store the handler decides with (a Redis or PostgreSQL connection). At start the gateway
   * reports ready on /readyz only once every handler's `wait` resolved, or after a bounded
   * wait (then with a warning naming `store`); it aborts `signal` when it stops waiting.
   */
  readonly ready?: StoreReadiness;
}

/** A remote store a handler waits for before the gateway reports ready. */
export interface StoreReadiness {
  /** What to name in a warning: the store's kind and address, without credentials. */
  readonly store: string;
  /** Resolves once the store answers. */
  wait(signal: AbortSignal): Promise<void>;
}

/** A plugin: its schema, priority and the factory of its handlers. */
export interface Plugin<Config = unknown> {
  /** Kebab-case; the key a config names it by. */
  readonly name: string;
  /** Higher runs earlier on the request path, later on the response path. */
  readonly priority: number;
  /** Validates the plugin's config at load (with `x-message` for a friendlier error). */
  readonly schema: JsonSchema;
  /**
   * The plugin works from the service's OpenAPI document (`scope.openapi`): the config
   * refuses it on a service without `openapi:`, or on such a service's route.
   */
  readonly needsOpenApi?: boolean;
  /**
   * Semantic checks beyond the schema; return messages keyed by a path relative to the plugin
   * config. `env` tells what the plugin may refer to elsewhere in the config (its upstreams);
   * the validator always passes it, a check run on a fragment alone (a plan's limits) may not.
   */
  check?(config: Config, env?: CheckEnvironment): Array<{ path: Array<string | number>; message: string }>;
  /** Called once per scope per config snapshot, never per request. */
  create(config: Config, scope: PluginScope): PluginHandler;
}

/** The hooks of a handler, in the order a request meets them. */
export const PHASES = ['request', 'upstreamRequest', 'responseHeaders', 'responseChunk', 'responseEnd', 'log'] as const;
/** One of PHASES. */
export type Phase = (typeof PHASES)[number];
