// Entity operations, computed in memory on a read state: each returns the writes to commit
// and the resulting row, or throws an EntityError (404, 409, 412 or 400 with problems).
// Generic over the kinds table: references, cascades and renames follow `refs`.
import { randomUUID } from 'node:crypto';
import { consumerIdFor } from '../consumers/index.js';
import { didYouMean } from '../base/problems.js';
import type { Body, EntityInput, EntityProblem, EntityRow } from './document.js';
import { CREDENTIAL_TYPES, KINDS, KIND_BY_NAME, META_FIELDS, type Kind, type KindName } from './kinds.js';
import { storedCredential } from './secrets.js';
import { unknownFields } from './fields.js';
import type { StoreState, Write } from './store.js';

export type EntityErrorCode = 'entity-not-found' | 'entity-conflict' | 'precondition-failed' | 'invalid-entity';

export class EntityError extends Error {
  readonly code: EntityErrorCode;
  readonly problems: EntityProblem[];
  /** The id of the entity written, whose problems need no entity label. */
  readonly ownId: string | undefined;
  constructor(code: EntityErrorCode, detail: string, problems: EntityProblem[] = [], ownId?: string) {
    super(detail);
    this.code = code;
    this.problems = problems;
    this.ownId = ownId;
  }
}

export interface Planned {
  writes: Write[];
  /** Every row after the change (what is validated). */
  rows: EntityRow[];
  row?: EntityRow;
}

/** Fields a GET shows that a write must not carry back. */
const READ_ONLY = [...META_FIELDS, 'key_hash', 'password_set', 'secret_set'];

export const etagOf = (row: EntityRow): string => `"${row.version}"`;

export function findRow(rows: readonly EntityRow[], kind: KindName, ref: string): EntityRow | undefined {
  return rows.find((r) => r.kind === kind && r.id === ref) ?? rows.find((r) => r.kind === kind && r.key === ref);
}

function mustFind(state: StoreState, kind: Kind, ref: string): EntityRow {
  const row = findRow(state.rows, kind.name, ref);
  if (!row) throw new EntityError('entity-not-found', `no ${kind.singular} with id or name "${ref}"`);
  return row;
}

function checkIfMatch(row: EntityRow, ifMatch: string | undefined): void {
  if (ifMatch === undefined || ifMatch === '*') return;
  const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
  if (!tags.includes(etagOf(row))) throw new EntityError('precondition-failed', `the ${KIND_BY_NAME.get(row.kind)!.singular} changed since it was read (its ETag is now ${etagOf(row)}); read it again and retry`);
}

function tagsOf(input: Body, fallback: string[]): string[] {
  const t = input['tags'];
  if (t === undefined) return fallback;
  if (!Array.isArray(t) || t.some((x) => typeof x !== 'string' || x === '' || x.length > 128)) {
    throw new EntityError('invalid-entity', 'invalid tags', [{ path: ['tags'], message: 'must be a list of non-empty strings (max 128 characters)' }]);
  }
  return [...new Set(t as string[])];
}

/** Shapes a body from the API into the stored form, checking what the document cannot. */
function normalize(kind: Kind, input: Body, id: string, state: StoreState, previous?: EntityRow): Body {
  // A plugin's body is not a config element (only name and config reach the document), and a
  // credential's is rewritten below (a password becomes password_hash): check their fields here.
  const problems: EntityProblem[] = kind.name === 'plugins' || kind.name === 'credentials' ? unknownFields(kind, input) : [];
  let body: Body = {};
  for (const [k, v] of Object.entries(input)) if (!READ_ONLY.includes(k) && (k !== 'id' || kind.idField !== undefined)) body[k] = v;
  for (const [field, owner] of Object.entries(kind.owned)) {
    if (field in body) problems.push({ path: [field], message: `${owner} are entities of their own: use /${owner}` });
  }
  if (kind.idField) body['id'] = id;
  if (kind.name === 'routes' && body['name'] === undefined && typeof body['service'] === 'string') body['name'] = `${body['service']}-${id.slice(0, 8)}`;
  for (const field of kind.required) if (typeof body[field] !== 'string') problems.push({ path: [field], message: body[field] === undefined ? `missing required key "${field}"` : 'must be a string' });
  for (const [field, target] of Object.entries(kind.refs)) {
    const v = body[field];
    if (v === undefined) continue;
    if (typeof v !== 'string') {
      problems.push({ path: [field], message: 'must be a string' });
      continue;
    }
    const names = state.rows.filter((r) => r.kind === target).map((r) => r.key);
    if (!names.includes(v)) {
      const hint = didYouMean(v, names);
      problems.push({ path: [field], message: `no ${KIND_BY_NAME.get(target)!.singular} named "${v}"${hint ? ` (did you mean "${hint}"?)` : ''}` });
    }
  }
  if (kind.name === 'plugins' && body['service'] !== undefined && body['route'] !== undefined) problems.push({ path: [], message: 'give "service" or "route" (or neither, for a global plugin), not both' });
  if (kind.name === 'plugins' && body['config'] === undefined) body['config'] = {};
  if (kind.name === 'credentials') {
    if (typeof body['type'] === 'string' && !(CREDENTIAL_TYPES as readonly string[]).includes(body['type'])) problems.push({ path: ['type'], message: `must be one of: ${CREDENTIAL_TYPES.join(', ')}` });
    body = storedCredential(body, previous?.body);
  }
  if (problems.length > 0) throw new EntityError('invalid-entity', `invalid ${kind.singular}`, problems);
  return body;
}

function checkUnique(kind: Kind, key: string, id: string, rows: readonly EntityRow[]): void {
  const other = rows.find((r) => r.kind === kind.name && r.key === key && r.id !== id);
  if (other) throw new EntityError('entity-conflict', `a ${kind.singular} with the same ${kind.name === 'targets' ? 'upstream and url' : kind.name === 'plugins' ? 'name and scope' : 'name'} already exists (id ${other.id})`);
}

/** Rows that reference `row` by its key, with the field that does. */
function referrers(row: EntityRow, rows: readonly EntityRow[]): Array<{ row: EntityRow; field: string }> {
  const out: Array<{ row: EntityRow; field: string }> = [];
  for (const k of KINDS) {
    for (const [field, target] of Object.entries(k.refs)) {
      if (target !== row.kind) continue;
      for (const r of rows) if (r.kind === k.name && r.body[field] === row.key) out.push({ row: r, field });
    }
  }
  return out;
}

function put(state: StoreState, row: EntityRow, previous: EntityRow | undefined): Planned {
  const kind = KIND_BY_NAME.get(row.kind)!;
  checkUnique(kind, row.key, row.id, state.rows);
  const writes: Write[] = [{ op: 'put', row }];
  const replaced = new Map<string, EntityRow>([[`${row.kind}/${row.id}`, row]]);
  // A rename carries its references along (routes follow their service's new name).
  if (previous && previous.key !== row.key) {
    for (const { row: r, field } of referrers(previous, state.rows)) {
      const current = replaced.get(`${r.kind}/${r.id}`) ?? r;
      const body = { ...current.body, [field]: row.key };
      const next = { ...current, body, key: KIND_BY_NAME.get(r.kind)!.key(body), version: current.version + 1, updated_at: row.updated_at };
      replaced.set(`${r.kind}/${r.id}`, next);
    }
    writes.splice(0, 1, ...[...replaced.values()].map((r) => ({ op: 'put' as const, row: r })));
  }
  const rows = state.rows.filter((r) => !replaced.has(`${r.kind}/${r.id}`)).concat([...replaced.values()]);
  return { writes, rows, row };
}

export function planCreate(state: StoreState, kind: Kind, input: Body): Planned {
  // An upstream needs a target and a target its upstream: POST /upstreams takes its first
  // targets inline and creates them as target entities in the same change.
  if (kind.name === 'upstreams' && Array.isArray(input['targets'])) {
    const { targets, ...rest } = input;
    let planned = planCreate(state, kind, rest);
    const upstream = planned.row!;
    const targetKind = KIND_BY_NAME.get('targets')!;
    (targets as unknown[]).forEach((t, i) => {
      const body = t !== null && typeof t === 'object' ? { ...(t as Body), upstream: upstream.key } : t;
      try {
        const next = planCreate({ version: state.version, rows: planned.rows }, targetKind, body as Body);
        planned = { writes: [...planned.writes, ...next.writes], rows: next.rows, row: upstream };
      } catch (err) {
        if (err instanceof EntityError) throw new EntityError(err.code, err.message, err.problems.map((p) => ({ ...p, path: ['targets', i, ...p.path] })));
        throw err;
      }
    });
    return planned;
  }
  const now = new Date().toISOString();
  let id = typeof input['id'] === 'string' && input['id'] !== '' ? input['id'] : undefined;
  if (id === undefined) id = kind.name === 'consumers' && typeof input['username'] === 'string' ? consumerIdFor(input['username']) : randomUUID();
  if (state.rows.some((r) => r.kind === kind.name && r.id === id)) throw new EntityError('entity-conflict', `a ${kind.singular} with id "${id}" already exists`);
  const body = normalize(kind, input, id, state);
  const row: EntityRow = { kind: kind.name, id, key: kind.key(body), version: 1, body, tags: tagsOf(input, []), created_at: now, updated_at: now };
  return put(state, row, undefined);
}

export function planReplace(state: StoreState, kind: Kind, ref: string, input: Body, ifMatch?: string): Planned {
  const old = mustFind(state, kind, ref);
  checkIfMatch(old, ifMatch);
  if (kind.idField && input['id'] !== undefined && input['id'] !== old.id) throw new EntityError('invalid-entity', 'the id cannot change', [{ path: ['id'], message: `must be "${old.id}" (ids are permanent)` }]);
  const body = normalize(kind, input, old.id, state, old);
  const row: EntityRow = { ...old, key: kind.key(body), version: old.version + 1, body, tags: tagsOf(input, old.tags), updated_at: new Date().toISOString() };
  return put(state, row, old);
}

/** JSON merge patch (RFC 7396) on the stored body. */
export function planPatch(state: StoreState, kind: Kind, ref: string, patch: Body, ifMatch?: string): Planned {
  const old = mustFind(state, kind, ref);
  const merged = mergePatch({ ...old.body, tags: old.tags }, patch) as Body;
  return planReplace(state, kind, old.id, merged, ifMatch);
}

export function planDelete(state: StoreState, kind: Kind, ref: string, cascade: boolean, ifMatch?: string): Planned {
  const root = mustFind(state, kind, ref);
  checkIfMatch(root, ifMatch);
  const doomed = new Map<string, EntityRow>([[`${root.kind}/${root.id}`, root]]);
  const queue = [root];
  while (queue.length > 0) {
    const r = queue.shift()!;
    for (const { row } of referrers(r, state.rows)) {
      const k = `${row.kind}/${row.id}`;
      if (doomed.has(k)) continue;
      if (!cascade) {
        const users = referrers(root, state.rows);
        const counts = new Map<string, number>();
        for (const u of users) counts.set(u.row.kind, (counts.get(u.row.kind) ?? 0) + 1);
        const list = [...counts].map(([k2, n]) => `${n} ${n === 1 ? KIND_BY_NAME.get(k2)!.singular : k2}`).join(', ');
        throw new EntityError('entity-conflict', `${kind.singular} "${root.key}" is used by ${list}; delete those first, or delete with ?cascade=true`);
      }
      doomed.set(k, row);
      queue.push(row);
    }
  }
  const writes: Write[] = [...doomed.values()].map((r) => ({ op: 'delete', kind: r.kind, id: r.id }));
  return { writes, rows: state.rows.filter((r) => !doomed.has(`${r.kind}/${r.id}`)) };
}

/** Replaces every entity by those of a document: unchanged rows keep id and version. */
export function planReplaceAll(state: StoreState, inputs: readonly EntityInput[]): Planned & { created: EntityRow[]; changed: EntityRow[]; deleted: EntityRow[] } {
  const now = new Date().toISOString();
  const byKey = new Map(state.rows.map((r) => [`${r.kind}/${r.key}`, r]));
  const seen = new Set<string>();
  const created: EntityRow[] = [];
  const changed: EntityRow[] = [];
  const rows: EntityRow[] = [];
  for (const input of inputs) {
    const kind = KIND_BY_NAME.get(input.kind)!;
    const old = byKey.get(`${input.kind}/${input.key}`);
    const body = input.kind === 'credentials' ? storedCredential(input.body, old?.body) : input.body;
    if (old && (input.id === undefined || input.id === old.id)) {
      seen.add(`${old.kind}/${old.id}`);
      if (canonical(old.body) === canonical(body)) {
        rows.push(old);
        continue;
      }
      const row = { ...old, body, key: kind.key(body), version: old.version + 1, updated_at: now };
      changed.push(row);
      rows.push(row);
    } else {
      const row: EntityRow = { kind: input.kind, id: input.id ?? randomUUID(), key: input.key, version: 1, body, tags: [], created_at: now, updated_at: now };
      created.push(row);
      rows.push(row);
    }
  }
  const deleted = state.rows.filter((r) => !seen.has(`${r.kind}/${r.id}`));
  const writes: Write[] = [...deleted.map((r) => ({ op: 'delete' as const, kind: r.kind, id: r.id })), ...[...created, ...changed].map((row) => ({ op: 'put' as const, row }))];
  return { writes, rows, created, changed, deleted };
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** JSON with sorted keys: equal values, equal text. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
