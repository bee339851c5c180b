// What the proxy reads of a config snapshot. The compiler's Snapshot extends it; a request
// keeps the one it started with, so a reload never changes a request in flight.
import type { BlockList } from 'node:net';
import type { ConsumerIndex } from '../consumers/index.js';
import type { Chain } from '../pipeline/chain.js';
import type { Router } from '../router/router.js';
import type { Service } from '../upstream/service.js';
import type { PathPolicy } from './request-path.js';
import type { CompiledRoute } from './route.js';

export interface Limits {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxConnections: number;
}

export interface ProxySnapshot {
  readonly limits: Limits;
  /** How request paths are normalized before routing (request-path.ts). */
  readonly paths: PathPolicy;
  readonly trustedProxies: BlockList | null;
  readonly router: Router<CompiledRoute>;
  readonly globalChain: Chain;
  /** Consumers and their credentials (digests and hashes only), for auth plugins. */
  readonly consumers: ConsumerIndex;
  readonly services: ReadonlyMap<string, Service>;
}
