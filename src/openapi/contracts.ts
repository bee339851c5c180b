// `services[].openapi`: each service's document, read when the config is loaded (relative
// to the config file) and kept by the raw section it belongs to, so the raw config stays
// plain data. With `routes: true` the service gets a route per operation.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigProblem } from '../base/problems.js';
import type { RawConfig, RawServiceOpenApi } from '../config/types.js';
import type { OpenApiContract } from '../sdk/openapi.js';
import { loadSpec } from './load.js';
import { contractOf } from './operations.js';
import { routesFor } from './routes.js';

const contracts = new WeakMap<RawServiceOpenApi, OpenApiContract>();

/** The document of a service's `openapi` section, once loadServiceContracts read it. */
export function contractFor(section: RawServiceOpenApi | undefined): OpenApiContract | null {
  return section === undefined ? null : (contracts.get(section) ?? null);
}

/** The absolute file a `spec` names. */
export function specFile(spec: string, configFile: string): string {
  return isAbsolute(spec) ? spec : resolve(dirname(resolve(configFile)), spec);
}

/**
 * Reads every service's document. Returns the problems (a document's own are given at its
 * FILE:LINE:COL) and the config with the generated routes appended to their services (the
 * same object when no service generates routes), with how many routes each service wrote.
 */
export function loadServiceContracts(config: RawConfig, configFile: string): { problems: ConfigProblem[]; config: RawConfig; written: Map<number, number> } {
  const problems: ConfigProblem[] = [];
  const written = new Map<number, number>();
  let expanded = false;
  const services = (config.services ?? []).map((s, i) => {
    if (s.openapi === undefined) return s;
    const loaded = loadSpec(specFile(s.openapi.spec, configFile));
    if (Array.isArray(loaded)) {
      for (const p of loaded) problems.push({ path: ['services', i, 'openapi', 'spec'], message: `${p.file}:${p.line}:${p.col}: ${p.message}` });
      return s;
    }
    const contract = contractOf(loaded.document, specFile(s.openapi.spec, configFile), s.openapi.prefix ?? '');
    if (typeof contract === 'string') {
      problems.push({ path: ['services', i, 'openapi', 'spec'], message: `${specFile(s.openapi.spec, configFile)}: ${contract}` });
      return s;
    }
    contracts.set(s.openapi, contract);
    if (s.openapi.routes !== true) return s;
    if (contract.operations.length === 0) problems.push({ path: ['services', i, 'openapi', 'routes'], message: `the document has no operations to route (${contract.file})` });
    expanded = true;
    written.set(i, s.routes?.length ?? 0);
    return { ...s, routes: [...(s.routes ?? []), ...routesFor(s.name, contract.prefix, contract.operations)] };
  });
  return { problems, config: expanded ? { ...config, services } : config, written };
}
