// The `metering:` section: where usage rows go and how often they are flushed.
import { dirname, isAbsolute, resolve } from 'node:path';
import { DURATION_PATTERN, parseDuration } from '../base/duration.js';
import type { RawMetering } from '../config/types.js';
import type { ConnectionOptions } from 'node:tls';
import { compileUpstreamTls } from '../upstream/tls.js';

export const meteringSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    store: { type: 'string', minLength: 1, 'x-message': 'must be a SQLite file path (optionally "sqlite:PATH") or a postgres:// URL' },
    table: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', 'x-message': 'must be a lower-case SQL identifier' },
    flush_interval: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 5s' },
    max_rows: { type: 'integer', minimum: 100, maximum: 10_000_000 },
    export: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https?://', 'x-message': 'must be an http:// or https:// URL' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        interval: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 5m' },
        lookback: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 24h' },
        timeout: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 10s' },
        tls: {
          type: 'object',
          additionalProperties: false,
          properties: { ca: { type: 'string', minLength: 1 }, servername: { type: 'string', minLength: 1 }, client_cert: { type: 'string', minLength: 1 }, client_key: { type: 'string', minLength: 1 }, verify: { type: 'boolean' } },
        },
      },
    },
  },
};

/** `metering.export`: the scheduled push of closed hourly buckets (export.ts). */
export interface UsageExportSettings {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly intervalMs: number;
  readonly lookbackMs: number;
  readonly timeoutMs: number;
  readonly tls: ConnectionOptions | null;
}

export type StoreSpec = { kind: 'sqlite'; path: string; table: string } | { kind: 'postgres'; url: string; table: string };

export interface MeteringSettings {
  readonly store: StoreSpec;
  readonly flushIntervalMs: number;
  /** Aggregated rows held in memory at most (pending a flush, or while the store is away). */
  readonly maxRows: number;
  /** The scheduled push of closed hours (absent: none). */
  readonly export?: UsageExportSettings;
}

export const METERING_DEFAULTS = { store: 'northgate-metering.sqlite', table: 'northgate_usage', flushInterval: '5s', maxRows: 100_000 } as const;

/** "postgres://..." is PostgreSQL; anything else is a SQLite file ("sqlite:" prefix optional), relative to the working directory. */
export function parseStore(text: string, table: string = METERING_DEFAULTS.table): StoreSpec {
  if (/^postgres(ql)?:\/\//.test(text)) return { kind: 'postgres', url: text, table };
  const path = text.startsWith('sqlite:') ? text.slice('sqlite:'.length) : text;
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(path), table };
}

export function meteringSettings(raw: RawMetering | undefined): MeteringSettings | null {
  if (raw === undefined || raw.enabled === false) return null;
  return {
    store: parseStore(raw.store ?? METERING_DEFAULTS.store, raw.table ?? METERING_DEFAULTS.table),
    flushIntervalMs: parseDuration(raw.flush_interval ?? METERING_DEFAULTS.flushInterval)!,
    maxRows: raw.max_rows ?? METERING_DEFAULTS.maxRows,
    ...(raw.export === undefined
      ? {}
      : {
          export: {
            url: raw.export.url,
            headers: raw.export.headers ?? {},
            intervalMs: parseDuration(raw.export.interval ?? '5m')!,
            lookbackMs: parseDuration(raw.export.lookback ?? '24h')!,
            timeoutMs: parseDuration(raw.export.timeout ?? '10s')!,
            tls: raw.export.tls === undefined ? null : compileUpstreamTls(raw.export.tls)!.connect,
          },
        }),
  };
}

/**
 * The metering a gateway runs: the `metering:` section when there is one (`enabled: false`
 * turns it off). Without one, a config with the portal on meters into the default SQLite
 * file next to the config file (the working directory without one), like the portal's own
 * store: the portal's usage pages read the metering data, one source of truth for every
 * worker and for `northgate usage --config`.
 */
export function effectiveMetering(config: { metering?: RawMetering; portal?: unknown; listen?: unknown }, configFile: string | null): MeteringSettings | null {
  if (config.metering !== undefined) return meteringSettings(config.metering);
  const portalListen = (config.listen as { portal?: string | null } | undefined)?.portal;
  if (config.portal === undefined || portalListen === null) return null;
  const base = configFile === null ? process.cwd() : dirname(resolve(configFile));
  return meteringSettings({ store: resolve(base, METERING_DEFAULTS.store) });
}
