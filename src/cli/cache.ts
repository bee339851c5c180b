// `northgate cache purge --tag T | --path P`: purges the caches a config file declares.
// Redis caches are purged in Redis directly (every gateway sharing it sees the purge); memory
// caches through the running gateway's status listener (POST /cache/purge, loopback only).
import { parseAddress } from '../base/address.js';
import { loadConfig } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import type { RawConfig } from '../config/types.js';
import { defaultRegistry } from '../plugins/index.js';
import { parsePurge } from '../plugins/cache/purge-endpoint.js';
import { cacheConfigs, purgeCaches } from '../plugins/cache/purge.js';
import type { PurgeRequest } from '../plugins/cache/store.js';
import { parse, UsageError } from './args.js';

const HELP = `Usage: northgate cache purge (--tag TAG | --path PATH)... [--config FILE] [--status URL]

Removes cached responses: by tag (the upstream's Surrogate-Key header) and/or by request
path (every query string, host and variant of it). Both flags may be repeated.

  --config FILE   the gateway's config (default ./northgate.yaml): its cache plugins say
                  where the caches are
  --status URL    the running gateway's status listener for memory caches
                  (default: listen.status of the config, e.g. http://127.0.0.1:8100)

Redis caches are purged in Redis; memory caches by POST /cache/purge on the status listener
(it accepts loopback peers only). Exits 0 when every cache was purged, 1 otherwise.
`;

export async function cacheCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'purge') throw new UsageError(`unknown cache command "${sub}"; see northgate cache --help`);
  const { values } = parse('cache purge', rest, {
    tag: { type: 'string', multiple: true },
    path: { type: 'string', multiple: true },
    config: { type: 'string', short: 'c' },
    status: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const req = parsePurge({ tags: values.tag ?? [], paths: values.path ?? [] });
  if (typeof req === 'string') throw new UsageError(`cache purge: ${req.replace('give at least one tag or path', 'give --tag or --path')}`);
  let raw: RawConfig;
  try {
    raw = await loadConfig(values.config ?? 'northgate.yaml', defaultRegistry());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.lines().join('\n') + '\n');
      return 2;
    }
    throw err;
  }
  if (cacheConfigs(raw).length === 0) {
    process.stderr.write('northgate: the config has no cache plugin: nothing to purge\n');
    return 1;
  }
  const report = await purgeCaches(raw, req, (r) => purgeGateway(values.status ?? statusUrl(raw), r));
  for (const r of report.redis) {
    if (r.error !== undefined) process.stderr.write(`northgate: could not purge redis ${r.url}: ${r.error}\n`);
    else process.stdout.write(`redis ${r.url} (${r.prefix}): purged ${r.purged}\n`);
  }
  if (report.memory !== null) {
    if ('error' in report.memory) process.stderr.write(`northgate: ${report.memory.error}\n`);
    else process.stdout.write(`gateway memory caches: purged ${report.memory.purged}\n`);
  }
  const total = report.purged;
  process.stdout.write(`purged ${total} entr${total === 1 ? 'y' : 'ies'}\n`);
  const ok = report.redis.every((r) => r.error === undefined) && (report.memory === null || !('error' in report.memory));
  return ok ? 0 : 1;
}

function statusUrl(raw: RawConfig): string | null {
  const s = raw.listen?.status;
  if (s === null) return null;
  const a = parseAddress(s ?? '127.0.0.1:8100');
  if (typeof a === 'string') return null;
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

async function purgeGateway(base: string | null, req: PurgeRequest): Promise<number | string> {
  if (base === null) return 'memory caches need the status listener (listen.status is off); pass --status URL';
  try {
    const res = await fetch(new URL('/cache/purge', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (!res.ok) return `the gateway at ${base} answered ${res.status}: ${text}`;
    return (JSON.parse(text) as { purged: number }).purged;
  } catch (err) {
    return `could not reach the gateway's status listener at ${base}: ${(err as Error).message}`;
  }
}
