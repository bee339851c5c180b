import { DURATION_PATTERN, parseDuration } from '../../base/duration.js';

export const requestMirrorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    /** The mirror's origin: requests keep their path and query (as the upstream gets them). */
    url: { type: 'string', pattern: '^https?://[^/?#@\\s]+/?$', 'x-message': 'must be an http:// or https:// origin (scheme, host, optional port; no path, query or credentials)' },
    percent: { type: 'number', minimum: 0, maximum: 100 },
    max_body_bytes: { type: 'integer', minimum: 0, maximum: 16_777_216 },
    /** What a request with a larger body sends the mirror: its head alone, or nothing. */
    larger_bodies: { enum: ['head', 'skip'] },
    max_in_flight: { type: 'integer', minimum: 1, maximum: 10_000 },
    timeout: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 500ms or 2s' },
  },
};

export interface RequestMirrorConfig {
  url: string;
  percent?: number;
  max_body_bytes?: number;
  larger_bodies?: 'head' | 'skip';
  max_in_flight?: number;
  timeout?: string;
}

export const MIRROR_DEFAULTS = { percent: 100, maxBodyBytes: 65_536, largerBodies: 'skip', maxInFlight: 100, timeout: '5s' } as const;

export function checkRequestMirror(config: RequestMirrorConfig): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  let url: URL | null = null;
  try {
    url = new URL(config.url);
  } catch {
    problems.push({ path: ['url'], message: 'is not a valid URL' });
  }
  if (url !== null && (url.username !== '' || url.password !== '')) problems.push({ path: ['url'], message: 'must not carry credentials' });
  const ms = parseDuration(config.timeout ?? MIRROR_DEFAULTS.timeout)!;
  if (ms < 10 || ms > 60_000) problems.push({ path: ['timeout'], message: 'must be between 10ms and 60s' });
  return problems;
}
