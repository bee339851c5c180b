// Reads an OpenAPI document and the files its `$ref`s name into one bundled document (every
// `$ref` left is local, `#/...`), with the bounds a document written by someone else needs:
// only files inside the root document's folder tree, no URLs, a size, file-count and
// nesting bound, and every problem at FILE:LINE:COL. The files are parsed with the `yaml`
// library, which keeps positions, and every `$ref` is checked before the bundle is made.
//
// The bundle keeps each other file whole under the root's `x-northgate-bundle` member, keyed
// by its path relative to the root's folder, and points every `$ref` there: recursion within
// and across files stays a plain local `$ref` (json-schema-ref-parser 15.5 never returns on a
// file whose `$ref` leads back into a recursive schema of the root document).
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Document, LineCounter, Node } from 'yaml';
import { lazyRequire } from '../base/lazy-require.js';
import { compileConfigRegex } from '../base/regex.js';
import { DATA_KEYS, NAME_MAPS, setOwn } from './refs.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

export const BUNDLE_LIMITS = { fileBytes: 5 * 1024 * 1024, totalBytes: 20 * 1024 * 1024, files: 200, depth: 128 } as const;

/** A problem in one of the document's files. */
export interface SpecProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** What a bundle read: the document, and the files with their size and time, to see a change. */
export interface BundledSpec {
  readonly document: Record<string, unknown>;
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number; readonly mtimeMs: number }>;
}

interface ParsedFile {
  readonly path: string;
  readonly value: unknown;
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly text: string;
}

class Problem extends Error {
  constructor(readonly problem: SpecProblem) {
    super(problem.message);
  }
}


/** Reads, checks and bundles `file`; a problem is thrown as a located SpecProblem list. */
export function bundleSpec(file: string): BundledSpec | SpecProblem[] {
  const root = resolve(file);
  const files = new Map<string, ParsedFile>();
  let total = 0;
  let rootDir: string;
  try {
    rootDir = realpathSync(dirname(root));
  } catch {
    return [{ file: root, line: 1, col: 1, message: 'file not found' }];
  }
  const read = (path: string, from: SpecProblem | null): ParsedFile => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new Problem(from ? { ...from, message: `${from.message}: file not found: ${path}` } : { file: path, line: 1, col: 1, message: 'file not found' });
    }
    const known = files.get(real);
    if (known) return known;
    const rel = relative(rootDir, real);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Problem({ ...from!, message: `${from!.message}: names a file outside the document's folder (${rootDir}${sep})` });
    if (files.size >= BUNDLE_LIMITS.files) throw new Problem({ ...from!, message: `${from!.message}: the document spans more than ${BUNDLE_LIMITS.files} files` });
    const st = statSync(real);
    if (!st.isFile()) throw new Problem({ ...(from ?? { file: real, line: 1, col: 1 }), message: `${from?.message ?? real}: not a regular file` });
    if (st.size > BUNDLE_LIMITS.fileBytes) throw new Problem({ file: real, line: 1, col: 1, message: `larger than ${BUNDLE_LIMITS.fileBytes} bytes` });
    total += st.size;
    if (total > BUNDLE_LIMITS.totalBytes) throw new Problem({ file: real, line: 1, col: 1, message: `the document's files are larger than ${BUNDLE_LIMITS.totalBytes} bytes together` });
    const parsed = parseFile(real, readFileSync(real, 'utf8'));
    files.set(real, parsed);
    return parsed;
  };
  let first: ParsedFile;
  try {
    first = read(root, null);
    checkRoot(first);
    const queue = [first];
    const seen = new Set([first]);
    while (queue.length > 0) {
      const f = queue.shift()!;
      for (const ref of refsOf(f)) {
        const [target, pointer] = splitRef(f, ref);
        const parsed = target === f.path ? f : read(target, ref);
        if (!seen.has(parsed)) {
          seen.add(parsed);
          queue.push(parsed);
        }
        if (pointer !== '' && resolvePointer(parsed.value, pointer) === undefined) throw new Problem({ ...ref, message: `${ref.message}: "${pointer}" does not exist in ${parsed.path}` });
      }
    }
  } catch (err) {
    if (err instanceof Problem) return [err.problem];
    throw err;
  }
  const document = bundleParsed(first.path, rootDir, files);
  return { document, files: [...files.keys()].map((path) => ({ path, size: statSync(path).size, mtimeMs: statSync(path).mtimeMs })) };
}

function parseFile(path: string, text: string): ParsedFile {
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, merge: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new Problem({ file: path, line: pos.line, col: pos.col, message: `not valid YAML/JSON: ${e.message.split('\n')[0]}` });
  }
  checkDepth(path, doc.contents, lines);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new Problem({ file: path, line: 1, col: 1, message: (err as Error).message });
  }
  return { path, value, doc, lines, text };
}

/** Nesting deeper than the bound is refused before anything recursive walks it. */
function checkDepth(path: string, root: unknown, lines: LineCounter): void {
  const { isCollection, isPair } = yaml();
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > BUNDLE_LIMITS.depth) {
      const pos = lines.linePos((node as Node).range?.[0] ?? 0);
      throw new Problem({ file: path, line: pos.line, col: pos.col, message: `nested deeper than ${BUNDLE_LIMITS.depth} levels` });
    }
    for (const item of node.items) stack.push([isPair(item) ? item.value : item, depth + 1]);
  }
}

function checkRoot(f: ParsedFile): void {
  const v = f.value as Record<string, unknown> | null;
  const at = (message: string): never => {
    throw new Problem({ file: f.path, line: 1, col: 1, message });
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) at('is not an OpenAPI document (not an object)');
  if (typeof v!['openapi'] !== 'string' || !/^3\.(0|1)\.[0-9]+$/.test(v!['openapi'])) at('is not an OpenAPI 3.0 or 3.1 document ("openapi: 3.0.x" or "3.1.x" is required; Swagger 2.0 is not supported)');
  const info = v!['info'] as Record<string, unknown> | undefined;
  if (typeof info !== 'object' || info === null || typeof info['title'] !== 'string') at('"info.title" is required');
  if (v!['paths'] !== undefined && (typeof v!['paths'] !== 'object' || v!['paths'] === null || Array.isArray(v!['paths']))) at('"paths" must be an object');
}

/**
 * Every `$ref` of a file, located, with each schema `pattern` checked on RE2 on the way
 * (patterns from a document are matched against request data: see src/base/regex.ts).
 */
function refsOf(f: ParsedFile): SpecProblem[] {
  const { isMap, isSeq, isScalar } = yaml();
  const out: SpecProblem[] = [];
  const at = (node: Node | null | undefined, message: string): SpecProblem => {
    const pos = f.lines.linePos(node?.range?.[0] ?? 0);
    return { file: f.path, line: pos.line, col: pos.col, message };
  };
  // Per node: inside data (an example: no `$ref` or `pattern` there), a map of names.
  const stack: Array<[unknown, boolean, boolean]> = [[f.doc.contents, false, false]];
  while (stack.length > 0) {
    const [node, data, names] = stack.pop()!;
    if (isSeq(node)) for (const item of node.items) stack.push([item, data, false]);
    if (!isMap(node)) continue;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const value = pair.value as Node | null;
      if (names) {
        stack.push([value, data, false]);
        continue;
      }
      if (!data && key === '$ref') {
        if (!isScalar(value) || typeof value.value !== 'string') throw new Problem(at(value, '$ref must be a string'));
        out.push(at(value, `$ref "${value.value}"`));
      } else if (!data && key === 'pattern' && isScalar(value) && typeof value.value === 'string') {
        const re = compileConfigRegex(value.value, 'u');
        if (typeof re === 'string') throw new Problem(at(value, `pattern ${JSON.stringify(value.value)}: ${re}`));
      } else if (!data && key === 'patternProperties' && isMap(value)) {
        for (const p of value.items) {
          const re = isScalar(p.key) ? compileConfigRegex(String(p.key.value), 'u') : '';
          if (typeof re === 'string') throw new Problem(at(p.key as Node, `patternProperties key: ${re}`));
        }
      }
      stack.push([value, data || DATA_KEYS.has(key), !data && NAME_MAPS.has(key)]);
    }
  }
  // In the order they are written, so that the first problem reported is the first in the file.
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

/** The file and JSON pointer a located `$ref "…"` names; URLs are refused. */
function splitRef(f: ParsedFile, ref: SpecProblem): [string, string] {
  const text = JSON.parse(ref.message.slice(5)) as string;
  const hash = text.indexOf('#');
  const location = hash < 0 ? text : text.slice(0, hash);
  if (hash >= 0 && text.length > hash + 1 && text[hash + 1] !== '/') throw new Problem({ ...ref, message: `${ref.message}: a pointer starts with "#/"` });
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(location) || location.startsWith('//')) {
    throw new Problem({ ...ref, message: `${ref.message}: only files next to the document can be referenced, not URLs` });
  }
  try {
    return refTarget(f.path, text);
  } catch {
    throw new Problem({ ...ref, message: `${ref.message}: malformed path` });
  }
}

/** The file (absolute) and JSON pointer a `$ref` written in `from` names. */
function refTarget(from: string, text: string): [string, string] {
  const hash = text.indexOf('#');
  const location = hash < 0 ? text : text.slice(0, hash);
  const pointer = hash < 0 ? '' : text.slice(hash + 1);
  return [location === '' ? from : resolve(dirname(from), decodeURIComponent(location)), pointer];
}

function resolvePointer(value: unknown, pointer: string): unknown {
  let cur = value;
  for (const raw of pointer.slice(1).split('/')) {
    const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, token)) return undefined;
    cur = (cur as Record<string, unknown>)[token];
  }
  return cur;
}

export const BUNDLE_MEMBER = 'x-northgate-bundle';

/** The root's value with every other file under BUNDLE_MEMBER, and every `$ref` made local. */
function bundleParsed(root: string, rootDir: string, files: ReadonlyMap<string, ParsedFile>): Record<string, unknown> {
  const keyOf = (path: string): string => relative(rootDir, path).split(sep).join('/');
  const escape = (token: string): string => token.replace(/~/g, '~0').replace(/\//g, '~1');
  const local = (from: string, text: string): string => {
    const [target, pointer] = refTarget(from, text);
    const real = realpathSync(target);
    return real === root ? `#${pointer}` : `#/${BUNDLE_MEMBER}/${escape(keyOf(real))}${pointer}`;
  };
  const rewrite = (value: unknown, from: string, data: boolean, names: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => rewrite(v, from, data, false));
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (names) setOwn(out, key, rewrite(v, from, data, false));
      else if (!data && key === '$ref' && typeof v === 'string') out[key] = local(from, v);
      else setOwn(out, key, rewrite(v, from, data || DATA_KEYS.has(key), !data && NAME_MAPS.has(key)));
    }
    return out;
  };
  const document = rewrite(files.get(root)!.value, root, false, false) as Record<string, unknown>;
  const others = [...files.keys()].filter((path) => path !== root);
  if (others.length > 0) document[BUNDLE_MEMBER] = Object.fromEntries(others.map((path) => [keyOf(path), rewrite(files.get(path)!.value, path, false, false)]));
  return document;
}
