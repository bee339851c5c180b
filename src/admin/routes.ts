// The admin API's routes: one table (method, path template, handler), from which the
// router matches and the OpenAPI document lists its paths. Entity routes are generated
// from the kinds table.
import { ConfigError, formatPath, formatProblem } from '../base/problems.js';
import { parseConfigText } from '../config/source.js';
import { validateConfig } from '../compiler/validate.js';
import type { ConfigControl } from '../store/control.js';
import { disassemble, settingsOf, type Body, type EntityRow } from '../store/document.js';
import { EntityError, etagOf, findRow, planCreate, planDelete, planPatch, planReplace, planReplaceAll } from '../store/entities.js';
import { ENTITY_SECTIONS, KINDS, pluginScope, type Kind } from '../store/kinds.js';
import { publicCredential } from '../store/secrets.js';
import { PEER_MAX_AGE_MS } from '../store/control.js';
import type { ErrorCode } from '../base/errors.js';
import { parsePurge } from '../plugins/cache/purge-endpoint.js';
import type { PurgeReport } from '../plugins/cache/purge.js';
import type { PurgeRequest } from '../plugins/cache/store.js';
import type { RawConfig } from '../config/types.js';

export interface AdminRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body (already size-limited). */
  text: string;
  json(): unknown;
}

export interface AdminReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export class AdminProblem extends Error {
  readonly code: ErrorCode;
  readonly extra: Record<string, unknown>;
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(detail);
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

/** What the admin API can ask of the node it runs on, beyond its configuration. */
export interface AdminNode {
  /** Purges the caches of the running config: this node's memory caches (every worker) and the Redis caches. */
  purgeCache(req: PurgeRequest): Promise<PurgeReport>;
  /** The config in service (the console's explain and route table compile it). */
  config(): RawConfig;
  /** The node's metrics in the Prometheus text format, summed across workers; null when it has none. */
  readonly metrics: (() => Promise<string>) | null;
}

export interface AdminRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  summary: string;
  kind?: Kind;
  /** Changes the configuration (refused in file mode). */
  write?: boolean;
  /** Media types a body may have (default application/json). */
  accepts?: readonly string[];
  handler(req: AdminRequest, control: ConfigControl, node: AdminNode): Promise<AdminReply> | AdminReply;
}

/** What POST /config reads: JSON or YAML (none of them a type a page can send without a CORS preflight). */
export const CONFIG_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml'] as const;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** What a GET shows of an entity. */
export function present(row: EntityRow): Record<string, unknown> {
  const body = row.kind === 'credentials' ? publicCredential(row.body) : row.body;
  const extra = row.kind === 'plugins' ? { scope: pluginScope(row.body) } : {};
  return { id: row.id, ...body, ...extra, tags: row.tags, version: row.version, created_at: row.created_at, updated_at: row.updated_at };
}

function objectBody(req: AdminRequest): Body {
  const v = req.json();
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AdminProblem('bad-request', 'the body must be a JSON object');
  return v as Body;
}

const ifMatch = (req: AdminRequest): string | undefined => {
  const v = req.headers['if-match'];
  return Array.isArray(v) ? v.join(',') : v;
};

const entityReply = (status: number, row: EntityRow, extra: Record<string, string> = {}): AdminReply => ({ status, body: present(row), headers: { etag: etagOf(row), ...extra } });

function list(kind: Kind) {
  return async (req: AdminRequest, control: ConfigControl): Promise<AdminReply> => {
    const allowed = new Set(['limit', 'cursor', 'offset', 'tag', ...kind.filters]);
    for (const k of req.query.keys()) if (!allowed.has(k)) throw new AdminProblem('bad-request', `unknown query parameter "${k}"; ${kind.name} take: ${[...allowed].join(', ')}`);
    const limitText = req.query.get('limit') ?? String(DEFAULT_LIMIT);
    if (!/^[0-9]{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw new AdminProblem('bad-request', `limit must be 1-${MAX_LIMIT}`);
    const limit = Number(limitText);
    let rows = (await control.state()).rows.filter((r) => r.kind === kind.name);
    for (const f of kind.filters) {
      const want = req.query.get(f);
      if (want === null) continue;
      rows = rows.filter((r) => (f === 'scope' && kind.name === 'plugins' ? pluginScope(r.body) : r.body[f]) === want);
    }
    const tag = req.query.get('tag');
    if (tag !== null) rows = rows.filter((r) => r.tags.includes(tag));
    rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // Keyset pagination: the cursor is the (key, id) of the last entity of the previous page.
    let start = 0;
    const cursor = req.query.get('cursor');
    if (cursor !== null) {
      let after: [string, string];
      try {
        after = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string];
        if (!Array.isArray(after) || typeof after[0] !== 'string' || typeof after[1] !== 'string') throw new Error();
      } catch {
        throw new AdminProblem('bad-request', 'invalid cursor; use the "next" link of the previous page');
      }
      start = rows.findIndex((r) => r.key > after[0] || (r.key === after[0] && r.id > after[1]));
      if (start === -1) start = rows.length;
    } else if (req.query.get('offset') !== null) {
      const o = req.query.get('offset')!;
      if (!/^[0-9]{1,9}$/.test(o)) throw new AdminProblem('bad-request', 'offset must be a non-negative integer');
      start = Number(o);
    }
    const page = rows.slice(start, start + limit);
    let next: string | null = null;
    if (start + limit < rows.length) {
      const last = page[page.length - 1]!;
      const q = new URLSearchParams(req.query);
      q.delete('offset');
      q.set('cursor', Buffer.from(JSON.stringify([last.key, last.id])).toString('base64url'));
      next = `/${kind.name}?${q.toString()}`;
    }
    return { status: 200, body: { data: page.map(present), total: rows.length, next } };
  };
}

function entityRoutes(kind: Kind): AdminRoute[] {
  const one = `/${kind.name}/{id}`;
  return [
    { method: 'GET', path: `/${kind.name}`, summary: `List ${kind.name}`, kind, handler: list(kind) },
    {
      method: 'POST', path: `/${kind.name}`, summary: `Create a ${kind.singular}`, kind, write: true,
      handler: async (req, control) => {
        const body = objectBody(req);
        const done = await control.write((s) => planCreate(s, kind, body), { kind: kind.name });
        return entityReply(201, done.row!, { location: `/${kind.name}/${encodeURIComponent(done.row!.id)}` });
      },
    },
    {
      method: 'GET', path: one, summary: `Get a ${kind.singular} by id or name`, kind,
      handler: async (req, control) => {
        const row = findRow((await control.state()).rows, kind.name, req.params['id']!);
        if (!row) throw new EntityError('entity-not-found', `no ${kind.singular} with id or name "${req.params['id']}"`);
        return entityReply(200, row);
      },
    },
    {
      method: 'PUT', path: one, summary: `Replace a ${kind.singular}`, kind, write: true,
      handler: async (req, control) => {
        const body = objectBody(req);
        const done = await control.write((s) => planReplace(s, kind, req.params['id']!, body, ifMatch(req)));
        return entityReply(200, done.row!);
      },
    },
    {
      method: 'PATCH', path: one, summary: `Change a ${kind.singular} (JSON merge patch)`, kind, write: true, accepts: ['application/json', 'application/merge-patch+json'],
      handler: async (req, control) => {
        const body = objectBody(req);
        const done = await control.write((s) => planPatch(s, kind, req.params['id']!, body, ifMatch(req)));
        return entityReply(200, done.row!);
      },
    },
    {
      method: 'DELETE', path: one, summary: `Delete a ${kind.singular} (?cascade=true also deletes what uses it)`, kind, write: true,
      handler: async (req, control) => {
        const cascade = req.query.get('cascade') === 'true';
        await control.write((s) => planDelete(s, kind, req.params['id']!, cascade, ifMatch(req)));
        return { status: 204 };
      },
    },
  ];
}

async function status(_req: AdminRequest, control: ConfigControl): Promise<AdminReply> {
  const state = await control.state();
  const entities: Record<string, number> = {};
  for (const k of KINDS) entities[k.name] = state.rows.filter((r) => r.kind === k.name).length;
  const store = control.store;
  const peers = store === null ? [] : await store.nodes(PEER_MAX_AGE_MS);
  return {
    status: 200,
    body: {
      node_id: control.nodeId,
      mode: control.mode,
      config_version: control.version,
      store_version: state.version,
      store: store?.description ?? null,
      uptime_s: Math.round((Date.now() - control.startedAt.getTime()) / 1000),
      entities,
      peers: peers.map((p) => ({ id: p.id, hostname: p.hostname, pid: p.pid, started_at: p.started_at, seen_at: p.seen_at, config_version: p.config_version })),
    },
  };
}

/** Why POST /config does not resolve `${VAR}`, and what to do instead. */
const ENV_ADVICE = 'the admin API does not resolve environment references (the gateway\'s environment is not the sender\'s, and holds the gateway\'s own secrets): write the value, substitute before sending (envsubst < FILE | curl --data-binary @- ...), or apply the file with "northgate config apply --store URL -c FILE", which resolves ${VAR} from its environment as the file loader does';

/** POST /config: replaces every entity from a YAML or JSON document, all or nothing. */
async function replaceConfig(req: AdminRequest, control: ConfigControl): Promise<AdminReply> {
  const file = 'body';
  let source;
  try {
    source = parseConfigText(file, req.text, {}, ENV_ADVICE);
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminProblem('invalid-config', `${err.problems.length} problem(s); first: ${err.lines()[0]}`, { problems: err.lines() });
    throw err;
  }
  const posted = source.value;
  if (posted === null || typeof posted !== 'object' || Array.isArray(posted)) throw new AdminProblem('invalid-config', 'the document must be a mapping with _format_version and entity sections', { problems: [`${file}:1:1 (root): must be a mapping`] });
  const doc = posted as Record<string, unknown>;
  const ignored = Object.keys(settingsOf(doc)).filter((k) => k !== '_format_version');
  const merged: Record<string, unknown> = { ...control.settings, _format_version: doc['_format_version'] };
  for (const k of ENTITY_SECTIONS) if (doc[k] !== undefined) merged[k] = doc[k];
  const { problems } = validateConfig(merged, control.registry);
  if (problems.length > 0) {
    const lines = source.locate(problems).map((p) => formatProblem(file, p));
    throw new AdminProblem('invalid-config', `${lines.length} problem(s); first: ${lines[0]}`, { problems: lines });
  }
  const inputs = disassemble(merged);
  const dryRun = req.query.get('dry_run') === 'true';
  let summary: { created: EntityRow[]; changed: EntityRow[]; deleted: EntityRow[] } = { created: [], changed: [], deleted: [] };
  let version = control.version;
  if (dryRun) {
    summary = planReplaceAll(await control.state(), inputs);
  } else {
    const done = await control.write((s) => (summary = planReplaceAll(s, inputs)));
    version = done.version;
  }
  const names = (rows: EntityRow[]) => rows.map((r) => `${r.kind}/${r.key}`);
  return {
    status: 200,
    body: {
      dry_run: dryRun,
      config_version: version,
      created: names(summary.created),
      changed: names(summary.changed),
      deleted: names(summary.deleted),
      ...(ignored.length > 0 ? { warnings: ignored.map((k) => `"${k}" is a node setting (from the node's config file), not stored: ignored`) } : {}),
    },
  };
}

export function buildRoutes(openapi: () => unknown): AdminRoute[] {
  return [
    {
      method: 'GET', path: '/', summary: 'What this API offers',
      handler: (_r, control) => ({ status: 200, body: { name: 'northgate admin API', mode: control.mode, openapi: '/openapi.json', status: '/status', entities: KINDS.map((k) => `/${k.name}`) } }),
    },
    { method: 'GET', path: '/status', summary: 'Node and cluster status', handler: status },
    { method: 'GET', path: '/openapi.json', summary: 'This API as an OpenAPI 3.1 document', handler: () => ({ status: 200, body: openapi() }) },
    { method: 'POST', path: '/config', summary: 'Replace the whole configuration (YAML or JSON); ?dry_run=true shows the changes only', write: true, accepts: CONFIG_TYPES, handler: replaceConfig },
    { method: 'POST', path: '/cache/purge', summary: 'Purge cached responses by tag (Surrogate-Key) and/or path: the memory caches of this node and the Redis caches', handler: purgeCache },
    ...KINDS.flatMap(entityRoutes),
  ];
}

/** `{"tags": [...], "paths": [...]}` → `{"purged": n, "memory": …, "redis": […]}`; 503 when a cache could not be purged. */
async function purgeCache(req: AdminRequest, _control: ConfigControl, node: AdminNode): Promise<AdminReply> {
  const parsed = parsePurge(req.json());
  if (typeof parsed === 'string') throw new AdminProblem('bad-request', parsed);
  const report = await node.purgeCache(parsed);
  const failed = report.redis.filter((r) => r.error !== undefined).map((r) => `redis ${r.url} (${r.prefix}): ${r.error}`);
  if (report.memory !== null && 'error' in report.memory) failed.push(`memory caches: ${report.memory.error}`);
  if (failed.length > 0) throw new AdminProblem('cache-unavailable', `not every cache was purged: ${failed.join('; ')}`, { report });
  return { status: 200, body: report };
}

/** Located problems of an EntityError, for the 400 body. */
export function problemList(err: EntityError): Array<Record<string, string>> {
  return err.problems.map((p) => ({
    ...(p.kind && p.id !== err.ownId ? { entity: `${p.kind}/${p.id}`, ...(p.name !== undefined ? { name: p.name } : {}) } : {}),
    path: p.path.length === 0 ? '' : formatPath(p.path),
    message: p.message,
  }));
}
