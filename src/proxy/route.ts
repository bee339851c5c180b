// The proxy's routes: a route as declared (what a request runs through: its service and
// plugin chain) and its router entries, one per (host pattern × path pattern).
import type { Chain } from '../pipeline/chain.js';
import type { RouterEntry } from '../router/router.js';
import type { Service } from '../upstream/service.js';
import type { Backend, WeightedBackends } from '../upstream/backends.js';
import type { QueryCondition } from '../router/query-match.js';
import type { SessionPersistence } from './session.js';

/** A route as declared: one per `routes[]` item, shared by its router entries. */
export interface CompiledRoute {
  readonly name: string;
  /** Declaration index across the whole file, the last tie-breaker. */
  readonly index: number;
  readonly service: Service;
  readonly priority: number;
  readonly methods: ReadonlySet<string> | null;
  readonly headers: ReadonlyArray<readonly [name: string, values: readonly string[]]> | null;
  readonly query: readonly QueryCondition[] | null;
  /** Served only on these proxy listeners (by name); null: on every one. */
  readonly listeners?: ReadonlySet<string> | null;
  /** Weighted backends in place of the service's upstream (null: the service's upstream). */
  readonly backends: WeightedBackends<RouteBackend> | null;
  /** Sends a client back to the backend and target it was first sent to (null: off). */
  readonly session: SessionPersistence | null;
  readonly stripPath: boolean;
  readonly preserveHost: boolean;
  /** Literal path segments (and regexes) match in any letter case (docs/routing.md). */
  readonly caseInsensitive: boolean;
  /** Its "*." hosts cover exactly one label (`wildcard_labels: one`). */
  readonly oneLabelWildcard?: boolean;
  readonly chain: Chain;
  /** Where in the file the route was declared, e.g. services[0].routes[1]. */
  readonly configPath: string;
}

/** A backend of a route, with the route as a request sent to it runs: the backend's service, no further choice. */
export interface RouteBackend extends Backend {
  readonly route: CompiledRoute;
}

/** One (host pattern × path pattern) of a route: what the router indexes and orders. */
export type RouteEntry = RouterEntry<CompiledRoute>;
