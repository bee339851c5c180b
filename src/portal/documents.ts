// OpenAPI documents of published services, read when the config is loaded: a path is
// relative to the config file, the document must be OpenAPI 3.0 or 3.1 (YAML or JSON).
// Problems are config problems located at `services[i].portal.openapi`.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { lazyRequire } from '../base/lazy-require.js';
import type { ConfigProblem } from '../base/problems.js';
import type { RawConfig, RawServicePortal } from '../config/types.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

/** An OpenAPI document as parsed (a plain JSON value). */
export type OpenApiDocument = Record<string, unknown>;

/** Documents by the raw `portal` object they belong to (the raw config stays plain data). */
const documents = new WeakMap<RawServicePortal, OpenApiDocument>();

export const MAX_OPENAPI_BYTES = 5 * 1024 * 1024;

export function documentOf(portal: RawServicePortal): OpenApiDocument | null {
  return documents.get(portal) ?? null;
}

/** Reads every `services[].portal.openapi`; returns the problems (none when all are readable OpenAPI 3.x). */
export function loadPortalDocuments(config: RawConfig, configFile: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const base = dirname(resolve(configFile));
  (config.services ?? []).forEach((s, i) => {
    const p = (s as { portal?: RawServicePortal }).portal;
    if (p?.openapi === undefined) return;
    const path = ['services', i, 'portal', 'openapi'];
    const file = isAbsolute(p.openapi) ? p.openapi : resolve(base, p.openapi);
    const r = readOpenApi(file);
    if (typeof r === 'string') problems.push({ path, message: r });
    else documents.set(p, r);
  });
  return problems;
}

export function readOpenApi(file: string): OpenApiDocument | string {
  let text: string;
  try {
    if (statSync(file).size > MAX_OPENAPI_BYTES) return `${file} is larger than ${MAX_OPENAPI_BYTES} bytes`;
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`;
  }
  const doc = yaml().parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return `${file} is not valid YAML/JSON: ${doc.errors[0]!.message.split('\n')[0]}`;
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${file} is not an OpenAPI document (not an object)`;
  const v = value as OpenApiDocument;
  if (typeof v['openapi'] !== 'string' || !/^3\.(0|1)\.[0-9]+$/.test(v['openapi'])) return `${file} is not an OpenAPI 3.0 or 3.1 document ("openapi: 3.0.x" or "3.1.x" is required; Swagger 2.0 is not supported)`;
  const info = v['info'] as Record<string, unknown> | undefined;
  if (typeof info !== 'object' || info === null || typeof info['title'] !== 'string') return `${file}: "info.title" is required`;
  if (v['paths'] !== undefined && (typeof v['paths'] !== 'object' || v['paths'] === null)) return `${file}: "paths" must be an object`;
  return v;
}
