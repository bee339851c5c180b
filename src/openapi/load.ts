// OpenAPI documents as the config reads them: bundled once per file and reused while none
// of the files a bundle read changed (size or time), so a reload does not read an
// unchanged document again.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundleSpec, type BundledSpec, type SpecProblem } from './bundle.js';

const CACHE_CAP = 64;
const cache = new Map<string, BundledSpec>();

/** The bundled document of `file`, or its problems (located in the file that has them). */
export function loadSpec(file: string): BundledSpec | SpecProblem[] {
  const path = resolve(file);
  const cached = cache.get(path);
  if (cached !== undefined && unchanged(cached)) return cached;
  const result = bundleSpec(path);
  if (!Array.isArray(result)) {
    cache.delete(path);
    if (cache.size >= CACHE_CAP) cache.delete(cache.keys().next().value!);
    cache.set(path, result);
  }
  return result;
}

function unchanged(spec: BundledSpec): boolean {
  try {
    return spec.files.every((f) => {
      const st = statSync(f.path);
      return st.size === f.size && st.mtimeMs === f.mtimeMs;
    });
  } catch {
    return false;
  }
}
