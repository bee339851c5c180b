// Loads a config for the read-only commands (routes, explain) exactly as start would.
import { buildSnapshot, loadConfig } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import type { Snapshot } from '../compiler/snapshot.js';
import type { RouteEntry } from '../proxy/route.js';
import { defaultRegistry } from '../plugins/index.js';
import { describePattern } from '../router/router.js';
import { PoolRegistry } from '../upstream/pools.js';

export async function withSnapshot(file: string, fn: (s: Snapshot) => number): Promise<number> {
  const registry = defaultRegistry();
  let snapshot: Snapshot;
  const pools = new PoolRegistry();
  try {
    snapshot = buildSnapshot(await loadConfig(file, registry), registry, pools, 1, file).snapshot;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.lines().join('\n') + '\n');
      return 2;
    }
    throw err;
  }
  try {
    return fn(snapshot);
  } finally {
    snapshot.dispose();
    await pools.closeAll();
  }
}

export function describeEntry(e: RouteEntry): string {
  const r = e.route;
  const parts = [`host=${e.host ?? '*'}`, describePattern(e)];
  if (r.methods) parts.push(`methods=${[...r.methods].join(',')}`);
  if (r.headers) parts.push(`headers=${r.headers.map(([n, v]) => `${n}:${v.join('|')}`).join(';')}`);
  if (r.query) parts.push(`query=${r.query.map((c) => `${c.name}=${c.value}`).join('&')}`);
  if (r.priority !== 0) parts.push(`priority=${r.priority}`);
  return parts.join(' ');
}

export function pluginList(e: RouteEntry): string {
  const list = e.route.chain.entries.map((c) => `${c.plugin.name}(${c.plugin.priority}, ${c.scope})`);
  return list.length === 0 ? '-' : list.join(' > ');
}
