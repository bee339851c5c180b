// The import graph of src/, read from the sources (relative imports, `export … from` and
// dynamic `import()`; type-only imports count too), and the layers docs/architecture.md draws.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Bottom to top: a folder may import its own layer (without a cycle) and the layers below. */
export const LAYERS: readonly (readonly string[])[] = [
  ['base'],
  ['sdk'],
  ['config'],
  ['router', 'upstream', 'pipeline', 'consumers'],
  ['proxy'],
  ['plugins', 'observability', 'metering', 'plans', 'portal'],
  ['compiler'],
  ['runtime'],
  ['admin', 'store', 'testing', 'cli'],
  ['index'],
];

export interface ImportEdge {
  /** Paths relative to src/, e.g. "proxy/forward.ts". */
  readonly from: string;
  readonly to: string;
  readonly line: number;
  readonly missing: boolean;
}

const SRC = join(ROOT, 'src');

function sources(dir = SRC, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

export function importGraph(): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sources()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const line = text.slice(0, m.index).split('\n').length;
      edges.push({ from: relative(SRC, file), to: relative(SRC, target), line, missing: target.endsWith('.ts') && !existsSync(target) });
    }
  }
  return edges;
}

/** Calls of diagnostics_channel's channel()/tracingChannel(): where a channel is declared. */
export function channelDeclarations(): Array<{ file: string; line: number }> {
  const out: Array<{ file: string; line: number }> = [];
  for (const file of sources()) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes('diagnostics_channel')) continue;
    for (const m of text.matchAll(/\b(?:channel|tracingChannel)\(\s*['"`]/g)) out.push({ file: relative(SRC, file), line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** The folder a file belongs to: its top folder, or plugins/<name> for a plugin; a root file is its own name. */
export function moduleOf(path: string): string {
  const parts = path.split('/');
  if (parts.length === 1) return parts[0]!.replace(/\.ts$/, '');
  if (parts[0] === 'plugins' && parts.length > 2) return `plugins/${parts[1]}`;
  return parts[0]!;
}

export function layerOf(path: string): number {
  const top = moduleOf(path).split('/')[0]!;
  const i = LAYERS.findIndex((l) => l.includes(top));
  return i === -1 ? LAYERS.length : i;
}
