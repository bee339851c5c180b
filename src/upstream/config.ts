// The upstream section's own config: cross-field checks (run by validate) and the compile
// step from raw YAML values to the balancer spec, active-check policy and DNS policy.
import { isIP } from 'node:net';
import { parseDuration } from '../base/duration.js';
import type { RawActiveCheck, RawBalancer, RawDns, RawUpstream } from '../config/types.js';
import { ACTIVE_DEFAULTS, type ActiveCheckPolicy } from './active-health.js';
import { DEFAULT_DECAY_MS, MAGLEV_TABLE_SIZE, ROUND_ROBIN, type BalancerSpec } from './balancer.js';
import { DNS_DEFAULTS, type DnsPolicy } from './dns.js';

type Add = (path: Array<string | number>, message: string) => void;

export function checkUpstreamConfig(u: RawUpstream, at: Array<string | number>, add: Add): void {
  const b = u.balancer;
  if (typeof b === 'object') {
    const bat = [...at, 'balancer'];
    if (b.algorithm === 'consistent-hash') {
      if (b.hash_on === undefined) add(bat, 'consistent-hash needs "hash_on" (header, cookie, ip, consumer, path or query_arg)');
      else if ((b.hash_on === 'header' || b.hash_on === 'cookie' || b.hash_on === 'query_arg') && b.name === undefined) add(bat, `hash_on ${b.hash_on} needs "name" (which ${b.hash_on.replace('_', ' ')} to hash)`);
      else if (b.hash_on !== 'header' && b.hash_on !== 'cookie' && b.hash_on !== 'query_arg' && b.name !== undefined) add([...bat, 'name'], `hash_on ${b.hash_on} takes no "name"`);
    } else {
      for (const k of ['hash_on', 'name', 'table_size'] as const) if (b[k] !== undefined) add([...bat, k], `"${k}" applies to consistent-hash only`);
    }
    if (b.decay !== undefined && b.algorithm !== 'random-two-choices') add([...bat, 'decay'], '"decay" applies to random-two-choices only');
    if (b.table_size !== undefined && !isPrime(b.table_size)) add([...bat, 'table_size'], 'must be a prime number (Maglev needs a prime table size), such as 65537');
  } else if (b === 'consistent-hash') {
    add([...at, 'balancer'], 'consistent-hash needs options: { algorithm: consistent-hash, hash_on: header, name: x-user-id }');
  }
  const a = u.healthcheck?.active;
  if (a !== undefined) {
    const interval = parseDuration(a.interval ?? ACTIVE_DEFAULTS.interval)!;
    const timeout = parseDuration(a.timeout ?? ACTIVE_DEFAULTS.timeout)!;
    if (interval < 100) add([...at, 'healthcheck', 'active', 'interval'], 'must be at least 100ms');
    if (timeout < 1 || timeout > interval) add([...at, 'healthcheck', 'active', 'timeout'], 'must be positive and at most the interval');
  }
}

export function checkDnsConfig(d: RawDns | undefined, add: Add): void {
  if (d === undefined) return;
  (d.servers ?? []).forEach((s, i) => {
    if (parseServer(s) === null) add(['dns', 'servers', i], `"${s}" is not an IP address with an optional port ("127.0.0.1:53", "[::1]:5353")`);
  });
  const min = parseDuration(d.min_ttl ?? DNS_DEFAULTS.minTtl)!;
  const max = parseDuration(d.max_ttl ?? DNS_DEFAULTS.maxTtl)!;
  if (min < 100) add(['dns', 'min_ttl'], 'must be at least 100ms');
  if (max < min) add(['dns', 'max_ttl'], 'must be at least min_ttl');
}

function parseServer(s: string): string | null {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  if (m !== null && isIP(m[1]!) !== 0 && (m[2] === undefined || Number(m[2]) <= 65535)) return s;
  return isIP(s) === 6 ? s : null;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

export function balancerSpec(u: RawUpstream): BalancerSpec {
  const b = u.balancer;
  if (b === undefined) return ROUND_ROBIN;
  const algorithm = typeof b === 'string' ? b : b.algorithm;
  const o: Partial<RawBalancer> = typeof b === 'string' ? {} : b;
  switch (algorithm) {
    case 'round-robin':
      return ROUND_ROBIN;
    case 'least-connections':
      return { kind: 'least-connections' };
    case 'random-two-choices':
      return { kind: 'random-two-choices', decayMs: o.decay === undefined ? DEFAULT_DECAY_MS : Math.max(1, parseDuration(o.decay)!) };
    case 'consistent-hash':
      return { kind: 'consistent-hash', hashOn: o.hash_on ?? 'ip', name: o.name ?? '', tableSize: o.table_size ?? MAGLEV_TABLE_SIZE };
  }
}

export function activeCheckPolicy(a: RawActiveCheck | undefined): ActiveCheckPolicy | null {
  if (a === undefined) return null;
  const d = ACTIVE_DEFAULTS;
  const policy = {
    path: a.path ?? d.path,
    intervalMs: parseDuration(a.interval ?? d.interval)!,
    timeoutMs: parseDuration(a.timeout ?? d.timeout)!,
    concurrency: a.concurrency ?? d.concurrency,
    host: a.host ?? null,
    healthy: { successes: a.healthy?.successes ?? d.successes, statuses: new Set(a.healthy?.statuses ?? d.healthyStatuses) },
    unhealthy: { failures: a.unhealthy?.failures ?? d.failures, timeouts: a.unhealthy?.timeouts ?? d.timeouts, statuses: new Set(a.unhealthy?.statuses ?? d.unhealthyStatuses) },
  };
  const signature = JSON.stringify(policy, (_k, v: unknown) => (v instanceof Set ? [...(v as Set<number>)] : v));
  return { ...policy, signature };
}

export function dnsPolicy(d: RawDns | undefined): DnsPolicy {
  const D = DNS_DEFAULTS;
  return {
    servers: d?.servers ?? null,
    timeoutMs: parseDuration(d?.timeout ?? D.timeout)!,
    attempts: d?.attempts ?? D.attempts,
    minTtlMs: parseDuration(d?.min_ttl ?? D.minTtl)!,
    maxTtlMs: parseDuration(d?.max_ttl ?? D.maxTtl)!,
    hostsTtlMs: parseDuration(d?.hosts_ttl ?? D.hostsTtl)!,
    errorRetryMs: parseDuration(d?.error_retry ?? D.errorRetry)!,
  };
}
