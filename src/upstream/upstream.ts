// Builds an upstream's live target set: IP-address targets as they are, host-name targets
// as one target per resolved address (with the name's weight, Host header and TLS server
// name). DNS re-resolution calls `dns.apply` to rebuild the set and the balancer between
// reloads; a target's health and load survive both (kept in the HealthRegistry by URL).
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ActiveCheckPolicy } from './active-health.js';
import { createBalancer, rttDecayOf, type Balancer, type BalancerSpec } from './balancer.js';
import type { HealthRegistry, OutlierPolicy } from './health.js';
import type { PoolRegistry, UpstreamPool } from './pools.js';
import type { Target } from './target.js';
import type { UpstreamTls } from './tls.js';

export interface Upstream {
  readonly name: string;
  /** The live target set: DNS re-resolution replaces it, and the balancer, between reloads. */
  targets: readonly Target[];
  balancer: Balancer;
  readonly outlier: OutlierPolicy;
  /** Active health checks, null when off. */
  readonly activeCheck: ActiveCheckPolicy | null;
  /** Targets named by host name (resolved through DNS), null when every target is an IP address. */
  readonly dns: UpstreamDns | null;
}

export interface UpstreamDns {
  /** The host names among the targets. */
  readonly names: readonly string[];
  /** Rebuilds the targets and the balancer from each name's addresses; false when nothing changed. */
  apply(addresses: AddressSource): boolean;
}

/** The last good addresses of a name, undefined while it has never been resolved. */
export type AddressSource = (name: string) => readonly string[] | undefined;

export interface UpstreamOptions {
  readonly name: string;
  readonly targets: ReadonlyArray<{ readonly url: string; readonly weight?: number }>;
  readonly connectTimeoutMs: number;
  readonly balancer: BalancerSpec;
  readonly outlier: OutlierPolicy;
  readonly activeCheck: ActiveCheckPolicy | null;
  readonly pools: PoolRegistry;
  readonly health: HealthRegistry;
  /** Pools this config uses (the gateway closes the others). */
  readonly usedPools: Set<UpstreamPool>;
  readonly addresses: AddressSource;
  /** The upstream's `tls` block for https:// and grpcs:// targets (null: defaults). */
  readonly tls: UpstreamTls | null;
}

interface Declared {
  readonly url: URL;
  readonly weight: number;
  /** The host name to resolve, null for an IP address. */
  readonly name: string | null;
}

export function buildUpstream(o: UpstreamOptions): Upstream {
  const declared: Declared[] = o.targets.map((t) => {
    const url = new URL(t.url);
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    return { url, weight: t.weight ?? 1, name: isIP(bare) === 0 ? bare.toLowerCase() : null };
  });
  const rttDecayMs = rttDecayOf(o.balancer);
  const target = (origin: string, hostname: string, port: number, weight: number, hostHeader: string | null, servername: string | undefined): Target => {
    const pool = o.pools.acquire(origin, { connectTimeoutMs: o.connectTimeoutMs, servername, tls: o.tls });
    o.usedPools.add(pool);
    // An H2Pool (grpc targets) offers undici's dispatch(opts, handler), all forward.ts uses.
    return { url: origin, origin, hostname, port, weight, dispatcher: pool as Dispatcher, health: o.health.get(o.name, origin), rttDecayMs, hostHeader };
  };
  const build = (addresses: AddressSource): Target[] => {
    const out: Target[] = [];
    for (const d of declared) {
      const u = d.url;
      const secure = u.protocol === 'https:' || u.protocol === 'grpcs:';
      const port = Number(u.port || (secure ? 443 : 80));
      const resolved = d.name === null ? undefined : addresses(d.name);
      if (resolved === undefined || resolved.length === 0) {
        // An IP address, or a name not resolved yet: undici connects to it as written.
        // (URL has no origin for grpc://, not a special scheme: scheme://host[:port] by hand.)
        out.push(target(`${u.protocol}//${u.host}`, u.hostname, port, d.weight, null, undefined));
        continue;
      }
      for (const a of resolved) {
        const host = isIP(a) === 6 ? `[${a}]` : a;
        out.push(target(`${u.protocol}//${host}:${port}`, host, port, d.weight, u.host, secure ? d.name! : undefined));
      }
    }
    return out;
  };
  const targets = build(o.addresses);
  const names = [...new Set(declared.flatMap((d) => (d.name === null ? [] : [d.name])))];
  const upstream: Upstream = {
    name: o.name,
    targets,
    balancer: createBalancer(o.balancer, targets),
    outlier: o.outlier,
    activeCheck: o.activeCheck,
    dns:
      names.length === 0
        ? null
        : {
            names,
            apply(addresses) {
              const next = build(addresses);
              const key = (ts: readonly Target[]) => ts.map((t) => t.url).join(' ');
              if (key(next) === key(upstream.targets)) return false;
              upstream.targets = next;
              upstream.balancer = createBalancer(o.balancer, next);
              return true;
            },
          },
  };
  return upstream;
}
