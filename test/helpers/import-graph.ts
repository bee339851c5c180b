// The import graph of src/, read with the TypeScript parser: import and export declarations
// (type-only ones too), `import x = require()`, dynamic `import()`, and `require()`-like calls
// with a relative path (createRequire). A specifier that is not a string literal, or that
// names the package itself, is recorded as an edge to nowhere so the rules can refuse it.
// Also: the layers docs/architecture.md draws.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Bottom to top: a folder may import its own layer (without a cycle) and the layers below. */
export const LAYERS: readonly (readonly string[])[] = [
  ['base'],
  ['sdk'],
  ['config'],
  ['router', 'upstream', 'pipeline', 'consumers', 'http1', 'openapi'],
  ['proxy'],
  ['plugins', 'observability', 'metering', 'plans', 'portal'],
  ['compiler'],
  ['runtime'],
  ['kubernetes'],
  ['admin', 'store', 'testing', 'cli'],
  ['index'],
];

export interface ImportEdge {
  /** Paths relative to src/, e.g. "proxy/forward.ts". */
  readonly from: string;
  /** The file imported, relative to src/; for a refused specifier, the specifier itself. */
  readonly to: string;
  readonly line: number;
  readonly missing: boolean;
  /** Why the import cannot be followed (a computed specifier, the package's own name), else null. */
  readonly refused: string | null;
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

interface Parsed {
  readonly file: string;
  readonly source: ts.SourceFile;
}

let parsed: Parsed[] | null = null;
function parseAll(): Parsed[] {
  return (parsed ??= sources().map((file) => ({ file, source: ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true) })));
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

function literal(node: ts.Node | undefined): string | null {
  return node !== undefined && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : null;
}

export function importGraph(): ImportEdge[] {
  return parseAll().flatMap(({ file, source }) => importsOf(file, source));
}

/** The imports of one file of src/ (`text` instead of the file's content, for the rules' own tests). */
export function importsOf(file: string, text: ts.SourceFile | string): ImportEdge[] {
  const source = typeof text === 'string' ? ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true) : text;
  const edges: ImportEdge[] = [];
  const from = relative(SRC, file);
  const add = (node: ts.Node, spec: string | null, kind: 'import' | 'require'): void => {
    const line = lineOf(source, node);
    if (spec === null) return void edges.push({ from, to: '(computed specifier)', line, missing: false, refused: 'a specifier that is not a string literal' });
    if (spec === 'northgate' || spec.startsWith('northgate/')) return void edges.push({ from, to: spec, line, missing: false, refused: 'the package imports itself by name' });
    if (!spec.startsWith('./') && !spec.startsWith('../')) return;
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    // A relative require of a generated file (compiler/validate.ts's prebuilt validator) exists only in dist/.
    const generated = kind === 'require' && !/\.(ts|js)$/.test(spec);
    edges.push({ from, to: relative(SRC, target), line, missing: !generated && !existsSync(target), refused: null });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) add(node, literal(node.moduleSpecifier), 'import');
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node, literal(node.moduleReference.expression), 'import');
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, literal(node.argument.literal), 'import');
    else if (ts.isCallExpression(node)) {
      if (node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, literal(node.arguments[0]), 'import');
      else {
        // require('./x'), createRequire(import.meta.url)('./x'), req('../x'): any call whose
        // first argument is a relative path and whose callee is a require.
        const spec = literal(node.arguments[0]);
        const callee = node.expression;
        const isRequire = (ts.isIdentifier(callee) && /^(req|\w*require)$/i.test(callee.text)) || (ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'createRequire');
        if (isRequire && spec !== null) add(node, spec, 'require');
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

export const SRC_DIR = SRC;

/** Calls of diagnostics_channel's channel()/tracingChannel() (named or through a namespace): where a channel is declared. */
export function channelDeclarations(): Array<{ file: string; line: number }> {
  return parseAll().flatMap(({ file, source }) => channelsOf(file, source));
}

export function channelsOf(file: string, text: ts.SourceFile | string): Array<{ file: string; line: number }> {
  const source = typeof text === 'string' ? ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true) : text;
  const out: Array<{ file: string; line: number }> = [];
  if (!source.text.includes('diagnostics_channel')) return out;
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const c = node.expression;
      const name = ts.isIdentifier(c) ? c.text : ts.isPropertyAccessExpression(c) ? c.name.text : '';
      if (name === 'channel' || name === 'tracingChannel') out.push({ file: relative(SRC, file), line: lineOf(source, node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
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
