// Builds an upstream's live target set: IP-address targets as they are, host-name targets
// as one target per resolved address (with the name's weight, Host header and TLS server
// name). DNS re-resolution calls `dns.apply` to rebuild the set and the balancer between
// reloads; a target's health and load survive both (kept in the HealthRegistry by URL).
// SRV targets become one target per address of each record's host name, with the record's
// port and weight; records of different priorities go to separate balancers, lowest first.
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import type { ActiveCheckPolicy } from './active-health.js';
import { createBalancer, rttDecayOf, type Balancer, type BalancerSpec } from './balancer.js';
import { PriorityGroups } from './balancers/priority.js';
import type { SrvRecord } from './srv-query.js';
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
  /** Targets named by host name or SRV service (resolved through DNS), null when every target is an IP address. */
  readonly dns: UpstreamDns | null;
}

export interface UpstreamDns {
  /** The host names among the targets. */
  readonly names: readonly string[];
  /** The SRV services among the targets. */
  readonly services: readonly string[];
  /** Rebuilds the targets and the balancer from the last answers; false when nothing changed. */
  apply(answers: DnsAnswers): boolean;
}

/** The last good DNS answers; undefined while a name or service has never been answered. */
export interface DnsAnswers {
  addresses(name: string): readonly string[] | undefined;
  srv(service: string): readonly SrvRecord[] | undefined;
}

export const NO_DNS_ANSWERS: DnsAnswers = { addresses: () => undefined, srv: () => undefined };

export type SrvScheme = 'http' | 'https' | 'grpc' | 'grpcs';
export type TargetSpec = { readonly url: string; readonly weight?: number } | { readonly srv: string; readonly scheme?: SrvScheme };

export interface UpstreamOptions {
  readonly name: string;
  readonly targets: readonly TargetSpec[];
  readonly connectTimeoutMs: number;
  readonly balancer: BalancerSpec;
  readonly outlier: OutlierPolicy;
  readonly activeCheck: ActiveCheckPolicy | null;
  readonly pools: PoolRegistry;
  readonly health: HealthRegistry;
  /** Pools this config uses (the gateway closes the others). */
  readonly usedPools: Set<UpstreamPool>;
  readonly answers: DnsAnswers;
  /** The upstream's `tls` block for https:// and grpcs:// targets (null: defaults). */
  readonly tls: UpstreamTls | null;
}

interface Declared {
  readonly url: URL;
  readonly weight: number;
  /** The host name to resolve, null for an IP address. */
  readonly name: string | null;
}

interface DeclaredSrv {
  readonly service: string;
  readonly scheme: SrvScheme;
}

interface Built {
  readonly targets: Target[];
  /** Priority of each target (all 0 without SRV). */
  readonly priorities: number[];
}

export function buildUpstream(o: UpstreamOptions): Upstream {
  const declared: Declared[] = [];
  const services: DeclaredSrv[] = [];
  for (const t of o.targets) {
    if ('srv' in t) {
      services.push({ service: t.srv.toLowerCase().replace(/\.$/, ''), scheme: t.scheme ?? 'http' });
      continue;
    }
    const url = new URL(t.url);
    const bare = url.hostname.replace(/^\[|\]$/g, '');
    declared.push({ url, weight: t.weight ?? 1, name: isIP(bare) === 0 ? bare.toLowerCase() : null });
  }
  const rttDecayMs = rttDecayOf(o.balancer);
  const target = (origin: string, hostname: string, port: number, weight: number, hostHeader: string | null, servername: string | undefined): Target => {
    const pool = o.pools.acquire(origin, { connectTimeoutMs: o.connectTimeoutMs, servername, tls: o.tls });
    o.usedPools.add(pool);
    // An H2Pool (grpc targets) offers undici's dispatch(opts, handler), all forward.ts uses.
    return { url: origin, origin, hostname, port, weight, dispatcher: pool as Dispatcher, health: o.health.get(o.name, origin), rttDecayMs, hostHeader };
  };
  const build = (answers: DnsAnswers): Built => {
    const out: Built = { targets: [], priorities: [] };
    const push = (t: Target, priority: number) => {
      out.targets.push(t);
      out.priorities.push(priority);
    };
    for (const d of declared) {
      const u = d.url;
      const secure = u.protocol === 'https:' || u.protocol === 'grpcs:';
      const port = Number(u.port || (secure ? 443 : 80));
      const resolved = d.name === null ? undefined : answers.addresses(d.name);
      if (resolved === undefined || resolved.length === 0) {
        // An IP address, or a name not resolved yet: undici connects to it as written.
        // (URL has no origin for grpc://, not a special scheme: scheme://host[:port] by hand.)
        push(target(`${u.protocol}//${u.host}`, u.hostname, port, d.weight, null, undefined), 0);
        continue;
      }
      for (const a of resolved) {
        const host = isIP(a) === 6 ? `[${a}]` : a;
        push(target(`${u.protocol}//${host}:${port}`, host, port, d.weight, u.host, secure ? d.name! : undefined), 0);
      }
    }
    for (const s of services) {
      const records = answers.srv(s.service) ?? [];
      const secure = s.scheme === 'https' || s.scheme === 'grpcs';
      for (const r of records) {
        // A record whose host name has no address yet gives no target (yet): there is nothing to dial.
        const addresses = isIP(r.name) !== 0 ? [r.name] : (answers.addresses(r.name) ?? []);
        const weight = srvWeight(r, records);
        const nameHost = isIP(r.name) === 6 ? `[${r.name}]` : r.name;
        for (const a of addresses) {
          const host = isIP(a) === 6 ? `[${a}]` : a;
          push(target(`${s.scheme}://${host}:${r.port}`, host, r.port, weight, `${nameHost}:${r.port}`, secure && isIP(r.name) === 0 ? r.name : undefined), r.priority);
        }
      }
    }
    return out;
  };
  const balance = (b: Built): Balancer => {
    const levels = [...new Set(b.priorities)].sort((x, y) => x - y);
    if (levels.length <= 1) return createBalancer(o.balancer, b.targets);
    return new PriorityGroups(levels.map((p) => createBalancer(o.balancer, b.targets.filter((_t, i) => b.priorities[i] === p))));
  };
  const first = build(o.answers);
  const names = [...new Set(declared.flatMap((d) => (d.name === null ? [] : [d.name])))];
  const serviceNames = [...new Set(services.map((s) => s.service))];
  let current = first.priorities;
  const upstream: Upstream = {
    name: o.name,
    targets: first.targets,
    balancer: balance(first),
    outlier: o.outlier,
    activeCheck: o.activeCheck,
    dns:
      names.length === 0 && serviceNames.length === 0
        ? null
        : {
            names,
            services: serviceNames,
            apply(answers) {
              const next = build(answers);
              const key = (ts: readonly Target[], ps: readonly number[]) => ts.map((t, i) => `${ps[i]}/${t.weight}/${t.url}`).join(' ');
              if (key(next.targets, next.priorities) === key(upstream.targets, current)) return false;
              upstream.targets = next.targets;
              upstream.balancer = balance(next);
              current = next.priorities;
              return true;
            },
          },
  };
  return upstream;
}

/**
 * A record's weight among those of its priority (RFC 2782): proportional; weight 0 gets a
 * very small share (1 against 100 per unit of weight) beside positive weights, and an equal
 * share when every record of the priority has weight 0.
 */
function srvWeight(r: SrvRecord, records: readonly SrvRecord[]): number {
  const peers = records.filter((x) => x.priority === r.priority);
  const zero = peers.some((x) => x.weight === 0);
  if (!zero) return r.weight;
  if (peers.every((x) => x.weight === 0)) return 1;
  return r.weight === 0 ? 1 : r.weight * 100;
}
