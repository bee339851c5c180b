import { DURATION_PATTERN, parseDuration } from '../../base/duration.js';
import { didYouMean } from '../../base/problems.js';
import type { CheckEnvironment } from '../../sdk/plugin.js';

/** The keys of one mirror: where its copies go and their bounds. */
const mirrorProperties = {
  /** The mirror's origin: requests keep their path and query (as the upstream gets them). */
  url: { type: 'string', pattern: '^https?://[^/?#@\\s]+/?$', 'x-message': 'must be an http:// or https:// origin (scheme, host, optional port; no path, query or credentials)' },
  /** Or one of `upstreams[]` by name: its targets, through its balancer and health. */
  upstream: { type: 'string', minLength: 1 },
  percent: { type: 'number', minimum: 0, maximum: 100 },
  max_body_bytes: { type: 'integer', minimum: 0, maximum: 16_777_216 },
  /** What a request with a larger body sends the mirror: its head alone, or nothing. */
  larger_bodies: { enum: ['head', 'skip'] },
  max_in_flight: { type: 'integer', minimum: 1, maximum: 10_000 },
  timeout: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 500ms or 2s' },
};

/** Mirrors of one route at most (the Gateway API allows 16 filters on a rule). */
export const MAX_MIRRORS = 16;

export const requestMirrorSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...mirrorProperties,
    /** Several mirrors, each with its own destination and share; the keys above are their defaults. */
    mirrors: { type: 'array', minItems: 1, maxItems: MAX_MIRRORS, items: { type: 'object', additionalProperties: false, properties: mirrorProperties } },
  },
};

/** One mirror: the single form, or an item of `mirrors`. */
export interface MirrorConfig {
  url?: string;
  upstream?: string;
  percent?: number;
  max_body_bytes?: number;
  larger_bodies?: 'head' | 'skip';
  max_in_flight?: number;
  timeout?: string;
}

export interface RequestMirrorConfig extends MirrorConfig {
  /** Several mirrors; the keys of the single form other than `url` and `upstream` are their defaults. */
  mirrors?: MirrorConfig[];
}

export const MIRROR_DEFAULTS = { percent: 100, maxBodyBytes: 65_536, largerBodies: 'skip', maxInFlight: 100, timeout: '5s' } as const;

/** The mirrors a config names, each with the defaults of the list form filled in. */
export function mirrorsOf(config: RequestMirrorConfig): MirrorConfig[] {
  const { mirrors, url, upstream, ...defaults } = config;
  if (mirrors === undefined) return [{ ...defaults, ...(url !== undefined ? { url } : {}), ...(upstream !== undefined ? { upstream } : {}) }];
  return mirrors.map((m) => ({ ...defaults, ...m }));
}

/** A mirror's name in the drop event and metric: its upstream's name or its URL as written. */
export function mirrorName(m: MirrorConfig): string {
  return m.upstream ?? m.url ?? '';
}

export function checkRequestMirror(config: RequestMirrorConfig, env?: CheckEnvironment): Array<{ path: Array<string | number>; message: string }> {
  if (config.mirrors === undefined) return checkMirror(config, env, []);
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  if (config.url !== undefined || config.upstream !== undefined) problems.push({ path: [], message: 'names its mirrors either with "url"/"upstream" or with "mirrors", not both' });
  mirrorsOf(config).forEach((m, i) => problems.push(...checkMirror(m, env, ['mirrors', i])));
  return problems;
}

function checkMirror(config: MirrorConfig, env: CheckEnvironment | undefined, at: Array<string | number>): Array<{ path: Array<string | number>; message: string }> {
  const problems: Array<{ path: Array<string | number>; message: string }> = [];
  if ((config.url === undefined) === (config.upstream === undefined)) problems.push({ path: at, message: 'needs exactly one of "url" (an origin) or "upstream" (a name from upstreams)' });
  if (config.url !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(config.url);
    } catch {
      problems.push({ path: [...at, 'url'], message: 'is not a valid URL' });
    }
    if (url !== null && (url.username !== '' || url.password !== '')) problems.push({ path: [...at, 'url'], message: 'must not carry credentials' });
  }
  if (config.upstream !== undefined && env !== undefined) {
    const upstream = env.upstream(config.upstream);
    if (upstream === undefined) {
      const hint = didYouMean(config.upstream, env.upstreamNames);
      problems.push({ path: [...at, 'upstream'], message: `no upstream named "${config.upstream}"${hint ? ` (did you mean "${hint}"?)` : ''}` });
    } else if (upstream.protocol !== 'http') {
      problems.push({ path: [...at, 'upstream'], message: `upstream "${config.upstream}" has grpc targets; a copy is an HTTP/1.1 request to http:// or https:// targets` });
    }
  }
  const ms = parseDuration(config.timeout ?? MIRROR_DEFAULTS.timeout)!;
  if (ms < 10 || ms > 60_000) problems.push({ path: [...at, 'timeout'], message: 'must be between 10ms and 60s' });
  return problems;
}
