// DNS for targets named by host name: each name is resolved in the background (A and AAAA
// through a node:dns Resolver with TTLs), cached, and re-resolved before its TTL runs out —
// never on the request path. Names only the hosts file knows (`localhost`, or a name the
// DNS servers answer with "no such name/no data") fall back to dns.lookup with every
// address and `hosts_ttl`. On failure the last good addresses stay and the failure is
// logged; a changed address set rebuilds the upstreams that use the name (their targets'
// health, kept by address, survives).
// SRV services (`targets: [{ srv }]`) follow the same rules: queried in the background,
// re-queried at their TTL (bounded by min_ttl/max_ttl), the last good answer kept on failure;
// the host names their records point to are resolved as above. An empty answer (no such
// name, no record, or the "." target) is the service's word: the upstream has no target
// from it until an answer names some.
import { dnsResolveChannel } from '../base/events.js';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { querySrv, type SrvRecord } from './srv-query.js';
import type { DnsAnswers, Upstream } from './upstream.js';
import type { Logger } from '../base/logger.js';

export interface DnsPolicy {
  /** "host:port" of the DNS servers; null: the system's (/etc/resolv.conf). */
  readonly servers: readonly string[] | null;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  /** TTL given to addresses from the hosts file (dns.lookup has none). */
  readonly hostsTtlMs: number;
  /** Wait before trying again after a failed resolution. */
  readonly errorRetryMs: number;
}

export const DNS_DEFAULTS = { timeout: '2s', attempts: 2, minTtl: '1s', maxTtl: '1h', hostsTtl: '1m', errorRetry: '5s' } as const;


/** Share of the TTL after which a name is re-resolved, so fresh addresses are there before the old ones expire. */
const REFRESH_AT = 0.9;
const NO_NAME = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

interface Entry {
  readonly name: string;
  addresses: readonly string[] | undefined;
  timer: NodeJS.Timeout | null;
  pending: Promise<void> | null;
}

interface SrvEntry {
  readonly service: string;
  records: readonly SrvRecord[] | undefined;
  timer: NodeJS.Timeout | null;
  pending: Promise<void> | null;
}

/** At most this many rounds of "answers name more names" before settled() returns. */
const SETTLE_ROUNDS = 3;

export class DnsResolver implements DnsAnswers {
  readonly #logger: Logger;
  readonly #onChange: () => void;
  readonly #entries = new Map<string, Entry>();
  readonly #services = new Map<string, SrvEntry>();
  #policy: DnsPolicy | null = null;
  #resolver: Resolver | null = null;
  #upstreams: Upstream[] = [];
  #stopped = false;

  constructor(logger: Logger, onChange: () => void) {
    this.#logger = logger;
    this.#onChange = onChange;
  }

  /** The last good addresses of a name (what compile and DNS updates build targets from). */
  readonly addresses = (name: string): readonly string[] | undefined => this.#entries.get(name)?.addresses;

  /** The last good records of an SRV service, undefined while it has never been answered. */
  readonly srv = (service: string): readonly SrvRecord[] | undefined => this.#services.get(service)?.records;

  configure(policy: DnsPolicy): void {
    if (this.#policy !== null && JSON.stringify(this.#policy) === JSON.stringify(policy)) return;
    this.#policy = policy;
    const r = new Resolver({ timeout: policy.timeoutMs, tries: policy.attempts });
    if (policy.servers !== null) r.setServers([...policy.servers]);
    this.#resolver = r;
  }

  /** The upstreams of the live snapshot: resolve their new names and services, forget the ones no one uses. */
  track(upstreams: Iterable<Upstream>): void {
    this.#upstreams = [...upstreams].filter((u) => u.dns !== null);
    const services = new Set(this.#upstreams.flatMap((u) => u.dns!.services));
    for (const [service, e] of this.#services) {
      if (services.has(service)) continue;
      if (e.timer !== null) clearTimeout(e.timer);
      this.#services.delete(service);
    }
    for (const service of services) {
      if (this.#services.has(service)) continue;
      const e: SrvEntry = { service, records: undefined, timer: null, pending: null };
      this.#services.set(service, e);
      this.#refreshSrv(e);
    }
    this.#syncNames();
  }

  /** Resolves once every name and service has had its first answer (or failure), and so have the names those answers gave. */
  async settled(): Promise<void> {
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      const pending = [...this.#entries.values(), ...this.#services.values()].flatMap((e) => (e.pending === null ? [] : [e.pending]));
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /** The declared names, and the SRV records' target names: start the new ones, forget the unused. */
  #syncNames(): void {
    const names = new Set(this.#upstreams.flatMap((u) => u.dns!.names));
    for (const e of this.#services.values()) for (const r of e.records ?? []) if (isIP(r.name) === 0) names.add(r.name);
    for (const [name, e] of this.#entries) {
      if (names.has(name)) continue;
      if (e.timer !== null) clearTimeout(e.timer);
      this.#entries.delete(name);
    }
    for (const name of names) {
      if (this.#entries.has(name)) continue;
      const e: Entry = { name, addresses: undefined, timer: null, pending: null };
      this.#entries.set(name, e);
      this.#refresh(e);
    }
  }

  /** Rebuilds the upstreams that `uses` says depend on what changed. */
  #rebuild(uses: (u: Upstream) => boolean): void {
    let rebuilt = false;
    for (const u of this.#upstreams) if (uses(u) && u.dns!.apply(this)) rebuilt = true;
    if (rebuilt) this.#onChange();
  }

  stop(): void {
    this.#stopped = true;
    for (const e of [...this.#entries.values(), ...this.#services.values()]) if (e.timer !== null) clearTimeout(e.timer);
    this.#entries.clear();
    this.#services.clear();
  }

  #refresh(e: Entry): void {
    e.timer = null;
    e.pending = this.#resolve(e.name).then(
      (r) => this.#apply(e, r.addresses, r.ttlMs, r.source),
      (err: unknown) => this.#failed(e, err),
    );
  }

  #schedule(e: Entry, ms: number): void {
    if (this.#stopped || this.#entries.get(e.name) !== e) return;
    e.timer = setTimeout(() => this.#refresh(e), ms);
    e.timer.unref();
  }

  #apply(e: Entry, found: string[], ttlMs: number, source: 'dns' | 'hosts'): void {
    e.pending = null;
    if (this.#entries.get(e.name) !== e) return;
    const addresses = [...new Set(found)].sort();
    const changed = e.addresses === undefined || e.addresses.join(' ') !== addresses.join(' ');
    e.addresses = addresses;
    if (changed) {
      this.#rebuild((u) => u.dns!.names.includes(e.name) || u.dns!.services.some((s) => this.srv(s)?.some((r) => r.name === e.name) === true));
      this.#logger.info({ type: 'dns', name: e.name, addresses, ttl_ms: ttlMs, source }, 'target addresses resolved');
    }
    if (dnsResolveChannel.hasSubscribers) dnsResolveChannel.publish({ name: e.name, addresses, ttlMs, source, changed, error: null });
    this.#schedule(e, Math.max(1, Math.round(ttlMs * REFRESH_AT)));
  }

  #failed(e: Entry, err: unknown): void {
    e.pending = null;
    if (this.#entries.get(e.name) !== e) return;
    const message = (err as Error).message ?? String(err);
    this.#logger.warn({ type: 'dns', name: e.name, err: message, kept: e.addresses ?? [] }, 'could not resolve target host name; keeping the last good addresses');
    if (dnsResolveChannel.hasSubscribers) dnsResolveChannel.publish({ name: e.name, addresses: e.addresses ?? [], ttlMs: 0, source: 'dns', changed: false, error: message });
    this.#schedule(e, this.#policy!.errorRetryMs);
  }

  #refreshSrv(e: SrvEntry): void {
    e.timer = null;
    const p = this.#policy!;
    e.pending = querySrv(e.service, { servers: p.servers, timeoutMs: p.timeoutMs, attempts: p.attempts }).then(
      (answer) => this.#applySrv(e, answer.records, Math.min(p.maxTtlMs, Math.max(p.minTtlMs, answer.ttlMs ?? p.minTtlMs))),
      (err: unknown) => this.#failedSrv(e, err),
    );
  }

  #scheduleSrv(e: SrvEntry, ms: number): void {
    if (this.#stopped || this.#services.get(e.service) !== e) return;
    e.timer = setTimeout(() => this.#refreshSrv(e), ms);
    e.timer.unref();
  }

  #applySrv(e: SrvEntry, found: SrvRecord[], ttlMs: number): void {
    e.pending = null;
    if (this.#services.get(e.service) !== e) return;
    const key = (rs: readonly SrvRecord[]) => rs.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`).join(',');
    const records = [...found].sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name) || a.port - b.port);
    const changed = e.records === undefined || key(e.records) !== key(records);
    e.records = records;
    const shown = records.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`);
    const done = () => {
      if (changed) {
        this.#rebuild((u) => u.dns!.services.includes(e.service));
        if (records.length === 0) this.#logger.warn({ type: 'dns', service: e.service, ttl_ms: ttlMs }, 'SRV answer is empty; the upstream has no target from this service');
        else this.#logger.info({ type: 'dns', service: e.service, records: shown, ttl_ms: ttlMs }, 'SRV records resolved');
      }
      if (dnsResolveChannel.hasSubscribers) dnsResolveChannel.publish({ name: e.service, addresses: shown, ttlMs, source: 'srv', changed, error: null });
      this.#scheduleSrv(e, Math.max(1, Math.round(ttlMs * REFRESH_AT)));
    };
    if (!changed) return done();
    this.#syncNames();
    // Host names new to this answer get their first answer before the upstream is rebuilt
    // without the records that left, so it never goes through a moment with no target.
    const first = records.flatMap((r) => {
      const n = this.#entries.get(r.name);
      return n !== undefined && n.addresses === undefined && n.pending !== null ? [n.pending] : [];
    });
    if (first.length === 0) return done();
    e.pending = Promise.all(first).then(() => {
      e.pending = null;
      if (this.#services.get(e.service) === e) done();
    });
  }

  #failedSrv(e: SrvEntry, err: unknown): void {
    e.pending = null;
    if (this.#services.get(e.service) !== e) return;
    const message = (err as Error).message ?? String(err);
    const kept = (e.records ?? []).map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`);
    this.#logger.warn({ type: 'dns', service: e.service, err: message, kept }, 'could not resolve SRV service; keeping the last good records');
    if (dnsResolveChannel.hasSubscribers) dnsResolveChannel.publish({ name: e.service, addresses: kept, ttlMs: 0, source: 'srv', changed: false, error: message });
    this.#scheduleSrv(e, this.#policy!.errorRetryMs);
  }

  async #resolve(name: string): Promise<{ addresses: string[]; ttlMs: number; source: 'dns' | 'hosts' }> {
    const p = this.#policy!;
    if (name === 'localhost' || name.endsWith('.localhost')) return this.#hosts(name);
    const r = this.#resolver!;
    const [a, aaaa] = await Promise.allSettled([r.resolve4(name, { ttl: true }), r.resolve6(name, { ttl: true })]);
    const records = [...(a.status === 'fulfilled' ? a.value : []), ...(aaaa.status === 'fulfilled' ? aaaa.value : [])];
    if (records.length > 0) {
      const ttl = Math.min(...records.map((x) => x.ttl)) * 1000;
      return { addresses: records.map((x) => x.address), ttlMs: Math.min(p.maxTtlMs, Math.max(p.minTtlMs, ttl)), source: 'dns' };
    }
    // The servers said the name does not exist (or has no address): the hosts file may know it.
    const noName = (s: PromiseSettledResult<unknown>) => s.status === 'fulfilled' || NO_NAME.has((s.reason as { code?: string }).code ?? '');
    if (noName(a) && noName(aaaa)) return this.#hosts(name);
    throw a.status === 'rejected' ? a.reason : (aaaa as PromiseRejectedResult).reason;
  }

  async #hosts(name: string): Promise<{ addresses: string[]; ttlMs: number; source: 'hosts' }> {
    const found = await lookup(name, { all: true, verbatim: true });
    if (found.length === 0) throw Object.assign(new Error(`${name}: no address`), { code: 'ENOTFOUND' });
    return { addresses: found.map((f) => f.address), ttlMs: this.#policy!.hostsTtlMs, source: 'hosts' };
  }
}
