// The admin API's own OpenAPI 3.1 document, built from the route table (so every route is
// listed) and the kinds table; entity request bodies reuse the config file's schemas.
import { buildConfigSchema } from '../compiler/schema.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { KINDS, type Kind } from '../store/kinds.js';
import type { AdminRoute } from './routes.js';

const problem = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'request_id'],
  properties: {
    type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, request_id: { type: 'string' },
    problems: { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'object', required: ['path', 'message'], properties: { entity: { type: 'string' }, name: { type: 'string' }, path: { type: 'string' }, message: { type: 'string' } } }] } },
  },
};

function entitySchema(kind: Kind): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    id: { type: 'string' },
    version: { type: 'integer', minimum: 1 },
    tags: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  };
  for (const f of kind.required) properties[f] = { type: 'string' };
  for (const f of Object.keys(kind.refs)) properties[f] = { type: 'string', description: `the ${f}'s name` };
  if (kind.name === 'credentials') {
    properties['key_prefix'] = { type: 'string', description: 'the first characters of an API key' };
    properties['key_hash'] = { type: 'string', description: 'a short id derived from the key digest' };
    for (const secret of ['key', 'key_digest', 'password', 'password_hash', 'secret']) properties[secret] = { not: {}, description: 'write-only: never returned' };
  }
  return { type: 'object', required: ['id', 'version', 'tags', 'created_at', 'updated_at', ...kind.required], properties };
}

/** The config schema's element for a kind, with owned fields removed and references added: what a write accepts. */
export function inputSchema(kind: Kind, config: Record<string, any>): Record<string, unknown> {
  const p = config['properties'];
  const service = p.services.items;
  const element: Record<string, any> | undefined = {
    upstreams: p.upstreams.items,
    targets: p.upstreams.items.properties.targets.items,
    services: service,
    routes: service.properties.routes.items,
    consumers: p.consumers.items,
    credentials: undefined,
    plugins: undefined,
    plans: p.plans?.items,
  }[kind.name];
  const properties: Record<string, unknown> = { ...(element?.['properties'] ?? {}), tags: { type: 'array', items: { type: 'string' } } };
  for (const f of Object.keys(kind.owned)) delete properties[f];
  for (const f of Object.keys(kind.refs)) properties[f] = { type: 'string' };
  if (kind.name === 'plugins') Object.assign(properties, { name: { type: 'string' }, config: { type: 'object' } });
  if (kind.name === 'credentials') Object.assign(properties, { type: { enum: ['key-auth', 'basic-auth', 'jwt'] }, id: { type: 'string' } });
  return { type: 'object', properties, required: kind.required };
}

export function buildOpenApi(routes: readonly AdminRoute[], registry: PluginRegistry): Record<string, unknown> {
  const config = buildConfigSchema(registry.all()) as Record<string, any>;
  const schemas: Record<string, unknown> = {
    Problem: problem,
    Status: {
      type: 'object',
      required: ['node_id', 'mode', 'config_version', 'uptime_s', 'entities', 'peers'],
      properties: {
        node_id: { type: 'string' }, mode: { enum: ['file', 'database'] }, config_version: { type: 'integer' }, store_version: { type: 'integer' },
        store: { type: ['string', 'null'] }, uptime_s: { type: 'integer' }, entities: { type: 'object', additionalProperties: { type: 'integer' } },
        peers: { type: 'array', items: { type: 'object', required: ['id', 'seen_at', 'config_version'] } },
      },
    },
    ConfigResult: { type: 'object', required: ['dry_run', 'created', 'changed', 'deleted'], properties: { dry_run: { type: 'boolean' }, config_version: { type: 'integer' }, created: { type: 'array', items: { type: 'string' } }, changed: { type: 'array', items: { type: 'string' } }, deleted: { type: 'array', items: { type: 'string' } }, warnings: { type: 'array', items: { type: 'string' } } } },
  };
  for (const k of KINDS) {
    schemas[cap(k.singular)] = entitySchema(k);
    schemas[`${cap(k.singular)}Input`] = inputSchema(k, config);
    schemas[`${cap(k.singular)}List`] = { type: 'object', required: ['data', 'total', 'next'], properties: { data: { type: 'array', items: { $ref: `#/components/schemas/${cap(k.singular)}` } }, total: { type: 'integer' }, next: { type: ['string', 'null'] } } };
  }
  const paths: Record<string, Record<string, unknown>> = {};
  const problemRef = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
  for (const r of routes) {
    const name = r.kind ? cap(r.kind.singular) : '';
    const op: Record<string, unknown> = { summary: r.summary, operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').split('/').map(cap).join('')}` || 'root', responses: { '401': problemRef('missing or wrong bearer token') } };
    const responses = op['responses'] as Record<string, unknown>;
    responses['403'] = problemRef('host-not-allowed: the Host is not loopback nor in admin.allowed_hosts; cross-site-request: a write with another Origin or a cross-site Sec-Fetch-Site');
    if (r.method !== 'GET') responses['415'] = problemRef(`unsupported-media-type: a body that is not ${(r.accepts ?? ['application/json']).join(', ')}`);
    const parameters: unknown[] = [];
    if (r.path.includes('{id}')) parameters.push({ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'the id, or the natural key (name, username...)' });
    const json = (schema: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } });
    if (r.kind && r.method === 'GET' && !r.path.includes('{id}')) {
      for (const q of ['limit', 'cursor', 'offset', 'tag', ...r.kind.filters]) parameters.push({ name: q, in: 'query', required: false, schema: q === 'limit' || q === 'offset' ? { type: 'integer' } : { type: 'string' } });
      responses['200'] = { description: 'a page', ...json(`${name}List`) };
    } else if (r.kind && r.method === 'GET') {
      responses['200'] = { description: 'the entity; ETag carries its version', ...json(name) };
      responses['404'] = problemRef('no such entity');
    } else if (r.kind && r.method === 'DELETE') {
      parameters.push({ name: 'cascade', in: 'query', required: false, schema: { type: 'boolean' } }, { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } });
      responses['204'] = { description: 'deleted' };
      responses['409'] = problemRef('still referenced');
      responses['412'] = problemRef('If-Match names an older version');
    } else if (r.kind) {
      op['requestBody'] = { required: true, ...json(`${name}Input`) };
      if (r.method === 'PATCH') (op['requestBody'] as { content: Record<string, unknown> }).content['application/merge-patch+json'] = { schema: { $ref: `#/components/schemas/${name}Input` } };
      if (r.method !== 'POST') parameters.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } });
      responses[r.method === 'POST' ? '201' : '200'] = { description: 'the entity as stored', ...json(name) };
      responses['400'] = problemRef('invalid entity: problems with paths and the config file messages');
      responses['405'] = problemRef('mode: file: read-only');
      responses['409'] = problemRef('name taken');
      if (r.method !== 'POST') responses['412'] = problemRef('If-Match names an older version');
    } else if (r.path === '/status') {
      responses['200'] = { description: 'status', ...json('Status') };
    } else if (r.path === '/config') {
      op['requestBody'] = { required: true, content: { 'application/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { type: 'object' } } } };
      parameters.push({ name: 'dry_run', in: 'query', required: false, schema: { type: 'boolean' } });
      responses['200'] = { description: 'what was created, changed and deleted', ...json('ConfigResult') };
      responses['400'] = problemRef('invalid document: FILE:LINE:COL lines');
    } else {
      responses['200'] = { description: 'JSON', content: { 'application/json': { schema: { type: 'object' } } } };
    }
    if (parameters.length > 0) op['parameters'] = parameters;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Northgate admin API', version: '1', description: 'Entities of the gateway configuration; see docs/admin-api.md' },
    security: [{ bearer: [] }],
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
  };
}

const cap = (s: string): string => (s === '' ? '' : s[0]!.toUpperCase() + s.slice(1)).replace(/-./g, (m) => m[1]!.toUpperCase());
