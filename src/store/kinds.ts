// The kinds of entity the store keeps, in one table: where each lives in the config
// document, its natural key, and which other kinds it references. Everything else in
// src/store and src/admin (CRUD, cascade, rename, filters, OpenAPI, dump/apply) is driven
// by this table, so a new kind (plans came with the limits issue) is one row here.

export type KindName = 'upstreams' | 'targets' | 'services' | 'routes' | 'consumers' | 'credentials' | 'plugins' | 'plans';

export interface Kind {
  readonly name: KindName;
  readonly singular: string;
  /** The natural key, unique within the kind (what the file identifies an entity by). */
  key(body: Record<string, unknown>): string;
  /** Reference fields: field -> the kind whose key it names. A missing optional reference is allowed. */
  readonly refs: Readonly<Record<string, KindName>>;
  /** Fields of the config element that other kinds own (a body may not set them). */
  readonly owned: Readonly<Record<string, KindName>>;
  /** Body fields a list may filter on (besides `tag`). */
  readonly filters: readonly string[];
  /** Body fields that must be strings for the key to exist. */
  readonly required: readonly string[];
  /** The entity id is this config field's value (consumer and credential ids are sent upstream). */
  readonly idField?: 'id';
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export const KINDS: readonly Kind[] = [
  { name: 'upstreams', singular: 'upstream', key: (b) => str(b['name']), refs: {}, owned: { targets: 'targets' }, filters: ['name'], required: ['name'] },
  // A target is a URL or an SRV service (exactly one: the config's validation says so).
  { name: 'targets', singular: 'target', key: (b) => `${str(b['upstream'])} ${str(b['url'] ?? b['srv'])}`, refs: { upstream: 'upstreams' }, owned: {}, filters: ['upstream', 'url', 'srv'], required: ['upstream'] },
  { name: 'services', singular: 'service', key: (b) => str(b['name']), refs: { upstream: 'upstreams' }, owned: { routes: 'routes', plugins: 'plugins' }, filters: ['name', 'upstream'], required: ['name'] },
  { name: 'routes', singular: 'route', key: (b) => str(b['name']), refs: { service: 'services' }, owned: { plugins: 'plugins' }, filters: ['name', 'service'], required: ['service'] },
  { name: 'consumers', singular: 'consumer', key: (b) => str(b['username']), refs: { plan: 'plans' }, owned: { credentials: 'credentials' }, filters: ['username', 'plan'], required: ['username'], idField: 'id' },
  { name: 'credentials', singular: 'credential', key: (b) => str(b['id']), refs: { consumer: 'consumers' }, owned: {}, filters: ['consumer', 'type'], required: ['consumer', 'type'], idField: 'id' },
  {
    name: 'plugins',
    singular: 'plugin',
    key: (b) => `${typeof b['route'] === 'string' ? `route:${b['route']}` : typeof b['service'] === 'string' ? `service:${b['service']}` : 'global'}/${str(b['name'])}`,
    refs: { service: 'services', route: 'routes' },
    owned: {},
    filters: ['name', 'service', 'route', 'scope'],
    required: ['name'],
  },
  { name: 'plans', singular: 'plan', key: (b) => str(b['name']), refs: {}, owned: {}, filters: ['name'], required: ['name'] },
];

export const KIND_BY_NAME: ReadonlyMap<string, Kind> = new Map(KINDS.map((k) => [k.name, k]));

/** The config document's top-level sections that hold entities (the rest are node settings). */
export const ENTITY_SECTIONS = ['upstreams', 'services', 'consumers', 'plugins', 'plans'] as const;

export const CREDENTIAL_TYPES = ['key-auth', 'basic-auth', 'jwt'] as const;

/** Fields the API manages itself: never part of a body. */
export const META_FIELDS = ['version', 'created_at', 'updated_at', 'tags'] as const;

export function pluginScope(body: Record<string, unknown>): 'global' | 'service' | 'route' {
  return typeof body['route'] === 'string' ? 'route' : typeof body['service'] === 'string' ? 'service' : 'global';
}
