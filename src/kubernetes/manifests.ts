// A directory of YAML manifests as a source of the store, instead of an API server: every
// *.yaml, *.yml and *.json file under it (subdirectories too), each holding any number of
// `---`-separated documents. Documents of kinds the controller does not read (Deployment,
// Namespace, ...) are passed over; a document that does not parse, or is not an object with
// apiVersion, kind and metadata.name, is reported as FILE:LINE:COL and skipped, the rest
// still loads. The directory is watched: a change reloads it (debounced) and the store
// coalesces the result into one snapshot.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { Logger } from '../base/logger.js';
import { KINDS, keyOf, kindOfManifest, type Kind, type KubeObject } from './resources.js';
import type { ResourceStore } from './store.js';

export interface ManifestProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export const formatManifestProblem = (p: ManifestProblem): string => `${p.file}:${p.line}:${p.col} ${p.message}`;

export interface ManifestRead {
  readonly objects: ReadonlyMap<Kind, KubeObject[]>;
  readonly problems: readonly ManifestProblem[];
}

/** Files larger than this are refused: manifests are text a person wrote, not a dump. */
const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** A directory tree deeper than this is not walked further. */
const MAX_DEPTH = 8;
const EXTENSIONS = /\.(ya?ml|json)$/i;

function files(dir: string, depth = 0, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory() && depth < MAX_DEPTH) files(p, depth + 1, out);
    else if (e.isFile() && EXTENSIONS.test(e.name)) out.push(p);
  }
  return out;
}

/** One document of a file, parsed: the object (of a kind the controller reads) and where it starts, or a problem. */
type Parsed = { readonly object: KubeObject; readonly kind: Kind; readonly line: number; readonly col: number } | { readonly problem: ManifestProblem };

/** A file's parsed documents, kept while its modification time and size stay the same. */
export type ManifestCache = Map<string, { readonly mtimeMs: number; readonly size: number; readonly parsed: readonly Parsed[] }>;

function parseFile(file: string): Parsed[] {
  const out: Parsed[] = [];
  const lines = new LineCounter();
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { lineCounter: lines, uniqueKeys: true, prettyErrors: false, merge: false });
  const at = (offset: number) => lines.linePos(offset);
  for (const doc of Array.isArray(docs) ? docs : []) {
    const start = doc.contents?.range[0] ?? doc.range[0];
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      out.push({ problem: { file, ...at(e.pos[0]), message: `${e.message.split('\n')[0]} (document skipped)` } });
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      out.push({ problem: { file, ...at(start), message: `${(err as Error).message} (document skipped)` } });
      continue;
    }
    if (value === null || value === undefined) continue;
    const problem = shapeProblem(value);
    if (problem !== null) {
      out.push({ problem: { file, ...at(start), message: `${problem} (document skipped)` } });
      continue;
    }
    const o = value as KubeObject;
    const info = kindOfManifest(o.apiVersion, o.kind);
    if (info === undefined) continue;
    if (info.namespaced && (o.metadata.namespace === undefined || o.metadata.namespace === '')) o.metadata = { ...o.metadata, namespace: 'default' };
    if (!info.namespaced) delete o.metadata.namespace;
    out.push({ object: o, kind: info.kind, ...at(start) });
  }
  // (a file whose text is not YAML at all yields one document with errors, reported above)
  return out;
}

/**
 * Reads every manifest under `dir` (file names in problems are as given, joined with `dir`).
 * With a `cache`, a file whose modification time and size are unchanged is not parsed again
 * (its objects are the same objects as before), so a change to one file of many costs one parse.
 */
export function readManifests(dir: string, cache?: ManifestCache): ManifestRead {
  const objects = new Map<Kind, KubeObject[]>(KINDS.map((k) => [k.kind, []]));
  const problems: ManifestProblem[] = [];
  const seen = new Map<string, string>();
  const present = new Set<string>();
  for (const file of files(dir)) {
    present.add(file);
    const stat = statSync(file);
    if (stat.size > MAX_FILE_BYTES) {
      problems.push({ file, line: 1, col: 1, message: `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB; not read` });
      continue;
    }
    let parsed = cache?.get(file);
    if (parsed === undefined || parsed.mtimeMs !== stat.mtimeMs || parsed.size !== stat.size) {
      parsed = { mtimeMs: stat.mtimeMs, size: stat.size, parsed: parseFile(file) };
      cache?.set(file, parsed);
    }
    for (const d of parsed.parsed) {
      if ('problem' in d) {
        problems.push(d.problem);
        continue;
      }
      const id = `${d.kind} ${keyOf(d.object)}`;
      const first = seen.get(id);
      if (first !== undefined) {
        problems.push({ file, line: d.line, col: d.col, message: `${id} is defined again (first at ${first}); this one is skipped` });
        continue;
      }
      seen.set(id, `${file}:${d.line}:${d.col}`);
      objects.get(d.kind)!.push(d.object);
    }
  }
  if (cache !== undefined) for (const file of cache.keys()) if (!present.has(file)) cache.delete(file);
  return { objects, problems };
}

function shapeProblem(v: unknown): string | null {
  if (typeof v !== 'object' || Array.isArray(v)) return 'a manifest is an object with apiVersion, kind and metadata';
  const o = v as Record<string, unknown>;
  if (typeof o['apiVersion'] !== 'string' || o['apiVersion'] === '') return 'missing "apiVersion"';
  if (typeof o['kind'] !== 'string' || o['kind'] === '') return 'missing "kind"';
  const m = o['metadata'];
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'missing "metadata"';
  const name = (m as Record<string, unknown>)['name'];
  if (typeof name !== 'string' || name === '') return 'missing "metadata.name"';
  const ns = (m as Record<string, unknown>)['namespace'];
  if (ns !== undefined && typeof ns !== 'string') return '"metadata.namespace" must be a string';
  return null;
}

export interface ManifestSourceOptions {
  readonly dir: string;
  readonly store: ResourceStore;
  readonly logger: Logger;
  /** Wait this long after the last file event before reading again. */
  readonly debounceMs?: number;
}

export class ManifestSource {
  readonly #o: ManifestSourceOptions;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #problems: readonly ManifestProblem[] = [];
  /** Parsed files, kept between reads of the directory. */
  readonly #cache: ManifestCache = new Map();

  constructor(o: ManifestSourceOptions) {
    this.#o = o;
  }

  /** The problems of the last read. */
  get problems(): readonly ManifestProblem[] {
    return this.#problems;
  }

  /** Reads the directory once and watches it. */
  start(): void {
    this.#load();
    this.#watcher = watch(this.#o.dir, { recursive: true }, () => this.#schedule());
    this.#watcher.on('error', (err) => this.#o.logger.warn({ type: 'kubernetes', dir: this.#o.dir, err: err.message }, 'cannot watch the manifests directory'));
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#watcher !== null) this.#load();
    }, this.#o.debounceMs ?? 100);
  }

  #load(): void {
    let read: ManifestRead;
    try {
      read = readManifests(this.#o.dir, this.#cache);
    } catch (err) {
      // The directory vanished or is unreadable: keep what was loaded.
      this.#o.logger.warn({ type: 'kubernetes', dir: this.#o.dir, err: (err as Error).message }, 'cannot read the manifests directory; keeping the resources loaded before');
      return;
    }
    this.#problems = read.problems.map((p) => ({ ...p, file: relative(process.cwd(), p.file) || p.file }));
    for (const p of this.#problems) this.#o.logger.warn({ type: 'kubernetes', problem: formatManifestProblem(p) }, 'manifest skipped');
    for (const [kind, list] of read.objects) this.#o.store.replace(kind, list);
  }
}
