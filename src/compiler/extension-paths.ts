// Where an `extensions:` entry points, decided before any code runs: a file (a path relative
// to the config file's folder, an absolute path, a file:/// URL) or a package found in
// node_modules from that folder, as `import` would resolve it. Refused: other URL schemes
// (data:, http:), node's built-in modules, "." and ".." segments in a package specifier (it
// would read as a package while naming any file), package entries that point outside their
// package, and anything that is not a regular file (a device would be read forever).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { isAbsolute, join, dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Resolved = { readonly file: string } | { readonly problem: string };

const WHAT = 'an extension is a file (a path relative to the config file, an absolute path, a file:/// URL) or a package';
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const PACKAGE_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;
/** Segments node refuses in a package subpath, percent-encoded ones included. */
const BAD_SEGMENT = /^(?:|\.|\.\.)$|%2e|%2f|%5c|\\/i;

export function resolveExtension(spec: string, base: string): Resolved {
  const found = locate(spec, base);
  if ('problem' in found) return found;
  try {
    if (!statSync(found.file).isFile()) return { problem: `cannot import "${spec}": ${found.file} is not a file` };
  } catch (err) {
    return { problem: `cannot import "${spec}": ${(err as Error).message}` };
  }
  return found;
}

function locate(spec: string, base: string): Resolved {
  const scheme = SCHEME.exec(spec)?.[1]?.toLowerCase();
  if (isBuiltin(spec) || scheme === 'node') return { problem: `"${spec}" is a node built-in module, not a plugin module` };
  if (scheme !== undefined && !isAbsolute(spec)) {
    if (scheme !== 'file') return { problem: `"${spec.length > 40 ? `${spec.slice(0, 40)}…` : spec}" is a URL (${scheme}:); ${WHAT}` };
    if (!spec.startsWith('file://')) return { problem: `"${spec}" is a relative file: URL; write file:///ABSOLUTE/PATH or a path relative to the config file (./${spec.slice(5).replace(/^\.\//, '')})` };
    let path: string;
    try {
      path = fileURLToPath(spec);
    } catch (err) {
      return { problem: `"${spec}" is not a file URL of this host: ${(err as Error).message}` };
    }
    return fileOrFolder(spec, path);
  }
  if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || isAbsolute(spec)) return fileOrFolder(spec, resolve(base, spec));
  return packageFile(spec, base);
}

function fileOrFolder(spec: string, path: string): Resolved {
  if (!existsSync(path)) return { problem: `cannot find module "${spec}" (no file ${path})` };
  return statSync(path).isDirectory() ? packageEntry(spec, path, '.') : { file: path };
}

function packageFile(spec: string, base: string): Resolved {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  if (!PACKAGE_NAME.test(name)) return { problem: `"${spec}" is neither a package name nor a path (a file is named by a path starting with ./, ../ or /)` };
  const subpath = spec.slice(name.length);
  if (subpath !== '' && subpath.split('/').slice(1).some((s) => BAD_SEGMENT.test(s))) {
    return { problem: `"${spec}" is not a package name with a subpath: "." and ".." segments are refused (a file is named by a path starting with ./ or ../)` };
  }
  for (let dir = base; ; dir = dirname(dir)) {
    const pkg = join(dir, 'node_modules', name);
    if (existsSync(join(pkg, 'package.json'))) return packageEntry(spec, pkg, `.${subpath}`);
    if (dirname(dir) === dir) break;
  }
  const beside = /\.[cm]?js$/.test(spec) && existsSync(join(base, spec)) ? `; a file beside the config file is written "./${spec}"` : '';
  return { problem: `cannot find module "${spec}" (no package "${name}" in node_modules from ${base}${beside})` };
}

/** The file a package's `exports` (conditions import, node, default) or `main` names for a subpath; a folder without package.json: its index.js. */
function packageEntry(spec: string, dir: string, subpath: string): Resolved {
  const manifest = join(dir, 'package.json');
  let pkg: { exports?: unknown; main?: unknown } = {};
  if (existsSync(manifest)) {
    try {
      pkg = JSON.parse(readFileSync(manifest, 'utf8')) as typeof pkg;
    } catch (err) {
      return { problem: `cannot find module "${spec}" (${manifest} is not valid JSON: ${(err as Error).message})` };
    }
  }
  if (pkg.exports !== undefined && pkg.exports !== null) {
    const exp = pkg.exports;
    const map = typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.')) ? (exp as Record<string, unknown>) : { '.': exp };
    const target = conditional(map[subpath]);
    if (target === null) return { problem: `cannot find module "${spec}" (the "exports" of ${manifest} have no "${subpath}" for import)` };
    return inside(spec, dir, target, `the "exports" of ${manifest}`);
  }
  if (subpath !== '.') return inside(spec, dir, subpath, `"${subpath}"`);
  if (typeof pkg.main === 'string') return inside(spec, dir, pkg.main, `the "main" of ${manifest}`);
  const index = join(dir, 'index.js');
  if (existsSync(index)) return { file: index };
  return { problem: `cannot find module "${spec}" (${dir} is a folder without a package.json "exports" or "main", nor an index.js)` };
}

/** A package's entry stays inside the package, as node requires of `exports`. */
function inside(spec: string, dir: string, target: string, what: string): Resolved {
  const path = resolve(dir, target);
  if (!path.startsWith(dir + sep)) return { problem: `cannot find module "${spec}" (${what} point outside the package: "${target}")` };
  if (!existsSync(path)) return { problem: `cannot find module "${spec}" (no file ${path})` };
  return { file: path };
}

function conditional(target: unknown): string | null {
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null) return null;
  if (Array.isArray(target)) return target.map(conditional).find((t) => t !== null) ?? null;
  const t = target as Record<string, unknown>;
  for (const c of ['import', 'node', 'default']) if (t[c] !== undefined) return conditional(t[c]);
  return null;
}
