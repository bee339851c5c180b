// Consistent hashing with a Maglev lookup table (Eisenbud et al., NSDI 2016), built once per
// target set at compile time (or when DNS changes the set). Maglev rather than a ring with
// virtual nodes: lookup is one array read (a ring is a binary search over N × vnodes
// points), the load per target is even to within a few percent by construction (a ring needs
// hundreds of vnodes per target to get close), and removing one of N targets moves about
// 1/N of the keys — slightly more than a perfect ring, which the tests bound.
import type { Target } from '../target.js';
import type { BalanceKey } from '../balancer.js';
import { RoundRobin, usable } from './round-robin.js';

export type HashOn = 'header' | 'cookie' | 'ip' | 'consumer' | 'path' | 'query_arg';

/** 32-bit FNV-1a over UTF-16 code units, finished with murmur3's avalanche (FNV alone clusters in the low bits). */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The Maglev table: entry → target index. Each target walks its own permutation of the
 * table (offset + k·skip mod M) and claims the first free entry, in turns; a target of weight
 * w takes a turn in w/max_weight of the rounds (Envoy's weighted variant).
 */
export function buildMaglevTable(keys: readonly string[], weights: readonly number[], size: number): Int32Array {
  const n = keys.length;
  const table = new Int32Array(size).fill(-1);
  if (n === 0) return table;
  const offset = keys.map((k) => hash32(k, 0x9747b28c) % size);
  const skip = keys.map((k) => (hash32(k, 0x5bd1e995) % (size - 1)) + 1);
  const next = new Array<number>(n).fill(0);
  const turn = new Array<number>(n).fill(0);
  const maxWeight = Math.max(...weights);
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let i = 0; i < n && filled < size; i++) {
      if (round * weights[i]! < turn[i]!) continue;
      turn[i]! += maxWeight;
      let c = (offset[i]! + skip[i]! * next[i]!) % size;
      while (table[c] !== -1) {
        next[i]!++;
        c = (offset[i]! + skip[i]! * next[i]!) % size;
      }
      table[c] = i;
      next[i]!++;
      filled++;
    }
  }
  return table;
}

type KeyOf = (ctx: BalanceKey) => string | undefined;

function keyReader(hashOn: HashOn, name: string): KeyOf {
  const lower = name.toLowerCase();
  switch (hashOn) {
    case 'header':
      return (ctx) => ctx.header(lower);
    case 'cookie':
      return (ctx) => cookieValue(ctx.header('cookie'), name);
    case 'ip':
      return (ctx) => ctx.clientIp || undefined;
    case 'consumer':
      return (ctx) => ctx.consumer?.id;
    case 'path':
      return (ctx) => ctx.path;
    case 'query_arg':
      return (ctx) => queryArg(ctx.query, name);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function queryArg(query: string, name: string): string | undefined {
  if (query.length < 2) return undefined;
  for (const pair of query.slice(1).split('&')) {
    const eq = pair.indexOf('=');
    const k = eq === -1 ? pair : pair.slice(0, eq);
    if (safeDecode(k) === name) return eq === -1 ? '' : safeDecode(pair.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(s: string): string {
  if (!s.includes('%') && !s.includes('+')) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * Same key → same target while the target set is stable. An unavailable (or already tried)
 * target is skipped for the next entry of the table that is usable, so a key's traffic moves
 * only while its target is down. A request without a key (header, cookie, … missing or
 * empty) is spread round-robin.
 */
export class ConsistentHash {
  readonly #targets: readonly Target[];
  readonly #table: Int32Array;
  readonly #keyOf: KeyOf;
  readonly #fallback: RoundRobin;

  constructor(targets: readonly Target[], hashOn: HashOn, name: string, tableSize: number) {
    this.#targets = targets;
    this.#table = buildMaglevTable(
      targets.map((t) => t.url),
      targets.map((t) => t.weight),
      tableSize,
    );
    this.#keyOf = keyReader(hashOn, name);
    this.#fallback = new RoundRobin(targets);
  }

  pick(now: number, exclude: readonly Target[] | null, ctx: BalanceKey | null): Target | null {
    const key = ctx === null ? undefined : this.#keyOf(ctx);
    if (key === undefined || key === '') return this.#fallback.pick(now, exclude);
    return this.pickKey(key, now, exclude);
  }

  pickKey(key: string, now: number, exclude: readonly Target[] | null): Target | null {
    const table = this.#table;
    const targets = this.#targets;
    const size = table.length;
    let at = hash32(key) % size;
    const first = targets[table[at]!]!;
    if (usable(first, now, exclude)) return first;
    if (!targets.some((t) => usable(t, now, exclude))) return null;
    for (let k = 1; k < size; k++) {
      at = at + 1 === size ? 0 : at + 1;
      const t = targets[table[at]!]!;
      if (usable(t, now, exclude)) return t;
    }
    return null;
  }
}
