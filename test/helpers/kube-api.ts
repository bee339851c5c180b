// A stand-in for the Kubernetes API server, written from the API conventions
// (kubernetes.io/docs/reference/using-api/api-concepts: "Efficient detection of changes",
// "Watch bookmarks", "Resource versions", 410 Gone; the status subresource; optimistic
// concurrency with 409 Conflict) — not a copy of any server. It keeps objects in memory with
// one resourceVersion counter and an event history, and serves:
// - list: GET /api/v1/<plural>, /apis/<group>/<version>/<plural> (all namespaces) → a JSON
//   list whose metadata.resourceVersion is the version the list was made at (items of
//   built-in kinds carry no apiVersion/kind, as the real server's lists);
// - watch: the same path with ?watch=true&resourceVersion=RV → a chunked stream of one JSON
//   event per line (ADDED, MODIFIED, DELETED; BOOKMARK when allowWatchBookmarks=true; the
//   history after RV first, then live). An RV older than the compacted history answers 410
//   Gone — as the HTTP status, or as an ERROR event carrying a 410 Status (`goneAs`);
// - fieldSelector `type=...` on Secrets; 404 for a collection marked not served;
// - Leases: GET/POST/PUT .../namespaces/NS/leases[/NAME], a PUT with a stale
//   metadata.resourceVersion answers 409 Conflict, a POST of an existing one 409 AlreadyExists;
// - PATCH .../NAME/status with application/merge-patch+json (RFC 7386), status only.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KubeObj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; generation?: number; [k: string]: unknown };
  [k: string]: unknown;
}

interface Event {
  readonly rv: number;
  readonly collection: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObj;
}

interface Watcher {
  readonly collection: string;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
  readonly filter: (o: KubeObj) => boolean;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

const BUILT_IN_GROUP = /^(v1|[a-z0-9.]*k8s\.io\/[a-z0-9]+)$/;

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export class KubeApiServer {
  readonly server: Server;
  port = 0;
  /** collection path → key → object. */
  readonly #objects = new Map<string, Map<string, KubeObj>>();
  readonly #history: Event[] = [];
  #rv = 100;
  /** A watch from a version below this answers 410 Gone. */
  #compactedBelow = 0;
  readonly #watchers = new Set<Watcher>();
  readonly requests: RequestRecord[] = [];
  /** How a too-old watch is refused: the HTTP status, or an ERROR event in a 200 stream. */
  goneAs: 'status' | 'event' = 'status';
  /** Collections answered with 404 (a CRD not installed). */
  readonly notServed = new Set<string>();
  /** Requests whose path starts with the key fail with the status, that many times. */
  readonly failures = new Map<string, { status: number; count: number }>();

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Creates or replaces an object of the collection (a path such as /api/v1/services), with an event. */
  put(collection: string, o: KubeObj, statusOnly = false): KubeObj {
    const map = this.#collection(collection);
    const key = this.#key(o);
    const existed = map.has(key);
    // A write of the status subresource keeps the generation (it counts spec changes only).
    const generation = (map.get(key)?.metadata.generation ?? 0) + (statusOnly ? 0 : 1);
    const stored: KubeObj = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.#rv), generation } };
    map.set(key, stored);
    this.#emit({ rv: this.#rv, collection, type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  delete(collection: string, namespace: string | undefined, name: string): void {
    const map = this.#collection(collection);
    const key = namespace === undefined ? name : `${namespace}/${name}`;
    const o = map.get(key);
    if (o === undefined) return;
    map.delete(key);
    this.#emit({ rv: ++this.#rv, collection, type: 'DELETED', object: { ...o, metadata: { ...o.metadata, resourceVersion: String(this.#rv) } } });
  }

  get(collection: string, namespace: string | undefined, name: string): KubeObj | undefined {
    return this.#collection(collection).get(namespace === undefined ? name : `${namespace}/${name}`);
  }

  /** Forgets the history: a watch from any version before now answers 410 Gone. */
  compact(): void {
    this.#compactedBelow = this.#rv + 1;
    this.#history.length = 0;
  }

  /** Sends a BOOKMARK at the current version to every watch that asked for them. */
  bookmark(): void {
    for (const w of this.#watchers) if (w.bookmarks) w.res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Bookmark', metadata: { resourceVersion: String(this.#rv) } } }) + '\n');
  }

  /** Ends every watch stream (as a server does at its watch timeout). */
  closeWatches(): void {
    for (const w of this.#watchers) w.res.end();
    this.#watchers.clear();
  }

  get watchCount(): number {
    return this.#watchers.size;
  }

  #collection(path: string): Map<string, KubeObj> {
    let m = this.#objects.get(path);
    if (m === undefined) this.#objects.set(path, (m = new Map()));
    return m;
  }

  #key(o: KubeObj): string {
    return o.metadata.namespace !== undefined ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
  }

  #emit(e: Event): void {
    this.#history.push(e);
    for (const w of this.#watchers) if (w.collection === e.collection && w.filter(e.object)) w.res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url!, 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return status(res, 400, 'BadRequest', 'body is not JSON');
      }
    }
    this.requests.push({ method: req.method!, path: u.pathname, query: Object.fromEntries(u.searchParams), contentType: req.headers['content-type'], body });
    for (const [prefix, f] of this.failures) {
      if (!u.pathname.startsWith(prefix) || f.count <= 0) continue;
      f.count--;
      return status(res, f.status, 'InternalError', 'injected failure');
    }
    if (this.notServed.has(u.pathname)) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(u.pathname);
    if (lease !== null) return this.#lease(req.method!, lease[1]!, lease[2], body as KubeObj | undefined, res);
    const statusPath = /^(\/apis?\/.+?)\/(?:namespaces\/([^/]+)\/)?([a-z]+)\/([^/]+)\/status$/.exec(u.pathname);
    if (statusPath !== null && req.method === 'PATCH') {
      const collection = `${statusPath[1]}/${statusPath[3]}`;
      if (req.headers['content-type'] !== 'application/merge-patch+json') return status(res, 415, 'UnsupportedMediaType', `this stand-in takes merge patches; got ${req.headers['content-type']}`);
      const o = this.get(collection, statusPath[2], decodeURIComponent(statusPath[4]!));
      if (o === undefined) return status(res, 404, 'NotFound', `${statusPath[4]} not found`);
      const patch = body as { status?: unknown };
      const stored = this.put(collection, { ...o, status: mergePatch(o['status'], patch.status) }, true);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(stored));
    }
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', 'not served by this stand-in');
    const collection = u.pathname;
    const fieldSelector = u.searchParams.get('fieldSelector');
    const typeWanted = fieldSelector?.startsWith('type=') ? fieldSelector.slice(5) : null;
    const filter = (o: KubeObj) => typeWanted === null || o['type'] === typeWanted;
    if (u.searchParams.get('watch') === 'true') return this.#watch(collection, u.searchParams, filter, res);
    const av = collection.startsWith('/api/v1/') ? 'v1' : collection.split('/').slice(2, 4).join('/');
    const builtIn = BUILT_IN_GROUP.test(av);
    const items = [...this.#collection(collection).values()].filter(filter).map((o) => (builtIn ? { ...o, apiVersion: undefined, kind: undefined } : o));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: av, kind: 'List', metadata: { resourceVersion: String(this.#rv) }, items }));
  }

  #watch(collection: string, q: URLSearchParams, filter: (o: KubeObj) => boolean, res: ServerResponse): void {
    const from = Number(q.get('resourceVersion') ?? '0');
    if (from !== 0 && from < this.#compactedBelow - 1) {
      const message = `too old resource version: ${from} (${this.#compactedBelow - 1})`;
      if (this.goneAs === 'status') return status(res, 410, 'Expired', message);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 } }) + '\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    for (const e of this.#history) if (e.rv > from && e.collection === collection && filter(e.object)) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n');
    const w: Watcher = { collection, res, bookmarks: q.get('allowWatchBookmarks') === 'true', filter };
    this.#watchers.add(w);
    res.on('close', () => this.#watchers.delete(w));
  }

  #lease(method: string, namespace: string, name: string | undefined, body: KubeObj | undefined, res: ServerResponse): void {
    const collection = '/apis/coordination.k8s.io/v1/leases';
    const send = (code: number, o: KubeObj) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...o }));
    };
    if (method === 'GET' && name !== undefined) {
      const o = this.get(collection, namespace, name);
      return o === undefined ? status(res, 404, 'NotFound', `leases "${name}" not found`) : send(200, o);
    }
    if (method === 'POST' && name === undefined && body !== undefined) {
      if (this.get(collection, namespace, body.metadata.name) !== undefined) return status(res, 409, 'AlreadyExists', `leases "${body.metadata.name}" already exists`);
      return send(201, this.put(collection, { ...body, metadata: { ...body.metadata, namespace } }));
    }
    if (method === 'PUT' && name !== undefined && body !== undefined) {
      const current = this.get(collection, namespace, name);
      if (current === undefined) return status(res, 404, 'NotFound', `leases "${name}" not found`);
      if (body.metadata.resourceVersion !== current.metadata.resourceVersion) {
        return status(res, 409, 'Conflict', `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      return send(200, this.put(collection, { ...body, metadata: { ...body.metadata, namespace } }));
    }
    status(res, 405, 'MethodNotAllowed', 'not served by this stand-in');
  }
}
