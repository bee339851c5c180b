// Entities <-> the config document. The store keeps one row per entity; the gateway
// assembles a document from them and runs the same validate + compile path as a file, so
// messages and paths are the file's. `owners` maps document paths back to entities, so a
// problem at services[2].routes[0].paths[1] is reported as route <id>, path paths[1].
import { consumerIdFor } from '../consumers/index.js';
import type { ConfigPath, ConfigProblem } from '../base/problems.js';
import { CREDENTIAL_TYPES, ENTITY_SECTIONS, KIND_BY_NAME, type KindName } from './kinds.js';

export type Body = Record<string, unknown>;

export interface EntityRow {
  kind: KindName;
  id: string;
  key: string;
  version: number;
  body: Body;
  tags: string[];
  created_at: string;
  updated_at: string;
}

/** An entity as read from a document (no id or version yet). */
export interface EntityInput {
  kind: KindName;
  key: string;
  body: Body;
  /** The id a file gives (consumers and credentials), else undefined. */
  id?: string;
}

export interface Owner {
  path: ConfigPath;
  kind: KindName;
  id: string;
  /** Prepended to the rest of a problem's path (a plugin's config lives under `config`). */
  prefix: ConfigPath;
}

export interface Assembled {
  doc: Record<string, unknown>;
  owners: Owner[];
}

const omit = (body: Body, keys: readonly string[]): Body => {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) if (!keys.includes(k)) out[k] = v;
  return out;
};

const byKey = (a: EntityRow, b: EntityRow): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Builds the config document: node settings plus every entity, sorted by natural key. */
export function assemble(rows: readonly EntityRow[], settings: Record<string, unknown> = { _format_version: '1' }): Assembled {
  const of = (kind: KindName) => rows.filter((r) => r.kind === kind).sort(byKey);
  const children = (kind: KindName, field: string, parentKey: string) => of(kind).filter((r) => r.body[field] === parentKey);
  const owners: Owner[] = [];
  const own = (path: ConfigPath, r: EntityRow, prefix: ConfigPath = []) => owners.push({ path, kind: r.kind, id: r.id, prefix });
  const doc: Record<string, unknown> = { ...settings };

  const plugins = of('plugins');
  const pluginMap = (scope: 'global' | 'service' | 'route', ref: string | undefined, at: ConfigPath): Body | undefined => {
    const list = plugins.filter((p) => (scope === 'global' ? p.body['service'] === undefined && p.body['route'] === undefined : p.body[scope] === ref && (scope === 'route' || p.body['route'] === undefined)));
    if (list.length === 0) return undefined;
    const map: Body = {};
    for (const p of list) {
      map[String(p.body['name'])] = p.body['config'] ?? {};
      own([...at, String(p.body['name'])], p, ['config']);
    }
    return map;
  };

  const upstreams = of('upstreams').map((u, i) => {
    own(['upstreams', i], u);
    const targets = children('targets', 'upstream', u.key).map((t, j) => {
      own(['upstreams', i, 'targets', j], t);
      return omit(t.body, ['upstream']);
    });
    return { ...u.body, targets };
  });
  if (upstreams.length > 0) doc['upstreams'] = upstreams;

  const services = of('services').map((s, i) => {
    own(['services', i], s);
    const out: Body = { ...s.body };
    const sp = pluginMap('service', s.key, ['services', i, 'plugins']);
    if (sp) out['plugins'] = sp;
    const routes = children('routes', 'service', s.key).map((r, j) => {
      own(['services', i, 'routes', j], r);
      const route = omit(r.body, ['service']);
      const rp = pluginMap('route', r.key, ['services', i, 'routes', j, 'plugins']);
      if (rp) route['plugins'] = rp;
      return route;
    });
    if (routes.length > 0) out['routes'] = routes;
    return out;
  });
  if (services.length > 0) doc['services'] = services;

  const consumers = of('consumers').map((c, i) => {
    own(['consumers', i], c);
    const out: Body = { ...c.body };
    const creds: Body = {};
    for (const type of CREDENTIAL_TYPES) {
      const list = children('credentials', 'consumer', c.key).filter((r) => r.body['type'] === type);
      if (list.length === 0) continue;
      creds[type] = list.map((r, j) => {
        own(['consumers', i, 'credentials', type, j], r);
        return omit(r.body, ['consumer', 'type']);
      });
    }
    if (Object.keys(creds).length > 0) out['credentials'] = creds;
    return out;
  });
  if (consumers.length > 0) doc['consumers'] = consumers;

  const globals = pluginMap('global', undefined, ['plugins']);
  if (globals) doc['plugins'] = globals;
  const plans = of('plans').map((p, i) => {
    own(['plans', i], p);
    return p.body;
  });
  // Only when there are some: a gateway whose schema has no `plans` yet still loads.
  if (plans.length > 0) doc['plans'] = plans;
  return { doc, owners };
}

/** Splits a (validated) config document into entities, with the file's defaults made explicit. */
export function disassemble(doc: Record<string, unknown>): EntityInput[] {
  const out: EntityInput[] = [];
  const add = (kind: KindName, body: Body, id?: string) => out.push({ kind, key: KIND_BY_NAME.get(kind)!.key(body), body, ...(id !== undefined ? { id } : {}) });
  const list = (v: unknown): Body[] => (Array.isArray(v) ? (v as Body[]) : []);
  const map = (v: unknown): Body => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Body) : {});
  const plugins = (m: unknown, scope: Body) => {
    for (const [name, config] of Object.entries(map(m))) add('plugins', { name, ...scope, config });
  };
  for (const u of list(doc['upstreams'])) {
    add('upstreams', omit(u, ['targets']));
    for (const t of list(u['targets'])) add('targets', { upstream: u['name'], ...t });
  }
  for (const s of list(doc['services'])) {
    add('services', omit(s, ['routes', 'plugins']));
    plugins(s['plugins'], { service: s['name'] });
    list(s['routes']).forEach((r, j) => {
      const name = typeof r['name'] === 'string' ? r['name'] : `${String(s['name'])}-${j}`;
      add('routes', { service: s['name'], ...omit(r, ['plugins']), name });
      plugins(r['plugins'], { route: name });
    });
  }
  for (const c of list(doc['consumers'])) {
    const username = String(c['username']);
    const id = typeof c['id'] === 'string' ? c['id'] : consumerIdFor(username);
    add('consumers', { ...omit(c, ['credentials']), id }, id);
    for (const type of CREDENTIAL_TYPES) {
      list(map(c['credentials'])[type]).forEach((cred, j) => {
        const cid = typeof cred['id'] === 'string' ? cred['id'] : `${username}/${type}/${j}`;
        add('credentials', { consumer: username, type, ...cred, id: cid }, cid);
      });
    }
  }
  plugins(doc['plugins'], {});
  for (const p of list(doc['plans'])) add('plans', p);
  return out;
}

/** The node settings of a document: everything but the entity sections. */
export function settingsOf(doc: Record<string, unknown>): Record<string, unknown> {
  return omit(doc, ENTITY_SECTIONS);
}

export interface EntityProblem {
  kind?: KindName;
  id?: string;
  /** How an operator names the entity (`route users`), when known. */
  name?: string;
  path: ConfigPath;
  message: string;
}

/** How an operator names an entity: `route users`, `plugin cors on service orders`, `target http://a:80 of upstream pool`. */
export function describeRow(row: EntityRow): string {
  const b = row.body;
  switch (row.kind) {
    case 'targets':
      return `target ${String(b['url'] ?? b['srv'])} of upstream ${String(b['upstream'])}`;
    case 'credentials':
      return `${String(b['type'])} credential ${row.id} of consumer ${String(b['consumer'])}`;
    case 'plugins':
      return typeof b['route'] === 'string' ? `plugin ${String(b['name'])} on route ${b['route']}` : typeof b['service'] === 'string' ? `plugin ${String(b['name'])} on service ${b['service']}` : `global plugin ${String(b['name'])}`;
    default:
      return `${KIND_BY_NAME.get(row.kind)!.singular} ${row.key}`;
  }
}

/** `services[0].routes[1]`, `consumers[2].credentials.key-auth[0]`: where the validator says another element is. */
const COORDINATES = /\b(?:upstreams|services|consumers|plans)\[\d+\](?:\.credentials\.[a-z-]+\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*\[\d+\])*/g;

/**
 * Replaces the assembled document's coordinates in a message by the entity they point at
 * (`matches exactly the same requests as route users`): the document is built from the
 * store, so its positions mean nothing to whoever reads the message.
 */
export function nameCoordinates(message: string, owners: readonly Owner[], rows: readonly EntityRow[]): string {
  return message.replace(COORDINATES, (text) => {
    const parts = [...text.matchAll(/([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
    const owner = owners.find((o) => o.path.length === parts.length && o.path.every((x, i) => x === parts[i]));
    const row = owner && rows.find((r) => r.kind === owner.kind && r.id === owner.id);
    return row ? describeRow(row) : text;
  });
}

/** Maps each document problem to the entity that owns its path (the longest matching owner). */
export function mapProblems(problems: readonly ConfigProblem[], owners: readonly Owner[]): EntityProblem[] {
  return problems.map((p) => {
    let best: Owner | undefined;
    for (const o of owners) {
      if (o.path.length > p.path.length || (best && best.path.length >= o.path.length)) continue;
      if (o.path.every((part, i) => part === p.path[i])) best = o;
    }
    if (!best) return { path: p.path, message: p.message };
    return { kind: best.kind, id: best.id, path: [...best.prefix, ...p.path.slice(best.path.length)], message: p.message };
  });
}
