// OpenAPI documents of published services, read when the config is loaded: a path is
// relative to the config file, the document must be OpenAPI 3.0 or 3.1 (YAML or JSON), read
// and bounded as services[].openapi reads one (docs/openapi.md). Problems are config
// problems located at `services[i].portal.openapi`.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigProblem } from '../base/problems.js';
import type { RawConfig, RawServicePortal } from '../config/types.js';
import { loadSpec } from '../openapi/load.js';

/** An OpenAPI document as parsed (a plain JSON value). */
export type OpenApiDocument = Record<string, unknown>;

/** Documents by the raw `portal` object they belong to (the raw config stays plain data). */
const documents = new WeakMap<RawServicePortal, OpenApiDocument>();

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

/** The bundled document (its `$ref`s to files beside it resolved, as services[].openapi reads it), or the problem. */
export function readOpenApi(file: string): OpenApiDocument | string {
  const loaded = loadSpec(file);
  if (!Array.isArray(loaded)) return loaded.document;
  const p = loaded[0]!;
  return p.message === 'file not found' ? `file not found: ${p.file}` : `${p.file}:${p.line}:${p.col}: ${p.message}`;
}
