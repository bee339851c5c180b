// The console's own endpoints under /ui/api/ (entities go through the admin API itself):
// sign-in and out, the dashboard, the schemas forms are generated from, explain and the
// route table of the running config, and in `mode: file` an entity's YAML and the diff of a
// proposed change, validated as a write would be.
import type { IncomingMessage } from 'node:http';
import { lazyRequire } from '../../base/lazy-require.js';
import { HTTP_TOKEN_PATTERN } from '../../base/schema-defs.js';
import { buildSnapshot } from '../../compiler/load.js';
import { explainRequest, routeTable } from '../../compiler/explain.js';
import type { Snapshot } from '../../compiler/snapshot.js';
import type { RawConfig } from '../../config/types.js';
import type { ConfigControl } from '../../store/control.js';
import { EntityError, findRow, planReplace } from '../../store/entities.js';
import { KIND_BY_NAME, KINDS } from '../../store/kinds.js';
import { PoolRegistry } from '../../upstream/pools.js';
import { inputSchema } from '../openapi.js';
import { buildConfigSchema } from '../../compiler/schema.js';
import { AdminProblem, present, type AdminReply } from '../routes.js';
import { lineDiff } from './line-diff.js';
import { CLEARED_COOKIE, ConsoleSessions, IDLE_MS, sessionCookie } from './sessions.js';
import type { TrafficHistory } from './traffic.js';

// The YAML writer (an entity's view, the diff of a change) loads on the first such request:
// this module loads with every `start` (admin/plane.ts), and most never serve the console.
const yaml = lazyRequire<typeof import('yaml')>('yaml');
const stringify = (value: unknown): string => yaml().stringify(value);

/** Who is asking: the token (or no token configured), a session, or nobody yet. */
export type ConsoleAccess = { kind: 'open' } | { kind: 'token' } | { kind: 'session'; csrf: string } | { kind: 'none' };

export interface ConsoleContext {
  readonly control: ConfigControl;
  readonly sessions: ConsoleSessions;
  readonly traffic: TrafficHistory | null;
  readonly tokenRequired: boolean;
  /** The admin token matches (constant time). */
  tokenMatches(token: string): boolean;
  /** The config the node runs. */
  current(): RawConfig;
}

export interface ConsoleCall {
  method: string;
  path: string;
  query: URLSearchParams;
  req: IncomingMessage;
  access: ConsoleAccess;
  json(): unknown;
}

const MAX_EXPLAIN_HEADERS = 50;
const HEADER_NAME = new RegExp(HTTP_TOKEN_PATTERN);

export async function consoleApi(call: ConsoleCall, c: ConsoleContext): Promise<AdminReply> {
  const route = `${call.method} ${call.path}`;
  if (route === 'GET /ui/api/session') return sessionState(call, c);
  if (route === 'POST /ui/api/session') return signIn(call, c);
  if (route === 'DELETE /ui/api/session') {
    c.sessions.destroy(call.req);
    return { status: 204, headers: { 'set-cookie': CLEARED_COOKIE } };
  }
  if (call.access.kind === 'none') throw new AdminProblem('unauthorized', 'sign in to the console first (POST /ui/api/session with the admin token), or send "Authorization: Bearer <admin.token>"');
  switch (route) {
    case 'GET /ui/api/dashboard':
      return { status: 200, body: await dashboard(call, c) };
    case 'GET /ui/api/schemas':
      return { status: 200, body: schemas(c) };
    case 'GET /ui/api/routes':
      return withRunningSnapshot(c, (s) => ({ status: 200, body: { data: routeTable(s) } }));
    case 'POST /ui/api/explain':
      return explain(call, c);
    case 'GET /ui/api/yaml':
      return entityYaml(call, c);
    case 'POST /ui/api/diff':
      return proposedDiff(call, c);
  }
  throw new AdminProblem('route-not-found', `no console endpoint at ${call.method} ${call.path}`);
}

function sessionState(call: ConsoleCall, c: ConsoleContext): AdminReply {
  const signedIn = call.access.kind !== 'none';
  return {
    status: 200,
    body: {
      token_required: c.tokenRequired,
      signed_in: signedIn,
      // The page keeps this in memory only, and sends it back as X-CSRF-Token on writes.
      csrf_token: call.access.kind === 'session' ? call.access.csrf : null,
      mode: c.control.mode,
      idle_timeout_s: IDLE_MS / 1000,
    },
  };
}

function signIn(call: ConsoleCall, c: ConsoleContext): AdminReply {
  if (!c.tokenRequired) return sessionState(call, c);
  const wait = c.sessions.throttled();
  if (wait > 0) throw new AdminProblem('sign-in-throttled', `too many wrong tokens; try again in ${wait} s`, {}, { 'retry-after': String(wait) });
  const body = call.json();
  const token = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['token'] : undefined;
  if (typeof token !== 'string' || token === '' || token.length > 4096) throw new AdminProblem('bad-request', 'send {"token": "<admin.token>"}');
  if (!c.tokenMatches(token)) {
    c.sessions.failed();
    throw new AdminProblem('unauthorized', 'that is not the admin token');
  }
  // Whatever session cookie came with the request is dropped: the new id is the server's.
  c.sessions.destroy(call.req);
  const { id, session } = c.sessions.create();
  return { status: 201, body: { token_required: true, signed_in: true, csrf_token: session.csrf, mode: c.control.mode, idle_timeout_s: IDLE_MS / 1000 }, headers: { 'set-cookie': sessionCookie(id) } };
}

const TARGET_HEALTH = 'northgate_upstream_target_health';
const CIRCUIT = 'northgate_circuit_state';
const CIRCUIT_STATES = ['closed', 'open', 'half-open'];

async function dashboard(call: ConsoleCall, c: ConsoleContext) {
  const service = call.query.get('service');
  const route = call.query.get('route');
  if (c.traffic === null) return { metrics: false, config_version: c.control.version, mode: c.control.mode };
  const s = c.traffic.summary(service === null ? undefined : { service, route });
  const gauge = (name: string) => s.gauges.filter((g) => g.name === name);
  const reloads = (result: string) => gauge('northgate_config_reloads_total').find((g) => g.labels['result'] === result)?.value ?? 0;
  const last = gauge('northgate_config_last_reload_success_timestamp_seconds')[0]?.value;
  return {
    metrics: true,
    now: Date.now(),
    since: s.since,
    config_version: c.control.version,
    mode: c.control.mode,
    reloads: { success: reloads('success'), failure: reloads('failure'), last_success_at: last === undefined ? null : Math.round(last * 1000) },
    routes: s.routes,
    points: s.points,
    targets: gauge(TARGET_HEALTH).map((g) => ({ upstream: g.labels['upstream'] ?? '', target: g.labels['target'] ?? '', healthy: g.value === 1 })),
    circuits: gauge(CIRCUIT).map((g) => ({ service: g.labels['service'] ?? '', state: CIRCUIT_STATES[g.value] ?? String(g.value) })),
  };
}

let schemaCache: { registry: unknown; body: unknown } | null = null;

/** What each kind's form edits (the admin API's input schemas) and each plugin's config schema. */
function schemas(c: ConsoleContext) {
  const registry = c.control.registry;
  if (schemaCache?.registry === registry) return schemaCache.body;
  const config = buildConfigSchema(registry.all()) as Record<string, any>;
  const kinds = Object.fromEntries(KINDS.map((k) => [k.name, { singular: k.singular, refs: k.refs, filters: k.filters, schema: inputSchema(k, config) }]));
  const plugins = Object.fromEntries(registry.all().map((p) => [p.name, p.schema]));
  // A credential's fields depend on its type: the config file's element for each type.
  const byType = config['properties'].consumers.items.properties.credentials.properties as Record<string, { items: unknown }>;
  const credentials = Object.fromEntries(Object.entries(byType).map(([type, s]) => [type, s.items]));
  const body = { kinds, plugins, credentials };
  schemaCache = { registry, body };
  return body;
}

/** Compiles the running config (as `northgate explain` does) for one answer, then lets it go. */
async function withRunningSnapshot(c: ConsoleContext, fn: (s: Snapshot) => AdminReply): Promise<AdminReply> {
  const pools = new PoolRegistry();
  const { snapshot } = buildSnapshot(c.current(), c.control.registry, pools, c.control.version, 'console');
  try {
    return fn(snapshot);
  } finally {
    snapshot.dispose();
    await pools.closeAll();
  }
}

function explain(call: ConsoleCall, c: ConsoleContext): Promise<AdminReply> {
  const body = call.json() as Record<string, unknown> | null;
  const method = body?.['method'];
  const url = body?.['url'];
  const given = body?.['headers'] ?? {};
  if (typeof method !== 'string' || !/^[A-Za-z]{1,20}$/.test(method)) throw new AdminProblem('bad-request', 'method must be an HTTP method name');
  if (typeof url !== 'string' || url.length === 0 || url.length > 8192) throw new AdminProblem('bad-request', 'url must be a full http(s) URL or a path, at most 8192 characters');
  if (given === null || typeof given !== 'object' || Array.isArray(given) || Object.keys(given).length > MAX_EXPLAIN_HEADERS) throw new AdminProblem('bad-request', `headers must be an object of at most ${MAX_EXPLAIN_HEADERS} names to string values`);
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(given as Record<string, unknown>)) {
    if (typeof value !== 'string' || name.length > 256 || !HEADER_NAME.test(name)) throw new AdminProblem('bad-request', `header "${name.slice(0, 64)}" needs a token name and a string value`);
    headers.set(name.toLowerCase(), value);
  }
  return withRunningSnapshot(c, (s) => {
    const x = explainRequest(s, { method, url, headers });
    if (typeof x === 'string') throw new AdminProblem('bad-request', x);
    return { status: 200, body: x };
  });
}

/** An entity as the config file holds it: its body, without what the API adds. */
function fileBody(shown: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, version: _v, created_at: _c, updated_at: _u, scope: _s, tags: _t, ...body } = shown;
  return body;
}

function kindOf(name: string | null) {
  const kind = name === null ? undefined : KIND_BY_NAME.get(name);
  if (kind === undefined) throw new AdminProblem('bad-request', `kind must be one of: ${KINDS.map((k) => k.name).join(', ')}`);
  return kind;
}

async function entityYaml(call: ConsoleCall, c: ConsoleContext): Promise<AdminReply> {
  const kind = kindOf(call.query.get('kind'));
  const id = call.query.get('id') ?? '';
  const row = findRow((await c.control.state()).rows, kind.name, id);
  if (!row) throw new EntityError('entity-not-found', `no ${kind.singular} with id or name "${id}"`);
  return { status: 200, body: { kind: kind.name, id: row.id, yaml: stringify(fileBody(present(row))) } };
}

/** `{kind, id, body}`: the change checked as a PUT would be (same problems), shown as a YAML diff. */
async function proposedDiff(call: ConsoleCall, c: ConsoleContext): Promise<AdminReply> {
  const input = call.json() as Record<string, unknown> | null;
  const kind = kindOf(typeof input?.['kind'] === 'string' ? input['kind'] : null);
  const id = input?.['id'];
  const body = input?.['body'];
  if (typeof id !== 'string' || body === null || typeof body !== 'object' || Array.isArray(body)) throw new AdminProblem('bad-request', 'send {"kind", "id", "body": {...}}');
  const planned = await c.control.check((s) => planReplace(s, kind, id, body as Record<string, unknown>, undefined), { kind: kind.name, id });
  const before = findRow((await c.control.state()).rows, kind.name, id)!;
  const after = planned.row!;
  const a = stringify(fileBody(present(before)));
  const b = stringify(fileBody(present(after)));
  return { status: 200, body: { kind: kind.name, id: before.id, before: a, after: b, diff: lineDiff(a, b) } };
}
