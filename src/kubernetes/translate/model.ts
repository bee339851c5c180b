// The shared shapes of the translation from Kubernetes resources (Gateway API, Ingress) to a
// Northgate config document, with the status to write back and notes on what is not served.
import type { Kind, KubeObject } from '../resources.js';
import type { ResourceSnapshot } from '../store.js';

export interface TranslateOptions {
  /** GatewayClass controllerName this controller owns. Default 'northgate.io/gateway-controller'. */
  readonly controllerName?: string;
  /** IngressClass name this controller owns (and the ingressClassName/annotation value). Default 'northgate'. */
  readonly ingressClass?: string;
  /** Declared listener port → local port to bind (the --port-map option). Redirects/Host logic keep declared ports. */
  readonly portMap?: ReadonlyMap<number, number>;
  /** Address to bind listeners on (default '0.0.0.0'); tests use 127.0.0.1. */
  readonly bindAddress?: string;
  /** Addresses reported in Gateway status.addresses (e.g. the pod/Service IP). */
  readonly addresses?: readonly string[];
  /**
   * The lastTransitionTime (RFC 3339) of conditions that changed; default: the current time in
   * whole seconds. Unchanged conditions keep the time of the object's current status.
   */
  readonly now?: string;
}

export interface ObjectStatus {
  readonly kind: Kind;
  readonly namespace?: string;
  readonly name: string;
  readonly generation?: number;
  readonly status: Record<string, unknown>;
}

/** Why an object (or part of it) is not served, for `explain` and logs. */
export interface TranslationNote {
  readonly kind: Kind;
  readonly namespace?: string;
  readonly name: string;
  readonly message: string;
}

export interface Translation {
  /** A Northgate config document (the object a config YAML file parses to), valid for the compiler. */
  readonly config: Record<string, unknown>;
  /** Status to write, one entry per owned GatewayClass/Gateway/HTTPRoute/GRPCRoute/Ingress. */
  readonly statuses: readonly ObjectStatus[];
  readonly notes: readonly TranslationNote[];
}

/** Pieces a translator of one family (Gateway API, Ingress) contributes. */
export interface ConfigParts {
  listeners: Record<string, unknown>[];
  upstreams: Record<string, unknown>[];
  services: Record<string, unknown>[];
  statuses: ObjectStatus[];
  notes: TranslationNote[];
}

export type { Kind, KubeObject, ResourceSnapshot };

/** The GatewayClass controllerName owned when none is given. */
export const DEFAULT_CONTROLLER_NAME = 'northgate.io/gateway-controller';
/** The IngressClass owned when none is given. */
export const DEFAULT_INGRESS_CLASS = 'northgate';
